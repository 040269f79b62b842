"""Image reading: microscope files to `Micrograph` objects, thumbnails and folder discovery.

No Qt and no torch here. Readers live one per format family (`tiff`, `gatan`, `velox`, `tia`,
`mrc`, `raster`); `registry` picks one by content; `safety` guards memory and time.
"""

import logging

from crystalview.io.discovery import ImageDiscovery, find_images
from crystalview.io.reader import open_image, open_images
from crystalview.io.registry import SUPPORTED_EXTENSIONS, is_supported_path
from crystalview.io.thumbnail import read_thumbnail

# rsciio warns (on stdout, in some set-ups) that numba is missing as soon as one of its readers
# that has a numba path is imported; with dask installed (crystalview[cluster]) more of them are.
# The pure-Python path is fine for images, and stdout must stay clean for --json and CSV.
logging.getLogger("rsciio.utils._decorator").setLevel(logging.ERROR)

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "ImageDiscovery",
    "find_images",
    "is_supported_path",
    "open_image",
    "open_images",
    "read_thumbnail",
]

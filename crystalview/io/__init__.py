"""Image reading: microscope files to `Micrograph` objects, thumbnails and folder discovery.

No Qt and no torch here. Readers live one per format family (`tiff`, `gatan`, `velox`, `tia`,
`mrc`, `raster`); `registry` picks one by content; `safety` guards memory and time.
"""

from crystalview.io.discovery import ImageDiscovery, find_images
from crystalview.io.reader import open_image, open_images
from crystalview.io.registry import SUPPORTED_EXTENSIONS, is_supported_path
from crystalview.io.thumbnail import read_thumbnail

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "ImageDiscovery",
    "find_images",
    "is_supported_path",
    "open_image",
    "open_images",
    "read_thumbnail",
]

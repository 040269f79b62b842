"""Running models on images: device choice, preprocessing, batched tiled prediction.

`predict.predict_micrograph` is the entry point; it is a generator yielding progress per batch.
"""

from crystalview.inference.device import configure_threads, select_device

__all__ = ["configure_threads", "select_device"]

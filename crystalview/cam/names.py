"""The heat-map methods: one torch-free table for the core, the CLI and the window.

The method names here are what the CLI accepts; the display names are what the dock's text, the
colour bar beside the image and the legend of an exported PNG say, so Grad-CAM is never labelled
"CAM".
"""

from __future__ import annotations

METHODS: tuple[str, ...] = ("auto", "cam", "gradcam", "gradcam++", "occlusion")
"""``auto`` picks exact CAM for average pooling + one linear layer, Grad-CAM otherwise."""

LAYER_METHODS: tuple[str, ...] = ("gradcam", "gradcam++")
"""The methods that explain one chosen layer (the others need no layer)."""

METHOD_NAMES: dict[str, str] = {
    "cam": "CAM",
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "occlusion": "Occlusion",
}


def method_name(method: str | None) -> str:
    """Display name of a resolved method (``"gradcam"`` -> ``"Grad-CAM"``)."""
    if method is None:
        return "CAM"
    return METHOD_NAMES.get(method, method)


def evidence_label(method: str | None) -> str:
    """The colour bar's title: what the colours measure, and by which method."""
    if method == "occlusion":
        return "score drop (Occlusion)"
    return f"class evidence ({method_name(method)})"

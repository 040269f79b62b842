"""What each explanation method is called on screen, in legends and in exported pictures.

One table (no torch here), so the dock's text, the colour bar beside the image and the legend
of an exported PNG name the method that made the map: Grad-CAM is never labelled "CAM".
"""

from __future__ import annotations

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

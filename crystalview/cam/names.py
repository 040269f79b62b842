"""The heat-map methods by name: one torch-free list for the core, the CLI and the window."""

from __future__ import annotations

METHODS: tuple[str, ...] = ("auto", "cam", "gradcam", "gradcam++", "occlusion")
"""``auto`` picks exact CAM for average pooling + one linear layer, Grad-CAM otherwise."""

LAYER_METHODS: tuple[str, ...] = ("gradcam", "gradcam++")
"""The methods that explain one chosen layer (the others need no layer)."""

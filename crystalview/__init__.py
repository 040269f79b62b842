"""CrystalView: display, classify and explain electron-microscopy images."""

__version__ = "0.1.0"

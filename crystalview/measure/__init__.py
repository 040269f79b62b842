"""Measuring on images in physical units: lengths, angles, profiles, FFTs, d-spacings, scales.

Plain numpy/scipy functions with no Qt and no torch, so the viewer's tools, the CLI and scripts
share one implementation:

- `geometry`: lengths and angles of segments in pixels and physical units;
- `profile`: intensity along a line, averaged over a width, and its CSV;
- `fft`: the windowed power spectrum (diffractogram) of a region with its 1/nm axis, spot
  refinement and |g|, d read-outs;
- `rings`: the azimuthal profile of a diffraction pattern about its beam centre and its peaks
  as d-spacings;
- `calibration`: a pixel size from a line of known length, stored per file in the user's data
  folder (never in the original file) and applied when an image is opened;
- `export`: the raw frame as a calibrated float32 ImageJ TIFF.

Coordinates are array coordinates ``(x, y)`` = (column, row) with pixel centres on integers.
"""

"""Kinematic electron-diffraction simulation (numpy/scipy only): crystals, rings, spots, camera.

Public entry points:

- `crystalview.sim.crystal`: `Lattice`, `Atom`, `Crystal`, `structure_factor`,
  `allowed_reflections`, `powder_rings`;
- `crystalview.sim.patterns`: `ring_signal`, `spot_signal`, `zone_spots` (noise-free signals);
- `crystalview.sim.camera`: `CameraSettings`, `expose` (detector counts);
- `crystalview.sim.generators`: `simulate_one`, `simulate_dataset`, `RING_CLASSES`,
  `SPOT_CLASSES` (labelled random patterns for the built-in models);
- `crystalview.sim.export`: `write_pattern_tiff`, `write_dataset` (calibrated TIFFs + labels.csv).
"""

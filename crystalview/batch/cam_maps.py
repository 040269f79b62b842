"""Heat maps of a batch run (``classify --cam-dir``), written where the file is classified.

The map of a file is computed right after its classification by the same process and with the
same loaded model: in this process for a serial run, on the worker for a Dask run, so a cluster
never ships images or maps back to the client, and each worker writes into the shared output
folder itself. Where each map goes is decided once, by the client, for the whole file list
(`plan_cam_places`), so the names (mirrored folders, ``-2`` for a name taken twice) are the
same whether the files are classified here, on two workers or on two hundred, and do not
depend on which batch finishes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crystalview.batch.output_names import MirroredNames


@dataclass(frozen=True)
class CamPlace:
    """Where one file's heat map goes: ``<folder>/<stem>_cam.tif`` and ``_cam.png``."""

    folder: str
    stem: str

    def outputs(self) -> list[Path]:
        folder = Path(self.folder)
        return [folder / f"{self.stem}_cam.tif", folder / f"{self.stem}_cam.png"]


def plan_cam_places(out_dir: Path, inputs: list[Path], files: list[Path]) -> dict[str, CamPlace]:
    """The place of every file's map, by path; ``files`` in their (sorted) run order.

    Plan over the whole file list, also the files a resumed run skips, so a rerun gives a file
    the name the first run gave it.
    """
    names = MirroredNames(Path(out_dir).resolve(), inputs)
    places = {}
    for path in files:
        folder, stem = names.place(path)
        places[str(path)] = CamPlace(str(folder), stem)
    return places


def existing_outputs(places: list[CamPlace]) -> list[Path]:
    """The map files of ``places`` an earlier run left (they will be replaced)."""
    return [p for place in places for p in place.outputs() if p.exists()]


def write_cam(loaded, settings, path: Path, label: str, place: CamPlace) -> None:
    """Compute and write the heat map of ``label`` for the image at ``path``.

    An image over the memory budget that classification read by region gets its map the same
    way (`write_region_cam`), downsampled; any other is opened whole.
    Raises `CrystalViewError`, `OSError` or `ValueError` when the map cannot be made or written.
    """
    from crystalview.core.memory import memory_budget_bytes
    from crystalview.core.progress import run_to_completion
    from crystalview.inference.regions import needs_regions
    from crystalview.io import open_image
    from crystalview.measure.calibration import apply_stored_scale

    compute_cam, write_cam_outputs = _cam_functions()
    large = needs_regions(Path(path), memory_budget_bytes())
    if large is not None:
        write_region_cam(loaded, settings, large, label, place)
        return
    micrograph = open_image(path)
    apply_stored_scale(micrograph)  # the same pixel size the classification used
    cam = run_to_completion(compute_cam(loaded, micrograph, target=label, settings=settings))
    write_cam_outputs(
        Path(place.folder), place.stem, micrograph.image, cam.heatmap, micrograph, method=cam.method
    )


def write_region_cam(loaded, settings, image, label: str, place: CamPlace) -> None:
    """The downsampled map of a `RegionImage` over the memory budget, and its overlay drawn on
    the same every-n-th-pixel picture (the image is never held whole)."""
    from crystalview.cam.regions import compute_region_cam, map_step
    from crystalview.core.memory import memory_budget_bytes
    from crystalview.core.progress import run_to_completion
    from crystalview.io.reduced import read_reduced

    _compute, write_cam_outputs = _cam_functions()
    step = map_step(image.shape, memory_budget_bytes())
    cam = run_to_completion(compute_region_cam(loaded, image, label, step, settings=settings))
    picture = read_reduced(image, step)
    write_cam_outputs(
        Path(place.folder),
        place.stem,
        picture.image,
        cam.heatmap,
        picture,
        method=cam.method,
        downsampled=step,
        file_shape=image.shape,
    )


def _cam_functions():
    """``(compute_cam, write_cam_outputs)``, or a clear error where torch is missing."""
    from crystalview.core.errors import CrystalViewError

    try:
        from crystalview.cam import compute_cam
        from crystalview.cam.export import write_cam_outputs
    except ImportError as error:
        raise CrystalViewError(f"class-activation maps are not available ({error})") from error
    return compute_cam, write_cam_outputs

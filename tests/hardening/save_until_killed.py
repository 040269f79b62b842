"""Fork writers that save a model bundle and a label project over and over; kill them; check.

Usage: ``python save_until_killed.py FOLDER ROUNDS``. For each round a forked child saves
version after version (the bundle's weights are all equal to ``version / 1000`` and its manifest
is named ``v<version>``; the label project gets one more image labelled per version). The parent
SIGKILLs it after a random few milliseconds, then loads both files: each must be a complete
version, old or new, and no label saved before may be lost. Prints one JSON object: the
versions seen after each kill and any problem. Forking avoids paying torch's import per kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path

import torch

from crystalview.core.labels import LabelProject
from crystalview.models.bundle import load_bundle, save_bundle
from crystalview.models.manifest import ModelManifest
from crystalview.models.registry import build_model

IMAGES = [Path(f"/nonexistent/image_{index:04d}.tif") for index in range(10_000)]


def _write_forever(folder: Path, start: int) -> None:
    torch.manual_seed(0)
    model = build_model("diffraction_cnn", 2)
    project = LabelProject.open(folder / "labels.cvlabels")
    for version in range(start, start + 100_000):
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(version / 1000)
        manifest = ModelManifest(
            architecture="diffraction_cnn", classes=["a", "b"], input_size=32, name=f"v{version}"
        )
        save_bundle(folder / "model.cvmodel", model, manifest)
        project.set_label(IMAGES[version % len(IMAGES)], "a")


def _check(folder: Path) -> tuple[int, set[Path], str | None]:
    """(bundle version, labelled images, problem) of the files the writer left."""
    try:
        loaded = load_bundle(folder / "model.cvmodel")
        version = int(loaded.manifest.name[1:])
        values = torch.cat([p.detach().flatten() for p in loaded.model.parameters()])
        if not torch.allclose(values, torch.full_like(values, version / 1000)):
            return version, set(), "bundle weights do not match its manifest"
        labelled = set(LabelProject.open(folder / "labels.cvlabels").labels)
        if not labelled <= set(IMAGES[1 : version + 1]):
            return version, labelled, "label project holds labels that were never written"
    except Exception as error:
        return -1, set(), f"{type(error).__name__}: {error}"
    return version, labelled, None


def main() -> int:
    folder, rounds = Path(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(1)
    rng = random.Random(8)
    model = build_model("diffraction_cnn", 2)
    save_bundle(
        folder / "model.cvmodel",
        model,
        ModelManifest(architecture="diffraction_cnn", classes=["a", "b"], input_size=32, name="v0"),
    )
    LabelProject.create(folder / "labels.cvlabels", classes=["a", "b"])
    seen, problems = [], []
    version, labelled = 0, set()
    for _ in range(rounds):
        pid = os.fork()
        if pid == 0:  # the writer: never returns to the caller's code
            try:
                _write_forever(folder, version + 1)
            finally:
                os._exit(0)
        # Wait for the writer's first complete save, so every round makes progress even on a
        # busy machine, then kill it at a random moment of its later saves.
        deadline = time.monotonic() + 30
        while _check(folder)[0] <= version and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.01, 0.2))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        before = labelled
        version, labelled, problem = _check(folder)
        seen.append([version, len(labelled)])
        if problem:
            problems.append(problem)
        elif not before <= labelled:
            problems.append(f"labels were lost: {len(before - labelled)} of {len(before)}")
    leftovers = sorted(p.name for p in folder.iterdir())
    print(json.dumps({"seen": seen, "problems": problems, "files": leftovers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

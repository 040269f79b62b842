"""Long, by-hand fuzzing of the model-bundle loader: mutated bundles load or raise ModelBundleError.

Run: ``nice .venv/bin/python benchmarks/fuzz_bundles.py --minutes 10 [--out DIR] [--seed N]``.

Seeds are tiny valid ``.cvmodel`` files (the diffraction CNN, stored and deflated, with and
without a model card). Each mutated file goes through `read_manifest` (what the model list does)
and `load_bundle`. Any exception other than `ModelBundleError`, a worker that dies, or a
loaded model with non-finite outputs is written to ``DIR/findings`` (see ``fuzz_readers.py``,
whose supervisor and mutator this script reuses).
"""

from __future__ import annotations

import io
import json
import random
import sys
import tempfile
import zipfile
from pathlib import Path

from fuzz_readers import Seed, parse_args, supervise, worker_loop


def bundle_seeds() -> list[Seed]:
    """Valid bundles in the layouts a user may meet (our writer's, and re-zipped by hand)."""
    import torch

    from crystalview.models.bundle import save_bundle
    from crystalview.models.manifest import ModelManifest
    from crystalview.models.registry import build_model

    torch.manual_seed(0)
    model = build_model("diffraction_cnn", 3)
    manifest = ModelManifest(
        architecture="diffraction_cnn", classes=["a", "b", "c"], input_size=32, name="seed"
    )
    seeds: list[Seed] = []
    with tempfile.TemporaryDirectory() as folder:
        for card in (None, "# Seed model\ntrained on nothing"):
            path = save_bundle(Path(folder) / "seed.cvmodel", model, manifest, card)
            content = path.read_bytes()
            seeds.append((".cvmodel", content))
            seeds.append((".cvmodel", _rezipped(content, zipfile.ZIP_DEFLATED)))
    return seeds


def _rezipped(content: bytes, method: int) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for info in source.infolist():
            archive.writestr(info.filename, source.read(info))
    return buffer.getvalue()


def load_everything(path: Path) -> None:
    """List the model (manifest only), load it, and run it once on a blank input."""
    import torch

    from crystalview.models.bundle import load_bundle
    from crystalview.models.bundle_format import read_manifest

    read_manifest(path)
    loaded = load_bundle(path)
    size = loaded.manifest.input_size
    with torch.inference_mode():
        logits = loaded.model(torch.zeros(1, loaded.manifest.in_channels, size, size))
    if not bool(torch.isfinite(logits).all()):
        raise AssertionError("a loaded model gives non-finite outputs")


def main() -> int:
    args = parse_args("Fuzz the .cvmodel loader for a while; print a JSON summary.")
    out = args.out or Path(tempfile.mkdtemp(prefix="fuzz-bundles-"))
    if args.worker:
        import torch

        from crystalview.core.errors import ModelBundleError

        torch.set_num_threads(1)
        summary = worker_loop(
            bundle_seeds(),
            load_everything,
            (ModelBundleError,),
            (),
            args.until,
            out,
            random.Random(args.seed),
        )
    else:
        summary = {"out": str(out), **supervise(Path(__file__), args.minutes, out, args.seed)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

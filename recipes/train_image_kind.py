"""Train the image-kind detector (`crystalview.inference.kind_net`) and pick its thresholds.

    nice .venv/bin/python recipes/train_image_kind.py --cache /tmp/kind-cache

Three classes: ring patterns and spot patterns of `crystalview.sim` (both regimes, several
sizes; a quarter of the films made of few coarse grains, a fifth of the spot patterns on a
strong amorphous film) and the look-alikes of ``recipes/lookalikes.py``; a sixth of every class
carries a burnt-in scale bar. Every image goes through the product's own `stretched_copy` and
`network_input`, so training sees exactly what inference sees. The thresholds come from a
validation draw of another seed: the probability of "not a pattern" above which an image is
flagged is the larger of `OTHER_FLOOR` and the 99.5th percentile over the validation patterns,
and likewise (floor `KIND_FLOOR`) the spot (ring) probability above which a ring (spot)
pattern is called the other kind. The weights and thresholds go to
``crystalview/inference/image_kind_net.safetensors``. Held-out checks (the test suite's
wrong-kind images, the independent simulator, the real files of ../shared/data) are run by
``benchmarks/image_kind/check_detector.py`` and ``status_check.py``, never here.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lookalikes

from crystalview.inference.image_kind import stretched_copy
from crystalview.inference.kind_net import (
    CLASSES,
    INPUT_SIDE,
    WEIGHTS_PATH,
    ImageKindNet,
    input_centre,
    network_input,
)
from crystalview.sim.generators import simulate_one

TRAIN_SEED = 31
VALIDATION_SEED = 32
RING_SIZES = (256, 320)
SPOT_SIZES = (128, 192, 256)
OTHER_SIZES = (128, 192, 256)
ANNOTATED_SHARE = 1 / 6
# Shares of ring patterns from few coarse grains (rings broken into spots, beyond the
# simulator's own draw) and of spot patterns on a strong amorphous film (a halo ring).
COARSE_SHARE = 0.25
FILM_SHARE = 0.2
FLAG_QUANTILE = 99.5
# Floors of the thresholds. Our own validation patterns alone put them too low: 7.8 % of the
# independent simulator's spot patterns were then flagged (its development draw, seed 778,
# where these floors were chosen so that fewer than 2 % of its ring and of its spot patterns
# are flagged; the reported draw, seed 777, played no part).
OTHER_FLOOR = 0.7
KIND_FLOOR = 0.85


def _draw(job: tuple[int, int, int]) -> tuple[int, np.ndarray | None]:
    """One prepared image of class ``job[0]`` (an index of `CLASSES`); None when blank."""
    label, index, seed = job
    rng = np.random.default_rng([seed, label, index])
    regime = "heldout" if index % 4 == 0 else "train"
    if CLASSES[label] == "rings":
        coarse = None
        if rng.uniform() < COARSE_SHARE:
            coarse = {"spottiness": rng.uniform(0.6, 1.0), "grains": int(rng.integers(15, 150))}
        size = RING_SIZES[index % 2]
        image = simulate_one("rings", index, size, seed, regime, ring_overrides=coarse).image
    elif CLASSES[label] == "spots":
        film = {"amorphous": rng.uniform(0.3, 1.0)} if rng.uniform() < FILM_SHARE else None
        size = SPOT_SIZES[index % 3]
        image = simulate_one("spots", index, size, seed, regime, camera_overrides=film).image
    else:
        image = lookalikes.draw(rng, int(rng.choice(OTHER_SIZES)))[1]
    if rng.uniform() < ANNOTATED_SHARE:
        image = lookalikes.annotate(rng, image)
    stretched = stretched_copy(image)
    return label, None if stretched is None else network_input(stretched).astype(np.float16)


def _centres(x: np.ndarray) -> np.ndarray:
    return np.array([input_centre(image.astype(np.float32)) for image in x], dtype=np.float32)


def prepare(
    seed: int, per_class: int, cache: Path, workers: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images, beam centres and labels of ``per_class`` draws of every class (cached as .npz,
    no pickles)."""
    path = cache / f"kind-seed{seed}-n{per_class}.npz"
    if path.is_file():
        arrays = np.load(path, allow_pickle=False)
        return arrays["x"], arrays["c"], arrays["y"]
    jobs = [(label, i, seed) for i in range(per_class) for label in range(len(CLASSES))]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        drawn = pool.map(_draw, jobs, chunksize=16)
    kept = [(label, x) for label, x in drawn if x is not None]
    x = np.stack([image for _, image in kept])
    y = np.array([label for label, _ in kept], dtype=np.int64)
    c = _centres(x)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, x=x, c=c, y=y)
    return x, c, y


def augment(
    batch: torch.Tensor, centre: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotations by 90 degrees and flips, gamma, off-centre crops, noise and blur; the beam
    centres move with the image."""
    n, last = batch.shape[0], INPUT_SIDE - 1
    out, centre = batch, centre.clone()
    for _ in range(int(torch.randint(4, (1,), generator=generator))):
        out = torch.rot90(out, 1, dims=(2, 3))  # (y, x) -> (last - x, y)
        centre = torch.stack([last - centre[:, 1], centre[:, 0]], dim=1)
    if torch.rand(1, generator=generator) < 0.5:
        out = out.flip(3)
        centre[:, 1] = last - centre[:, 1]
    gamma = torch.exp(torch.empty(n, 1, 1, 1).uniform_(-0.5, 0.5, generator=generator))
    out = out.clamp(0, 1) ** gamma
    if torch.rand(1, generator=generator) < 0.3:
        side = int(INPUT_SIDE * float(torch.empty(1).uniform_(0.7, 0.95, generator=generator)))
        y0, x0 = (
            int(v) for v in torch.randint(0, INPUT_SIDE - side + 1, (2,), generator=generator)
        )
        crop = out[:, :, y0 : y0 + side, x0 : x0 + side]
        out = torch.nn.functional.interpolate(crop, size=(INPUT_SIDE, INPUT_SIDE), mode="bilinear")
        scale = INPUT_SIDE / side
        centre = (centre - torch.tensor([y0, x0]) + 0.5) * scale - 0.5
    if torch.rand(1, generator=generator) < 0.3:
        sigma = torch.empty(n, 1, 1, 1).uniform_(0, 0.05, generator=generator)
        out = out + sigma * torch.randn(out.shape, generator=generator)
    if torch.rand(1, generator=generator) < 0.2:
        out = torch.nn.functional.avg_pool2d(out, 3, stride=1, padding=1, count_include_pad=False)
    return out, centre


def train(
    x: np.ndarray, c: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, seed: int
) -> ImageKindNet:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    net = ImageKindNet()
    optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=3e-3, total_steps=steps)
    images = torch.from_numpy(x)
    centres = torch.from_numpy(c)
    labels = torch.from_numpy(y)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(x), generator=generator)
        total, right, started = 0.0, 0, time.time()
        for start in range(0, len(x) - batch_size + 1, batch_size):
            chosen = order[start : start + batch_size]
            batch, centre = augment(images[chosen].float()[:, None], centres[chosen], generator)
            logits = net(batch, centre)
            loss = torch.nn.functional.cross_entropy(logits, labels[chosen], label_smoothing=0.02)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += float(loss.detach()) * len(chosen)
            right += int((logits.argmax(1) == labels[chosen]).sum())
        print(
            f"epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, "
            f"train accuracy {right / len(x):.4f} ({time.time() - started:.0f} s)",
            file=sys.stderr,
        )
    net.eval()
    return net


def probabilities(net: ImageKindNet, x: np.ndarray, c: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        chunks = [
            torch.softmax(
                net(
                    torch.from_numpy(x[i : i + 256]).float()[:, None],
                    torch.from_numpy(c[i : i + 256]),
                ),
                1,
            )
            for i in range(0, len(x), 256)
        ]
    return torch.cat(chunks).numpy()


def thresholds(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The flag thresholds of the module docstring, from validation probabilities."""
    rings, spots = CLASSES.index("rings"), CLASSES.index("spots")
    other = CLASSES.index("other")
    patterns = y != other
    return {
        "other_above": max(OTHER_FLOOR, float(np.percentile(p[patterns, other], FLAG_QUANTILE))),
        "spots_above": max(KIND_FLOOR, float(np.percentile(p[y == rings, spots], FLAG_QUANTILE))),
        "rings_above": max(KIND_FLOOR, float(np.percentile(p[y == spots, rings], FLAG_QUANTILE))),
    }


def report(p: np.ndarray, y: np.ndarray, limits: dict[str, float]) -> None:
    other, rings, spots = (CLASSES.index(c) for c in ("other", "rings", "spots"))
    for name, index in zip(CLASSES, range(len(CLASSES)), strict=True):
        chosen = y == index
        print(
            f"validation {name:6s} n={int(chosen.sum()):5d}: flagged not a pattern "
            f"{np.mean(p[chosen, other] > limits['other_above']):.3f}, called spots "
            f"{np.mean(p[chosen, spots] > limits['spots_above']):.3f}, called rings "
            f"{np.mean(p[chosen, rings] > limits['rings_above']):.3f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="folder for the prepared images")
    parser.add_argument("--per-class", type=int, default=8000)
    parser.add_argument("--validation-per-class", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=WEIGHTS_PATH)
    args = parser.parse_args()
    started = time.time()
    x, c, y = prepare(TRAIN_SEED, args.per_class, args.cache, args.workers)
    xv, cv, yv = prepare(VALIDATION_SEED, args.validation_per_class, args.cache, args.workers)
    print(f"prepared {len(x)} + {len(xv)} images in {time.time() - started:.0f} s", file=sys.stderr)
    net = train(x, c, y, args.epochs, args.batch_size, TRAIN_SEED)
    pv = probabilities(net, xv, cv)
    limits = thresholds(pv, yv)
    report(pv, yv, limits)
    metadata = {key: f"{value:.6f}" for key, value in limits.items()}
    metadata["recipe"] = (
        f"recipes/train_image_kind.py --per-class {args.per_class} --epochs {args.epochs}"
    )
    state = {name: t.detach().contiguous() for name, t in net.state_dict().items()}
    save_file(state, str(args.out), metadata=metadata)
    print(f"wrote {args.out} with {metadata}; {time.time() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

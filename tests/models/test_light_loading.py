"""Loading a small CNN's bundle does not import torchvision (seconds spent on every load).

``crystalview models import`` took 6.8 s, most of it torchvision's package import, which pulls in
every torchvision model and torch's compiler; only ResNets need it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def test_small_models_load_without_torchvision(tmp_path):
    code = (
        "import sys\n"
        "from crystalview.models.catalog import load_model\n"
        f"load_model({str(REPO / 'models' / 'saed-zone-lattice.cvmodel')!r})\n"
        "print('torchvision' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_resnets_still_build():
    from crystalview.models.registry import build_model

    model = build_model("resnet18", num_classes=3)
    assert model.fc.out_features == 3

"""The hostile model-file corpus: every case is refused with a clear `ModelBundleError`.

Each file goes through the three doors a model can come in by: `load_bundle`, `import_model`
(the GUI's "Import model…") and ``crystalview models import``. None may run code from the file
(the pickle payloads would create a marker folder), copy anything into the user's models, or
end in anything but a one-line message.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from corpus_models import MARKER_NAME, MODEL_CASES, valid_bundle

from crystalview import paths
from crystalview.cli import main as cli_main
from crystalview.core.errors import ModelBundleError
from crystalview.models.bundle import load_bundle
from crystalview.models.catalog import import_model

REPO = Path(__file__).resolve().parent.parent.parent


def _user_models() -> set[str]:
    folder = paths.user_models_dir()
    return set(os.listdir(folder)) if folder.is_dir() else set()


def test_corpus_is_big_enough():
    assert len(MODEL_CASES) >= 15


def test_a_valid_bundle_passes_all_three_doors(tmp_path, capsys):
    """The control: the doors are open for a good file, so the refusals below mean something."""
    path = valid_bundle(tmp_path / "good.cvmodel")
    assert load_bundle(path).manifest.classes
    entry = import_model(path)
    assert entry.path.is_file()
    assert cli_main(["models", "import", str(path)]) == 0
    entry.path.unlink()


def test_the_pickle_payloads_are_live(tmp_path):
    """The control: unpickling the corpus's payload file does run code, so its absence counts."""
    import pickle

    case = next(case for case in MODEL_CASES if case.name == "pickle-payload.pt")
    pickle.loads(case.build(tmp_path).read_bytes())  # the very thing the app must never do
    assert (tmp_path / MARKER_NAME).is_dir()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", MODEL_CASES, ids=lambda case: case.name)
def test_model_case_is_refused(case, tmp_path, capsys):
    path = case.build(tmp_path)
    before = _user_models()
    with pytest.raises(ModelBundleError) as loaded:
        load_bundle(path)
    message = str(loaded.value)
    assert path.name in message and "\n" not in message.strip(), message
    with pytest.raises(ModelBundleError):
        import_model(path)
    capsys.readouterr()
    assert cli_main(["models", "import", str(path)]) == 1
    stderr = capsys.readouterr().err.strip()
    assert stderr.startswith("crystalview: ") and "\n" not in stderr, stderr
    assert "Traceback" not in stderr
    assert _user_models() == before  # nothing was copied
    assert not (tmp_path / MARKER_NAME).exists(), "the file's pickle payload ran"


@pytest.mark.timeout(120)
def test_pickle_payload_never_runs_in_a_real_process(tmp_path):
    """``crystalview models import`` as a user runs it: exit 1, one line, payload inert."""
    case = next(case for case in MODEL_CASES if case.name == "torch-save-payload-renamed.cvmodel")
    path = case.build(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "crystalview", "models", "import", str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), "CRYSTALVIEW_HOME": str(tmp_path)},
        timeout=100,
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / MARKER_NAME).exists()

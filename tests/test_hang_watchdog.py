"""The suite's watchdog ends a test that hangs holding the interpreter lock (tests/conftest.py).

Such a hang stopped a CI run for its whole 90 minutes with no word of where: pytest-timeout's
thread could not run. The check runs a tiny suite under our conftest whose only test holds the
lock in a regular expression that backtracks for hours.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def test_a_hang_holding_the_interpreter_lock_is_ended_with_every_stack(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_stuck.py").write_text(
        "import re\n\n\ndef test_stuck_in_c():\n    re.match(r'(a+)+$', 'a' * 60 + 'b')\n"
    )
    env = dict(os.environ, CRYSTALVIEW_TEST_WATCHDOG_S="2")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "Timeout (0:00:02)!" in run.stderr
    assert "test_stuck_in_c" in run.stderr  # the stuck test's own frame is printed

"""Build the one-folder app with PyInstaller and report its size.

Usage (from the repository root, in the environment whose packages should be bundled)::

    pip install pyinstaller
    python packaging/build.py              # full app (torch as installed here)
    python packaging/build.py --viewer     # viewer only, without torch

The result is ``dist/CrystalView/`` with the executable ``CrystalView`` (``CrystalView.exe`` on
Windows). ``--smoke`` starts the built app offscreen with ``--demo`` for a few seconds and
fails if it exits early, and for full builds also runs ``models list`` (which imports torch and
torchvision), so a broken bundle is caught before it is shipped.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def smoke_test(executable: Path, seconds: float = 15.0) -> bool:
    """True if the app is still running ``seconds`` after start (no import error, no crash)."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    process = subprocess.Popen([str(executable), "--demo"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            print(process.stderr.read().decode(errors="replace")[-3000:], file=sys.stderr)
            return False
        time.sleep(0.5)
    process.terminate()
    process.wait(10)
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewer", action="store_true", help="leave torch out")
    parser.add_argument("--smoke", action="store_true", help="start the built app once")
    args = parser.parse_args()
    env = dict(os.environ, CRYSTALVIEW_VARIANT="viewer" if args.viewer else "full")
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--clean",
        "--distpath",
        str(ROOT / "dist"),
        "--workpath",
        str(ROOT / "build" / "pyinstaller"),
        str(ROOT / "packaging" / "crystalview.spec"),
    ]
    started = time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    app = ROOT / "dist" / "CrystalView"
    size_mb = folder_size(app) / 1024**2
    print(f"build_s: {time.monotonic() - started:.0f}")
    print(f"size_mb: {size_mb:.0f}")
    if args.smoke:
        name = "CrystalView.exe" if sys.platform.startswith("win") else "CrystalView"
        ok = smoke_test(app / name)
        print(f"starts: {'yes' if ok else 'NO'}")
        if not args.viewer:  # the model stack (torch, torchvision operators) must import too
            models = subprocess.run([str(app / name), "models", "list"], capture_output=True)
            print(f"models_list_rc: {models.returncode}")
            ok = ok and models.returncode == 0
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

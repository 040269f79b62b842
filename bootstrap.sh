#!/usr/bin/env bash
# Set up CrystalView in ./.venv (once; re-runs are quick), then run what was asked:
#   bash bootstrap.sh run [ARGS...]   launch the app (default: --demo)
#   bash bootstrap.sh test [ARGS...]  check the style (ruff check, ruff format --check), then run
#                                     the test suite with pytest (ARGS go to pytest)
#   bash bootstrap.sh setup           only set up
# torch and torchvision are pinned here (not in pyproject.toml, which stays open for users).
set -euo pipefail
cd "$(dirname "$0")"

TORCH_PINS=(torch==2.14.1 torchvision==0.29.1)
VENV=.venv
PY=${PYTHON:-}
if [[ -z $PY ]]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      PY=$candidate
      break
    fi
  done
fi
[[ -n $PY ]] || { echo "bootstrap: Python >= 3.11 is needed" >&2; exit 1; }

# Qt needs a few system libraries even offscreen; install them on Debian/Ubuntu if missing.
ensure_qt_system_libs() {
  "$VENV/bin/python" -c 'from PySide6 import QtGui' 2>/dev/null && return 0
  if command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
    echo "bootstrap: installing the system libraries Qt needs" >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libxkbcommon0 \
      libfontconfig1 libdbus-1-3 libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 \
      libxcb-keysyms1 libxcb-shape0 libxcb-render-util0 libxcb-image0 >&2
  else
    echo "bootstrap: Qt cannot load; install libegl1 libgl1 libxkbcommon0 libfontconfig1" >&2
  fi
}

stamp=$VENV/.crystalview-setup
want=$(cat pyproject.toml bootstrap.sh | sha256sum | cut -c1-16)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q "${TORCH_PINS[@]}" -e '.[test,pretrained,cluster,validation]' >&2
  ensure_qt_system_libs
  echo "$want" >"$stamp"
fi

action=${1:-setup}
shift || true
case $action in
  run)
    if [[ $# -eq 0 ]]; then set -- --demo; fi
    exec "$VENV/bin/crystalview" "$@"
    ;;
  test)
    "$VENV/bin/ruff" check .
    "$VENV/bin/ruff" format --check .
    exec "$VENV/bin/python" -m pytest "$@"
    ;;
  setup) ;;
  *)
    echo "usage: bash bootstrap.sh [setup|run|test] [ARGS...]" >&2
    exit 2
    ;;
esac

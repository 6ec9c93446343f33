#!/usr/bin/env bash
# Create (or refresh) the project's virtualenv in .venv and install distenv with its extras.
# Idempotent: a stamp of pyproject.toml skips the install when nothing changed.
# Usage: scripts/bootstrap.sh [EXTRAS]   (default extras: all,test)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-all,test}"
venv="${DISTENV_VENV:-.venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    echo "[bootstrap] creating virtualenv $venv with $($python --version)"
    "$python" -m venv "$venv"
fi
stamp="$venv/.distenv-stamp"
want="$(sha1sum pyproject.toml | cut -d' ' -f1)-$extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "[bootstrap] installing distenv[$extras] (a first install takes about a minute)"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -e ".[$extras]"
    echo "$want" > "$stamp"
fi

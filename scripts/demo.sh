#!/usr/bin/env bash
# The README's first command: install distenv and run a real example sweep (local processes, one HDF5 file).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh all
exec .venv/bin/python examples/lorenz_sweep.py "$@"

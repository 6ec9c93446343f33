#!/usr/bin/env bash
# The README's second command: set everything up and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh all,test
exec .venv/bin/python -m pytest "$@"

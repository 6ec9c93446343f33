#!/usr/bin/env bash
# Create (idempotently) the separate virtualenv benchmarks/.pypet-venv with pypet 0.6.1,
# the reference that distenv's benchmarks are compared against.
#
# pypet 0.6.1 only imports with numpy 1.x, so the versions below are pinned together.
# A stamp file records the pinned set; a venv with a matching stamp is left untouched.
# Works on a fresh Debian machine as root with only PyPI reachable: if there is no Python
# 3.11, or it cannot create a venv (no ensurepip), Debian's python3.11 / python3.11-venv are
# installed with apt-get first. A half-made venv (no pip) is recreated.
#
# Usage: bash benchmarks/pypet_venv.sh        (prints the venv's python path as its last line)
# Env:   PYPET_VENV   where to create the venv  (default: benchmarks/.pypet-venv)
#        PYTHON       the Python 3.11 to use    (default: python3.11, else python3 if it is 3.11)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PYPET_VENV:-$here/.pypet-venv}"
pins="pypet==0.6.1 numpy==1.26.4 pandas==2.2.3 tables==3.9.2"
log() { echo "[pypet-venv] $*" >&2; }

apt_install() {  # Debian packages, as root only
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian's $*"
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
    else
        return 1
    fi
}

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

stamp="$venv/.pypet-stamp"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ]; then
    echo "$venv/bin/python"
    exit 0
fi

if ! python="$(find_python)"; then
    apt_install python3.11 python3.11-venv || true
    python="$(find_python)" || { log "error: Python 3.11 is required (set PYTHON=...)"; exit 1; }
fi

if [ -x "$venv/bin/python" ] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    log "removing the half-made $venv"
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv with $("$python" --version 2>&1)"
    if ! "$python" -m venv "$venv" >&2; then
        # Debian's Python lacks ensurepip until python3.11-venv is installed.
        rm -rf "$venv"
        apt_install python3.11-venv || apt_install python3-venv ||
            { log "error: $python cannot create a venv (install python3.11-venv)"; exit 1; }
        "$python" -m venv "$venv"
    fi
fi
log "installing $pins (first time: about a minute)"
"$venv/bin/python" -m pip install --quiet --upgrade pip >&2
# shellcheck disable=SC2086  # $pins is a list of requirement specifiers
"$venv/bin/python" -m pip install --quiet $pins >&2
"$venv/bin/python" -c 'import pypet, numpy, tables; assert pypet.__version__ == "0.6.1"' >&2
echo "$pins" > "$stamp"
echo "$venv/bin/python"

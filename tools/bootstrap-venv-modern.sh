#!/usr/bin/env bash
# Create (or repair) .venv-modern: the newest CPython found here (3.13, else 3.12, else
# 3.11) with numpy 2 and the torch of tools/constraints-modern.txt, loihi-snn editable
# with its test extra and the NIR exchange packages, and no Lava: the Lava-free part of
# the suite runs there (`pytest -m "not lava"`, from `make test`).  Lava and lava-dl need
# Python 3.10 (tools/bootstrap-venv.sh, .venv).  Called by the Makefile only when
# .venv-modern is missing, was made by a Python older than 3.11, or pyproject.toml,
# this script or the constraints changed since the last install.
#
# torch: PyPI's Linux wheels are CUDA builds (about 3.5 GB with the NVIDIA libraries they
# need; the tests run on the CPU).  Where PyTorch's CPU wheel index is reachable, set
# TORCH_INDEX_URL to it for a CPU build of the same version (about 0.2 GB).
set -euo pipefail
VENV=${VENV:-.venv-modern}
HERE=$(cd "$(dirname "$0")" && pwd)
CONSTRAINTS="$HERE/constraints-modern.txt"

find_modern() {
    local v c
    for v in 3.13 3.12 3.11; do
        for c in "$HOME"/.pyenv/versions/$v.*/bin/python$v "$(command -v python$v 2>/dev/null || true)"; do
            [ -n "$c" ] && [ -x "$c" ] || continue
            if "$c" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$v' else 1)" 2>/dev/null; then
                echo "$c"; return 0
            fi
        done
    done
    return 1
}

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' 2>/dev/null; then
    echo "bootstrap-modern: $VENV was made with Python < 3.11; recreating it" >&2
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! PY=$(find_modern); then
        echo "error: no Python 3.13, 3.12 or 3.11 found (~/.pyenv/versions/3.1x.* or python3.1x on PATH)." >&2
        echo "       The Lava-free tests need one; install it (e.g. 'pyenv install 3.13'), then run make again." >&2
        exit 1
    fi
    echo "bootstrap-modern: creating $VENV with $PY"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# our pins replace any machine-wide constraint file (one may cap torch below ours)
export PIP_CONSTRAINT="$CONSTRAINTS"
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$VENV/bin/python" -m pip install -q torch --index-url "$TORCH_INDEX_URL"
fi
# The NIR exchange packages with --no-deps: norse asks for torchvision, whose releases
# pin a torch of their own (and the tests never import it); their other requirements
# (numpy, h5py, torch) are the core's.
"$VENV/bin/python" -m pip install -q --no-deps nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 norse==1.1.0
echo "bootstrap-modern: installing loihi-snn (editable, test extra) into $VENV; the first time downloads torch (a few minutes)"
"$VENV/bin/python" -m pip install -q -e ".[test]" 2> >(grep -v "is ignored: it is neither a file nor a directory\|norse .* requires torchvision\|dependency resolver does not currently" >&2)
"$VENV/bin/python" - <<'PY'
import sys, numpy, torch
print(f"bootstrap-modern: Python {sys.version.split()[0]}, numpy {numpy.__version__}, "
      f"torch {torch.__version__}")
PY

#!/usr/bin/env bash
# Create (or repair) .venv with Python 3.10 and install loihi-snn editable with its dev and
# lava extras (Lava and lava-dl need Python 3.10, numpy<2 and torch 2.3: the whole suite
# runs here).  Called by the Makefile only when .venv is missing, was built by another
# Python, or pyproject.toml changed since the last install.  The Lava-free part on the
# newest CPython, numpy 2 and current torch: tools/bootstrap-venv-modern.sh (.venv-modern).
set -euo pipefail
VENV=${VENV:-.venv}

find_py310() {
    local c
    for c in "$HOME"/.pyenv/versions/3.10.*/bin/python3.10 "$(command -v python3.10 2>/dev/null || true)"; do
        [ -n "$c" ] && [ -x "$c" ] || continue
        if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    return 1
}

if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "bootstrap: $VENV was made with another Python (Lava needs 3.10); recreating it" >&2
    rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! PY=$(find_py310); then
        echo "error: Python 3.10 not found. Lava (lava-nc 0.10.0) needs exactly Python 3.10." >&2
        echo "       Install it (e.g. 'pyenv install 3.10') so that ~/.pyenv/versions/3.10.*/bin/python3.10" >&2
        echo "       or 'python3.10' on PATH exists, then run make again." >&2
        exit 1
    fi
    echo "bootstrap: creating $VENV with $PY"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi

# The NIR exchange packages (extras `nir` and `dev`) first, from PyPI with --no-deps, so
# they never pull a torch or numpy of their own: their requirements (torch, torchvision,
# numpy, h5py) are then resolved by the install below under this project's pins
# (torch 2.3.x, numpy<2 from the lava extra).
"$VENV/bin/python" -m pip install -q --no-deps nir==1.0.8 nirtorch==2.6 snntorch==1.0.0 norse==1.1.0
echo "bootstrap: installing loihi-snn (editable, dev and lava extras) into $VENV; the first time takes a few minutes (torch)"
"$VENV/bin/python" -m pip install -q -e ".[dev,lava]"
# NeuroBench 2.3, for the cross-check of loihi_snn.metrics against it
# (tests/e2e/test_metrics_neurobench.py), with --no-deps as well: it asks for torchaudio,
# whose releases pin a newer torch; the metrics the test runs need only torch, snnTorch
# and numpy, which are here.  Not in the dev extra for the same reason.
"$VENV/bin/python" -m pip install -q --no-deps neurobench==2.3.0

"""The shipped models, emulated, give spike for spike what Lava fixed_pt gave (a committed
reference), on every Python, numpy and torch the package supports.

``tests/data/reference_spikes/<model>.npz`` holds a few samples of each shipped model's
evaluation split, their output and the output of every layer block from one fresh Lava
``fixed_pt`` run per sample, written in the Python 3.10 venv by
``tools/reference_spikes.py``.  No Lava is needed here, so these tests run in the modern
venv too (newest CPython, numpy 2, current torch): numpy 2's integer promotion (NEP 50)
and copy semantics are checked on the real networks, not assumed.  The emulator runs
three ways: numpy (float sums), numpy int64, torch on the CPU.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from loihi_snn import emulate
from loihi_snn.sim.runtime.stream import run_many

from helpers import REPO_ROOT

REF_DIR = REPO_ROOT / "tests" / "data" / "reference_spikes"
REFS = sorted(REF_DIR.glob("*.npz"))
WAYS = {"numpy": {}, "numpy-int64": {"arithmetic": "int64"}, "torch-cpu": {"device": "cpu"}}

# no Lava needed (the reference names lava-nc's version only): the modern venv runs these
pytestmark = pytest.mark.lava_free


def _shipped():
    return sorted(p for p in (REPO_ROOT / "netx_models").glob("*/*.net")
                  if p.parent.name != "demo" and p.stem == p.parent.name)


def _load(ref):
    with np.load(ref) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    return arrays, meta


def test_every_shipped_model_has_a_reference():
    assert {p.stem for p in _shipped()} == {r.stem for r in REFS}, \
        "run `.venv/bin/python tools/reference_spikes.py` in the Python 3.10 venv"


@pytest.mark.parametrize("way", list(WAYS))
@pytest.mark.parametrize("ref", REFS, ids=[r.stem for r in REFS])
def test_emulator_reproduces_lava_fixed_pt(ref, way):
    arrays, meta = _load(ref)
    net = REPO_ROOT / meta["net"]
    assert hashlib.sha256(net.read_bytes()).hexdigest() == meta["sha256"], \
        f"{meta['net']} changed since its reference: rerun tools/reference_spikes.py (3.10 venv)"
    assert meta["backend"].startswith("lava-fixed") and meta["versions"]["lava-nc"] == "0.10.0"
    X = arrays["inputs"].astype(np.int64)
    y, counts, sizes = emulate(str(net), X, return_spike_counts=True, **WAYS[way])
    y = np.asarray(y)
    ref_out = arrays["output"]
    assert y.shape == ref_out.shape
    assert np.array_equal(y, ref_out), f"{ref.stem}: output spikes differ from Lava fixed_pt"
    # every layer: its spikes per sample and step equal those of Lava's block for it
    # (one block per layer with neurons, in order)
    blocks = [arrays[f"layer_{i}"] for i in range(meta["layers"])]
    assert len(blocks) == counts.shape[0]
    for li, block in enumerate(blocks):
        assert int(np.prod(block.shape[1:-1])) == int(sizes[li])
        lava = np.count_nonzero(block.reshape(block.shape[0], -1, block.shape[-1]), axis=1)
        assert np.array_equal(counts[li], lava), f"{ref.stem}: layer {li} spikes differ"


@pytest.mark.parametrize("ref", REFS, ids=[r.stem for r in REFS])
def test_auto_backend_without_lava_or_emulator_equals_reference(ref):
    """run_many with backend 'emulator' (what 'auto' gives without Lava) on the batch."""
    arrays, meta = _load(ref)
    y = run_many(str(REPO_ROOT / meta["net"]), arrays["inputs"].astype(np.int64),
                 backend="emulator")
    assert np.array_equal(np.asarray(y), arrays["output"])

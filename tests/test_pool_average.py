"""Layers stock netx refuses (pool, average) run on Lava and match a numpy reference.

The reference is written here from first principles (sum pooling, group means) on
top of loihi_snn.core.fixed's LIF step, which test_fixed.py checks against lava's own LIF.
"""
from __future__ import annotations

import h5py
import numpy as np

import loihi_snn
from loihi_snn.core import fixed

CUBA = {"type": b"CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80, "refDelay": 1,
        "gradedSpike": False}


def _write_neuron(g, params):
    for k, v in params.items():
        g.create_dataset(f"neuron/{k}", data=v)


def _lif_run(a_in_seq, p):
    """Integer LIF over time; a_in_seq (N, T) already includes the synapse delay."""
    u = np.zeros(a_in_seq.shape[0], np.int64)
    v = np.zeros_like(u)
    out = np.zeros(a_in_seq.shape, np.int64)
    for t in range(a_in_seq.shape[1]):
        s, u, v = fixed.lif_step(u, v, a_in_seq[:, t], p["iDecay"] - 1, p["vDecay"], p["vThMant"])
        out[:, t] = s
    return out


def _delay1(a):
    """Lava synapses send at t what they computed at t-1."""
    return np.concatenate([np.zeros_like(a[..., :1]), a[..., :-1]], axis=-1)


def test_pool_layer_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    C, H, W, T, k = 3, 8, 8, 40, 2
    path = tmp_path / "pool.net"
    with h5py.File(path, "w") as f:
        g = f.create_group("layer/0")
        g.create_dataset("type", (1,), "S10", [b"input"])
        g.create_dataset("shape", data=[C, H, W])
        g = f.create_group("layer/1")
        g.create_dataset("type", (1,), "S10", [b"pool"])
        g.create_dataset("shape", data=[C, H // k, W // k])
        g.create_dataset("kernelSize", data=[k, k])
        g.create_dataset("stride", data=[k, k])
        g.create_dataset("padding", data=[0, 0])
        g.create_dataset("dilation", data=[1, 1])
        g.create_dataset("weight", data=np.full((1, 1, k, k), 40.0))
        _write_neuron(g, CUBA)
    x = (rng.random((C, H, W, T)) < 0.4).astype(np.int64)

    pooled = 40 * x.reshape(C, H // k, k, W // k, k, T).sum(axis=(2, 4))   # (C, H/k, W/k, T)
    ref = _lif_run(_delay1(pooled).reshape(-1, T), CUBA).reshape(pooled.shape)

    y = loihi_snn.run(path, x)
    assert y.shape == ref.shape and ref.sum() > 20
    np.testing.assert_array_equal(y, ref)


def test_average_layer_matches_numpy(tmp_path):
    rng = np.random.default_rng(1)
    n_in, n_hidden, groups, T = 16, 12, 4, 40
    w = rng.integers(-60, 120, size=(n_hidden, n_in)) * 2
    path = tmp_path / "avg.net"
    with h5py.File(path, "w") as f:
        g = f.create_group("layer/0")
        g.create_dataset("type", (1,), "S10", [b"dense"])
        g.create_dataset("shape", data=[n_hidden])
        g.create_dataset("inFeatures", data=n_in)
        g.create_dataset("outFeatures", data=n_hidden)
        g.create_dataset("weight", data=w.astype(np.float32))
        _write_neuron(g, CUBA)
        g = f.create_group("layer/1")
        g.create_dataset("type", (1,), "S10", [b"average"])
        g.create_dataset("shape", data=[groups])
    x = (rng.random((n_in, T)) < 0.4).astype(np.int64)

    hidden = _lif_run(_delay1(w @ x), CUBA)                              # (n_hidden, T)
    ref = hidden.reshape(groups, n_hidden // groups, T).mean(axis=1)     # population mean

    y = loihi_snn.run(path, x)
    assert y.shape == (groups, T) and hidden.sum() > 20
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)
    y_float = loihi_snn.run(path, x, backend="lava-float")
    assert y_float.shape == (groups, T)

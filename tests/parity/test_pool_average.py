"""Layers stock netx refuses (pool, average) run on Lava and match a numpy reference.

The reference is written here from first principles (sum pooling, group means) on
top of loihi_snn.core.lif.lif_fixed_step, which test_fixed_vs_lava_lif.py checks against lava's LIF.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.lif import LIFParams, lif_fixed_step

from helpers import CUBA, pool_netx, write_netx


def _lif_run(a_in_seq, p):
    """Integer LIF over time; a_in_seq (N, T) already includes the synapse delay."""
    u = np.zeros(a_in_seq.shape[0], np.int64)
    v = np.zeros_like(u)
    out = np.zeros(a_in_seq.shape, np.int64)
    for t in range(a_in_seq.shape[1]):
        s, u, v = lif_fixed_step(u, v, a_in_seq[:, t],
                                 LIFParams(p["iDecay"], p["vDecay"], p["vThMant"]))
        out[:, t] = s
    return out


def _lif_run_float(a_in_seq, p):
    """Float LIF (lava's floating_pt LIF model) over time; a_in_seq (N, T) in weight units.

    u <- u (1 - du) + a_in; v <- v (1 - dv) + u; spike where v > vth, then v <- 0, with
    du = iDecay / 4096, dv = vDecay / 4096, vth = vThMant (no refractory period).
    """
    du, dv, vth = p["iDecay"] / 4096.0, p["vDecay"] / 4096.0, float(p["vThMant"])
    u = np.zeros(a_in_seq.shape[0])
    v = np.zeros_like(u)
    out = np.zeros(a_in_seq.shape, np.int64)
    for t in range(a_in_seq.shape[1]):
        u = u * (1 - du) + a_in_seq[:, t]
        v = v * (1 - dv) + u
        s = v > vth
        v[s] = 0
        out[:, t] = s
    return out


def _delay1(a):
    """Lava synapses send at t what they computed at t-1."""
    return np.concatenate([np.zeros_like(a[..., :1]), a[..., :-1]], axis=-1)


def test_pool_layer_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    C, H, W, T, k = 3, 8, 8, 40, 2
    path = pool_netx(tmp_path / "pool.net", C, H, W, k, weight=40.0)
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
    path = write_netx(tmp_path / "avg.net", [
        {"type": "dense", "shape": [n_hidden], "inFeatures": n_in, "outFeatures": n_hidden,
         "weight": w.astype(np.float32), "neuron": CUBA},
        {"type": "average", "shape": [groups]}])
    x = (rng.random((n_in, T)) < 0.4).astype(np.int64)

    hidden = _lif_run(_delay1(w @ x), CUBA)                              # (n_hidden, T)
    ref = hidden.reshape(groups, n_hidden // groups, T).mean(axis=1)     # population mean

    y = loihi_snn.run(path, x)
    assert y.shape == (groups, T) and hidden.sum() > 20
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)

    # lava-float: the same network in float units (du = iDecay/4096, dv = vDecay/4096,
    # vth = vThMant, weights as stored).  Its reference is the float LIF written out
    # below; with these power-of-two decays and integer inputs both sides do the same
    # float64 operations in the same order, so the population means agree exactly.
    hidden_float = _lif_run_float(_delay1(w @ x), CUBA)
    ref_float = hidden_float.reshape(groups, n_hidden // groups, T).mean(axis=1)
    y_float = loihi_snn.run(path, x, backend="lava-float")
    assert y_float.shape == (groups, T) and hidden_float.sum() > 20
    np.testing.assert_allclose(y_float, ref_float, rtol=0, atol=1e-12)
    # ... and it stays close to the fixed-point run (which rounds the decays toward
    # zero): at least 90 % of the (group, step) means equal, mean rate within 10 %
    assert np.mean(y_float == y) >= 0.9
    assert abs(y_float.mean() - y.mean()) <= 0.1 * y.mean()


def _net_odd_pool(seed, k, n):
    """conv 2 -> 4 (3x3, padding 1) on n x n, then a SLAYER Pool(k) on that map, n not a
    multiple of k (SLAYER appends n % k zero rows/columns; its own forward needs n + n % k
    to be a multiple of k), flatten, dense."""
    import torch
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy

    from helpers import NEURON
    torch.manual_seed(seed)
    out = (n + n % k - k) // k + 1
    neuron = dict(NEURON, persistent_state=False)   # each forward starts from rest
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(neuron, 2, 4, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Pool(neuron, k, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(neuron, 4 * out * out, 10, weight_scale=3)])
    return blocks, (torch.rand(1, 2, n, n, 48) < 0.3).float(), (2, n, n), out


@pytest.mark.parametrize("k,n", [(2, 11), (4, 10)], ids=["pool2-11x11", "pool4-10x10"])
def test_slayer_pool_on_odd_map_equals_slayer(tmp_path, k, n):
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.torch.export import export_blocks

    from helpers import slayer_eval
    blocks, x, input_shape, out = _net_odd_pool(4, k, n)
    slayer_eval(blocks, x)                                  # sets SLAYER's lazy shapes
    for b in blocks:
        b.eval()
    import torch
    with torch.no_grad():                                   # the pool layer's own spikes
        pool_spikes = blocks[1](blocks[0](x))[0].numpy()
    expect = slayer_eval(blocks, x)[0]
    path = tmp_path / "odd_pool.net"
    export_blocks(blocks, path, input_shape=input_shape)    # refused its own file before
    pool = read_netx(path).layers[2]
    assert pool.type == "pool" and pool.shape == (4, out, out)
    assert pool.fields["slayer_pad"] == (n % k, n % k)
    assert expect.sum() > 10 and pool_spikes[:, -1].sum() > 0   # the padded row is used
    for backend in ("lava-fixed", "lava-fused", "emulator"):
        y = loihi_snn.run(path, x[0].numpy(), backend=backend)
        np.testing.assert_array_equal(y, expect, err_msg=backend)

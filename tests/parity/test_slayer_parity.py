"""Random SLAYER CUBA networks exported by stock blocks: loihi_snn == stock netx == SLAYER.

SLAYER's quantized eval forward with ``delay_shift`` (on by default) already models the
one-step latency of every Lava synapse, so its spikes line up with Lava's at shift 0.
The one known offset: SLAYER's ``Input`` block also delays its output by a step, while
on Lava the input neurons receive the input directly (no synapse), so networks with an
input layer lead SLAYER by one step (Lava step t == SLAYER step t + 1).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn import load
from loihi_snn.torch.export import export_blocks
from loihi_snn.sim.runtime.io import to_lava_layout

from helpers import (SLAYER_STEPS, net_conv, net_dense, net_dense_delay, net_input_layer,
                     net_pool, net_recurrent, run_stock_netx, slayer_forward)


@pytest.mark.parametrize("make,stock_loads", [
    (net_dense, True), (net_dense_delay, True), (net_recurrent, True), (net_conv, True),
    (net_pool, False), (net_input_layer, False)],
    ids=["dense", "dense-delay", "dense_rec", "conv", "conv-pool", "input-layer"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_slayer_network_parity(make, stock_loads, seed, tmp_path):
    blocks, x, input_shape = make(seed)
    path = tmp_path / "net.net"
    expect = slayer_forward(blocks, x)          # also sets SLAYER's lazy shapes
    export_blocks(blocks, path, input_shape=input_shape)
    ours = loihi_snn.run(path, x[0].numpy()).reshape(expect.shape)
    assert expect.sum() > 10, "test network too quiet to be a meaningful comparison"
    if make is net_input_layer:     # see the module docstring: one-step lead
        assert not expect[..., 0].any()
        np.testing.assert_array_equal(ours[..., :-1], expect[..., 1:])
    else:
        np.testing.assert_array_equal(ours, expect)
    if stock_loads:
        net_in_shape = load(path).input_shape    # Lava order of the stock input port
        stock = run_stock_netx(path, to_lava_layout(x[0].numpy(), net_in_shape),
                               steps=SLAYER_STEPS)
        np.testing.assert_array_equal(ours.reshape(stock.shape), stock)


def test_float_backend_is_close_to_fixed(tmp_path):
    """lava-float runs the same network in float units; spikes agree closely (not exactly:
    fixed point rounds the decays toward zero)."""
    blocks, x, _ = net_dense(3)
    path = tmp_path / "net.net"
    slayer_forward(blocks, x)
    export_blocks(blocks, path)
    fixed = loihi_snn.run(path, x[0].numpy(), backend="lava-fixed")
    flt = loihi_snn.run(path, x[0].numpy(), backend="lava-float")
    assert flt.shape == fixed.shape
    rate_fixed, rate_float = fixed.mean(), flt.astype(float).mean()
    assert rate_fixed > 0
    assert abs(rate_float - rate_fixed) <= 0.1 * rate_fixed
    assert (flt.astype(bool) == fixed.astype(bool)).mean() > 0.95


@pytest.mark.parametrize("make", [net_dense, net_conv], ids=["dense", "conv"])
def test_streaming_many_samples_equals_slayer_per_sample(make, tmp_path):
    """run_many resets every layer between samples: each sample's output equals SLAYER's
    single-sample forward (and so a fresh single-sample Lava run)."""
    from loihi_snn.sim.runtime.stream import run_many
    blocks, x, input_shape = make(5)
    torch.manual_seed(7)
    X = (torch.rand((4,) + tuple(x.shape[1:])) < 0.3).float()
    path = tmp_path / "net.net"
    slayer_forward(blocks, x)
    export_blocks(blocks, path, input_shape=input_shape)
    blocks.eval()
    with torch.no_grad():
        expect = X
        for b in blocks:
            expect = b(expect)
    ours = run_many(path, X.numpy())
    assert expect.sum() > 10
    np.testing.assert_array_equal(ours.reshape(expect.shape), expect.numpy())

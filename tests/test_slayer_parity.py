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
from loihi_snn.sim.runtime.run import to_lava_layout

from conftest import run_stock_netx

NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
          "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
T = 48


def _slayer_forward(blocks, x):
    blocks.eval()
    with torch.no_grad():
        for b in blocks:
            x = b(x)
    return x[0].numpy()


def _net_dense(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(NEURON, 30, 40, weight_scale=2),
        slayer.block.cuba.Dense(dict(NEURON, current_decay=1.0, voltage_decay=0.1), 40, 12,
                                weight_scale=2)])
    return blocks, (torch.rand(1, 30, T) < 0.3).float(), None


def _net_dense_delay(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(NEURON, 30, 40, weight_scale=2, delay=True),
        slayer.block.cuba.Dense(NEURON, 40, 12, weight_scale=2)])
    blocks[0].delay.delay.data = torch.randint(0, 7, blocks[0].delay.delay.shape).float()
    return blocks, (torch.rand(1, 30, T) < 0.3).float(), None


def _net_input_layer(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Input(dict(NEURON, threshold=0.5, current_decay=1.0), weight=0.75),
        slayer.block.cuba.Dense(NEURON, 30, 12, weight_scale=2)])
    return blocks, (torch.rand(1, 30, T) < 0.3).float(), None


def _net_recurrent(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Recurrent(NEURON, 20, 30, weight_scale=2),
        slayer.block.cuba.Dense(NEURON, 30, 8, weight_scale=2)])
    return blocks, (torch.rand(1, 20, T) < 0.3).float(), None


def _net_conv(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(NEURON, 4, 6, 3, stride=2, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 6 * 5 * 5, 10, weight_scale=3)])
    return blocks, (torch.rand(1, 2, 12, 12, T) < 0.3).float(), (2, 12, 12)


def _net_pool(seed):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Pool(NEURON, 2, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 4 * 6 * 6, 10, weight_scale=3)])
    return blocks, (torch.rand(1, 2, 12, 12, T) < 0.3).float(), (2, 12, 12)


@pytest.mark.parametrize("make,stock_loads", [
    (_net_dense, True), (_net_dense_delay, True), (_net_recurrent, True), (_net_conv, True),
    (_net_pool, False), (_net_input_layer, False)],
    ids=["dense", "dense-delay", "dense_rec", "conv", "conv-pool", "input-layer"])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_slayer_network_parity(make, stock_loads, seed, tmp_path):
    blocks, x, input_shape = make(seed)
    path = tmp_path / "net.net"
    expect = _slayer_forward(blocks, x)          # also sets SLAYER's lazy shapes
    export_blocks(blocks, path, input_shape=input_shape)
    ours = loihi_snn.run(path, x[0].numpy()).reshape(expect.shape)
    assert expect.sum() > 10, "test network too quiet to be a meaningful comparison"
    if make is _net_input_layer:     # see the module docstring: one-step lead
        assert not expect[..., 0].any()
        np.testing.assert_array_equal(ours[..., :-1], expect[..., 1:])
    else:
        np.testing.assert_array_equal(ours, expect)
    if stock_loads:
        net_in_shape = load(path).input_shape    # Lava order of the stock input port
        stock = run_stock_netx(path, to_lava_layout(x[0].numpy(), net_in_shape), steps=T)
        np.testing.assert_array_equal(ours.reshape(stock.shape), stock)


def test_float_backend_is_close_to_fixed(tmp_path):
    """lava-float runs the same network in float units; spikes agree closely (not exactly:
    fixed point rounds the decays toward zero)."""
    blocks, x, _ = _net_dense(3)
    path = tmp_path / "net.net"
    _slayer_forward(blocks, x)
    export_blocks(blocks, path)
    fixed = loihi_snn.run(path, x[0].numpy(), backend="lava-fixed")
    flt = loihi_snn.run(path, x[0].numpy(), backend="lava-float")
    assert flt.shape == fixed.shape
    rate_fixed, rate_float = fixed.mean(), flt.astype(float).mean()
    assert rate_fixed > 0
    assert abs(rate_float - rate_fixed) <= 0.1 * rate_fixed
    assert (flt.astype(bool) == fixed.astype(bool)).mean() > 0.95


@pytest.mark.parametrize("make", [_net_dense, _net_conv], ids=["dense", "conv"])
def test_streaming_many_samples_equals_slayer_per_sample(make, tmp_path):
    """run_many resets every layer between samples: each sample's output equals SLAYER's
    single-sample forward (and so a fresh single-sample Lava run)."""
    from loihi_snn.sim.runtime.stream import run_many
    blocks, x, input_shape = make(5)
    torch.manual_seed(7)
    X = (torch.rand((4,) + tuple(x.shape[1:])) < 0.3).float()
    path = tmp_path / "net.net"
    _slayer_forward(blocks, x)
    export_blocks(blocks, path, input_shape=input_shape)
    blocks.eval()
    with torch.no_grad():
        expect = X
        for b in blocks:
            expect = b(expect)
    ours = run_many(path, X.numpy())
    assert expect.sum() > 10
    np.testing.assert_array_equal(ours.reshape(expect.shape), expect.numpy())

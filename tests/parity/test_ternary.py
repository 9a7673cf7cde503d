"""Ternary spikes: learnable amplitude folded at export, signed graded spikes on Lava."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.torch.blocks import Conv, Dense, Flatten, Recurrent
from loihi_snn.torch.fold import fold_amplitudes
from loihi_snn.netx import read_netx
from loihi_snn.torch.export import export_blocks
from loihi_snn.sim.runtime.probe import run_layers

T = 64


def _p(spike="ternary", **kw):
    return dict({"threshold": 0.5, "current_decay": 0.5, "voltage_decay": 0.1,
                 "reset": "hard", "leak": True, "spike": spike}, **kw)


def _dense_net(alphas, seed=0, recurrent=False):
    torch.manual_seed(seed)
    first = (Recurrent(_p(), 12, 20, weight_scale=2) if recurrent
             else Dense(_p(), 12, 20, weight_scale=2))
    blocks = torch.nn.ModuleList([first, Dense(_p(), 20, 16, weight_scale=2),
                                  Dense(_p(), 16, 6, weight_scale=2)])
    for b, a in zip(blocks, alphas):
        b.neuron.amplitude.data.fill_(a)
    x = (torch.rand(1, 12, T) < 0.3).float() - (torch.rand(1, 12, T) < 0.1).float()
    return blocks, x


def _conv_net(alphas, seed=0):
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([Conv(_p(), 2, 4, 3, padding=1, weight_scale=3),
                                  Flatten(), Dense(_p(), 4 * 6 * 6, 5, weight_scale=2)])
    for b, a in zip([blocks[0], blocks[2]], alphas):
        b.neuron.amplitude.data.fill_(a)
    x = (torch.rand(1, 2, 6, 6, T) < 0.3).float()
    return blocks, x


def _layers(blocks, x):
    outs = []
    with torch.no_grad():
        for b in blocks:
            x = b(x)
            if getattr(b, "neuron", None) is not None:
                outs.append(x[0].numpy())
    return outs


def _no_quantization(blocks):
    ident = lambda w, descale=False: w  # noqa: E731
    for b in blocks:
        for name in ("synapse", "input_synapse", "recurrent_synapse"):
            s = getattr(b, name, None)
            if s is not None:
                s.pre_hook_fx = ident


@pytest.mark.parametrize("alphas", [(1.7, 0.6, 1.0), (-0.8, 2.5, -1.3), (12.0, 0.3, 3.0)],
                         ids=["positive", "negative", "extreme"])
@pytest.mark.parametrize("recurrent", [False, True], ids=["ff", "rec"])
def test_folding_leaves_float_output_unchanged(alphas, recurrent):
    """Float forward (no weight quantization) before and after folding: the final
    output times the output scale equals the original output within 1e-5."""
    blocks, x = _dense_net(alphas, seed=1, recurrent=recurrent)
    _no_quantization(blocks)
    blocks.train()
    with torch.no_grad():
        ref = x
        for b in blocks:
            ref = b(ref)
    folded, scale = fold_amplitudes(blocks)
    assert scale == pytest.approx(alphas[-1])
    for b in folded:
        assert float(b.neuron.amplitude) == 1.0
    folded.train()
    with torch.no_grad():
        out = x
        for b in folded:
            out = b(out)
    assert ref.abs().sum() > 5
    np.testing.assert_allclose((out * scale).numpy(), ref.numpy(), atol=1e-5)
    # the original blocks are untouched
    assert float(blocks[0].neuron.amplitude) == pytest.approx(alphas[0])


def test_folding_conv_flatten_dense_unchanged():
    blocks, x = _conv_net((-1.9, 0.7), seed=2)
    _no_quantization(blocks)
    blocks.train()
    with torch.no_grad():
        ref = x
        for b in blocks:
            ref = b(ref)
    folded, scale = fold_amplitudes(blocks)
    folded.train()
    with torch.no_grad():
        out = x
        for b in folded:
            out = b(out)
    assert ref.abs().sum() > 5
    np.testing.assert_allclose((out * scale).numpy(), ref.numpy(), atol=1e-5)


@pytest.mark.parametrize("make,alphas", [
    (lambda a: _dense_net(a, seed=3), (1.6, -0.7, 1.2)),
    (lambda a: _dense_net(a, seed=4, recurrent=True), (0.9, 1.4, -2.0)),
    (lambda a: _conv_net(a, seed=5), (-1.3, 0.8)),
], ids=["dense", "recurrent", "conv-flatten-dense"])
def test_torch_quantized_after_folding_equals_lava_fixed(make, alphas, tmp_path):
    blocks, x = make(alphas)
    blocks.eval()
    _layers(blocks, x)                      # shapes
    folded, scale = fold_amplitudes(blocks)
    folded.eval()
    expect = _layers(folded, x)
    path = tmp_path / "ternary.net"
    export_blocks(blocks, path, input_shape=tuple(x.shape[1:-1]) if x.dim() == 5 else None)
    lava = run_layers(path, x[0].numpy())
    assert any((e < 0).any() for e in expect), "no negative spikes: weak test"
    for i, (e, o) in enumerate(zip(expect, lava)):
        assert np.abs(e).sum() > 5, f"layer {i} too quiet"
        np.testing.assert_array_equal(o.reshape(e.shape), e, err_msg=f"layer {i}")
    y = loihi_snn.run(path, x[0].numpy())
    np.testing.assert_allclose(y.reshape(expect[-1].shape), expect[-1] * scale)


def test_export_records_ternary_type_and_stock_netx_refuses(tmp_path):
    blocks, x = _dense_net((1.5, 1.0, 1.0), seed=6)
    blocks.eval()
    _layers(blocks, x)
    path = tmp_path / "t.net"
    export_blocks(blocks, path)
    with h5py.File(path) as f:
        assert f["layer/0/neuron/type"][()] == b"TERNARY"
    assert read_netx(path).neuron_types == ["TERNARY"]
    from lava.lib.dl import netx
    with pytest.raises(Exception):
        netx.hdf5.Network(net_config=str(path))


def test_ternary_parameters_validated():
    with pytest.raises(ValueError, match="spike mode"):
        Dense(_p(spike="quaternary"), 3, 2)
    n = Dense(_p(), 3, 2).neuron
    assert n.amplitude.requires_grad and float(n.amplitude) == 1.0


def test_amplitude_receives_gradient():
    blocks, x = _dense_net((1.0, 1.0, 1.0), seed=7)
    blocks.train()
    out = x
    for b in blocks:
        out = b(out)
    out.abs().sum().backward()
    assert all(b.neuron.amplitude.grad is not None for b in blocks)
    assert blocks[0].neuron.amplitude.grad.abs() > 0

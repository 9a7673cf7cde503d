"""Binary spikes with a learned amplitude (``learn_amplitude=True``, the control arm of the
ternary study): folded at export like a ternary amplitude, exactly."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.torch.blocks import Dense
from loihi_snn.torch.export import export_blocks
from loihi_snn.torch.fold import fold_amplitudes, has_ternary

T = 32


def _p(**kw):
    return dict({"threshold": 1.0, "current_decay": 0.5, "voltage_decay": 0.1,
                 "reset": "hard", "leak": True, "spike": "binary"}, **kw)


def _net(alphas, seed=0):
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([Dense(_p(learn_amplitude=True), 12, 20, weight_scale=2),
                                  Dense(_p(learn_amplitude=True), 20, 6, weight_scale=2)])
    for b, a in zip(blocks, alphas):
        b.neuron.amplitude.data.fill_(a)
    x = (torch.rand(3, 12, T) < 0.3).float()
    return blocks, x


def test_binary_neurons_have_no_amplitude_unless_asked():
    assert Dense(_p(), 4, 3).neuron.amplitude is None
    assert Dense(_p(learn_amplitude=False), 4, 3).neuron.amplitude is None
    amp = Dense(_p(learn_amplitude=True), 4, 3).neuron.amplitude
    assert amp is not None and amp.requires_grad and float(amp) == 1.0
    ternary = Dense(_p(spike="ternary"), 4, 3).neuron.amplitude
    assert ternary is not None and ternary.requires_grad          # unchanged default
    assert not Dense(_p(spike="ternary", learn_amplitude=False), 4, 3).neuron.amplitude \
        .requires_grad


def test_binary_amplitude_receives_gradient_and_scales_spikes():
    blocks, x = _net((1.0, 1.0), seed=1)
    blocks.train()
    out = x
    for b in blocks:
        out = b(out)
    out.sum().backward()
    assert blocks[0].neuron.amplitude.grad is not None
    assert set(np.unique(out.detach().numpy())) <= {0.0, 1.0}


def test_folded_binary_amplitude_equals_the_emulator(tmp_path):
    blocks, x = _net((1.7, 0.6), seed=2)
    blocks.eval()
    with torch.no_grad():
        h = x
        for b in blocks:
            h = b(h)                                     # shapes
    assert has_ternary(blocks)
    folded, scale = fold_amplitudes(blocks)
    assert scale == pytest.approx(0.6)
    folded.eval()
    with torch.no_grad():
        expect = x
        for b in folded:
            expect = b(expect)
    assert expect.abs().sum() > 5 and set(np.unique(expect.numpy())) <= {0.0, 1.0}
    path = tmp_path / "binary_alpha.net"
    export_blocks(blocks, path)
    y = loihi_snn.emulate(path, x.numpy())
    np.testing.assert_allclose(np.asarray(y, np.float64), expect.numpy() * scale, rtol=1e-6)

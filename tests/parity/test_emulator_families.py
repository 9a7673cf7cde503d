"""Emulator and fused Lava model on our neuron families (LIF variants, ternary):
equal to the torch quantized forward, which equals per-layer Lava fixed_pt
(tests/parity/test_lif_variants.py, tests/parity/test_ternary.py)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.torch.blocks import Conv, Dense, Flatten, Recurrent
from loihi_snn.torch.fold import fold_amplitudes
from helpers.emulator_paths import emulate_all
from loihi_snn.torch.export import export_blocks

from helpers import slayer_eval

T = 40


@pytest.mark.parametrize("leak,reset,recurrent",
                         list(itertools.product([True, False], ["hard", "soft", "none"],
                                                [False, True])))
def test_emulator_equals_quantized_forward_lif(leak, reset, recurrent, tmp_path):
    torch.manual_seed(7)
    p = {"threshold": 1.0, "current_decay": 0.3, "voltage_decay": 0.05, "reset": reset,
         "leak": leak}
    first = Recurrent(p, 16, 24, weight_scale=2) if recurrent else Dense(p, 16, 24, weight_scale=2)
    blocks = torch.nn.ModuleList([first, Dense(p, 24, 8, weight_scale=2)])
    X = (torch.rand(3, 16, T) < 0.25).float()
    expect = slayer_eval(blocks, X)
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    assert expect.sum() > 5
    np.testing.assert_array_equal(emulate_all(path, X.numpy()), expect)


def test_emulator_and_fused_equal_quantized_forward_ternary_conv(tmp_path):
    torch.manual_seed(8)
    p = {"threshold": 0.5, "current_decay": 0.5, "voltage_decay": 0.1, "spike": "ternary"}
    blocks = torch.nn.ModuleList([Conv(p, 2, 4, 3, padding=1, weight_scale=3), Flatten(),
                                  Dense(p, 4 * 6 * 6, 5, weight_scale=2)])
    blocks[0].neuron.amplitude.data.fill_(-1.4)
    blocks[2].neuron.amplitude.data.fill_(0.6)
    X = (torch.rand(2, 2, 6, 6, T) < 0.3).float()
    slayer_eval(blocks, X[:1])
    folded, scale = fold_amplitudes(blocks)
    expect = slayer_eval(folded, X) * scale
    path = tmp_path / "t.net"
    export_blocks(blocks, path, input_shape=(2, 6, 6))
    assert (expect < 0).any() and np.abs(expect).sum() > 5
    np.testing.assert_allclose(emulate_all(path, X.numpy()), expect)
    fused = loihi_snn.run(path, X[0].numpy(), backend="lava-fused")
    np.testing.assert_allclose(fused, expect[0])

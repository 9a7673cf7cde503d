"""RCS regulariser: definition on hand-made tensors, masking, and gradient flow."""
from __future__ import annotations

import pytest
import torch

from loihi_snn.blocks import Dense
from loihi_snn.train.rcs import collect, correct_in_tail, enable_recording, layer_term, rcs_loss


def test_constant_representation_has_unit_similarity():
    s = torch.zeros(2, 4, 10)
    v = torch.ones(2, 4, 10) * 0.5          # r(t) constant in time -> cos = 1
    term = layer_term(s, v, 1.0, torch.tensor([True, True]))
    assert float(term) == pytest.approx(1 / (1 + 1e-5))


def test_dissimilar_early_steps_raise_the_term_and_max_over_samples():
    T = 10
    v = torch.zeros(2, 2, T)
    v[:, 0, :] = 1.0                         # late representation: neuron 0
    v[1, 0, :5] = 0.0
    v[1, 1, :5] = 1.0                        # sample 1 starts on neuron 1 (orthogonal)
    s = torch.zeros_like(v)
    both = layer_term(s, v, 1.0, torch.tensor([True, True]))
    only0 = layer_term(s, v, 1.0, torch.tensor([True, False]))
    assert float(only0) == pytest.approx(1 / (1 + 1e-5))
    assert float(both) == pytest.approx(1 / (0.5 + 1e-5))    # cos 0 for half the steps
    assert float(layer_term(s, v, 1.0, torch.tensor([False, False]))) == 0.0


def test_correct_in_tail_mask():
    out = torch.zeros(2, 3, 10)
    out[0, 2, :] = 1                          # always class 2
    out[1, 1, :8] = 1                         # class 1 early ...
    out[1, 0, 7:] = 3                         # ... overtaken late by class 0
    labels = torch.tensor([2, 1])
    assert correct_in_tail(out, labels).tolist() == [True, False]


def test_rcs_loss_backpropagates_through_lif_blocks():
    torch.manual_seed(0)
    p = {"threshold": 0.5, "current_decay": 0.3, "voltage_decay": 0.1}
    blocks = torch.nn.ModuleList([Dense(p, 8, 16, weight_scale=3), Dense(p, 16, 4, weight_scale=3)])
    assert enable_recording(blocks) == 2
    x = (torch.rand(6, 8, 20) < 0.4).float()
    out = x
    for b in blocks:
        out = b(out)
    labels = out.sum(-1).argmax(1)            # every sample "correct"
    layers = collect(blocks)
    assert len(layers) == 2 and layers[0][1].shape == (6, 16, 20)
    loss = rcs_loss(layers, out, labels)
    assert loss.item() > 1.0
    loss.backward()
    assert blocks[0].synapse.weight.grad.abs().sum() > 0


def test_trainer_regularizer_is_registered_and_switches_recording_on():
    from loihi_snn.train import rcs
    from loihi_snn.train.trainer import REGULARIZERS
    assert REGULARIZERS["rcs"] is rcs.trainer_regularizer
    torch.manual_seed(1)
    p = {"threshold": 0.5, "current_decay": 0.3, "voltage_decay": 0.1}
    blocks = torch.nn.ModuleList([Dense(p, 8, 16, weight_scale=3), Dense(p, 16, 4, weight_scale=3)])
    x = (torch.rand(5, 8, 20) < 0.4).float()

    def forward():
        out = x
        for b in blocks:
            out = b(out)
        return out

    out = forward()
    labels = out.sum(-1).argmax(1)
    first = rcs.trainer_regularizer(blocks, out, None, labels, None)
    assert float(first) == 0.0 and blocks[0].neuron.record_voltage
    out = forward()
    assert float(rcs.trainer_regularizer(blocks, out, None, labels, None)) > 1.0

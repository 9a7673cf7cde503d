"""RCS regulariser: definition on hand-made tensors, masking, and gradient flow."""
from __future__ import annotations

import pytest
import torch

from loihi_snn.torch.blocks import Dense
from loihi_snn.train.rcs import collect, correct_in_tail, enable_recording, layer_term, rcs_loss


def test_constant_representation_has_unit_similarity():
    s = torch.zeros(2, 4, 10)
    v = torch.ones(2, 4, 10) * 0.5          # r(t) constant in time -> cos = 1
    term = layer_term(s, v, 1.0, torch.tensor([True, True]))
    assert float(term) == pytest.approx(1.0, abs=1e-4)


def test_dissimilar_early_steps_raise_the_term_and_max_over_samples():
    T = 10
    v = torch.zeros(2, 2, T)
    v[:, 0, :] = 1.0                         # late representation: neuron 0
    v[1, 0, :5] = 0.0
    v[1, 1, :5] = 1.0                        # sample 1 starts on neuron 1 (orthogonal)
    s = torch.zeros_like(v)
    both = layer_term(s, v, 1.0, torch.tensor([True, True]))
    only0 = layer_term(s, v, 1.0, torch.tensor([True, False]))
    assert float(only0) == pytest.approx(1.0, abs=1e-4)
    assert float(both) == pytest.approx(2.0, rel=1e-4)        # cos 0 for half the steps
    assert float(layer_term(s, v, 1.0, torch.tensor([False, False]))) == 0.0


def test_correct_in_tail_mask():
    out = torch.zeros(2, 3, 10)
    out[0, 2, :] = 1                          # always class 2
    out[1, 1, :8] = 1                         # class 1 early ...
    out[1, 0, 7:] = 3                         # ... overtaken late by class 0
    labels = torch.tensor([2, 1])
    assert correct_in_tail(out, labels).tolist() == [True, False]


def test_ties_and_silent_outputs_are_not_correct():
    out = torch.zeros(3, 3, 10)               # sample 0: silent (argmax would say class 0)
    out[1, 0, :] = 1
    out[1, 1, :] = 1                          # sample 1: tie between classes 0 and 1
    out[2, 0, :] = 1                          # sample 2: class 0 strictly ahead
    labels = torch.tensor([0, 0, 0])
    assert correct_in_tail(out, labels).tolist() == [False, False, True]


def test_sample_silent_in_the_tail_is_left_out():
    T = 10
    v = torch.zeros(2, 3, T)
    v[0, 0, :] = 1.0                          # sample 0: steady, cs = 1
    v[1, 1, :3] = 1.0                         # sample 1: active early, silent in the tail
    s = torch.zeros_like(v)
    term = layer_term(s, v, 1.0, torch.tensor([True, True]))
    assert float(term) == pytest.approx(1.0, abs=1e-4)       # not 1 / 1e-5
    assert float(layer_term(s, v, 1.0, torch.tensor([False, True]))) == 0.0


def test_gradient_stays_bounded_at_a_nearly_silent_step():
    """The smoothed norm keeps d term / d r finite when |r(t)| -> 0 (the output layer at
    t = 1); torch's cosine_similarity would give ~1 / |r(t)| there."""
    T = 8
    v = torch.zeros(1, 4, T)
    v[0, 0, :] = 1.0
    v[0, 0, 0] = v[0, 1, 0] = 1e-7            # almost silent first step (torch: grad ~5e5)
    v.requires_grad_(True)
    term = layer_term(torch.zeros(1, 4, T), v, 1.0, torch.tensor([True]))
    term.backward()
    assert torch.isfinite(v.grad).all() and float(v.grad.abs().max()) < 1e3


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
    from loihi_snn.train.regularizers import REGULARIZERS
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


def test_rcs_reaches_the_trainers_loss_with_gradients(tmp_path, monkeypatch):
    """train() with rcs_weight > 0 calls the regulariser on every batch; from the second
    batch on (recording is switched on at the first) it is > 0 with a gradient, and the
    weights end up different from those of the same run without RCS."""
    from loihi_snn.train import rcs
    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.loop import train
    from loihi_snn.train.regularizers import REGULARIZERS

    seen = []

    def spy(model, output, layers, labels, config):
        value = rcs.trainer_regularizer(model, output, layers, labels, config)
        seen.append((float(value), value.requires_grad))
        return value

    monkeypatch.setitem(REGULARIZERS, "rcs", spy)
    cfg = TrainConfig(name="rcs_tiny", dataset="digits", encoding="rate", T=8, train_limit=96,
                      test_limit=16, val_fraction=0.0,
                      architecture=[{"type": "dense", "out": 16}, {"type": "dense"}],
                      neuron={"type": "lif", "threshold": 1.25, "current_decay": 0.25,
                              "voltage_decay": 0.03},
                      epochs=1, batch_size=32, seed=0, device="cpu", rcs_weight=1.0)
    with_rcs = train(cfg, str(tmp_path / "rcs"), progress=False, verbose=False, lava=False)
    assert len(seen) == 3 and seen[0][0] == 0.0
    assert any(v > 1.0 and grad for v, grad in seen[1:]), seen
    without = train(cfg.replace(rcs_weight=0.0), str(tmp_path / "plain"), progress=False,
                    verbose=False, lava=False)
    assert len(seen) == 3                       # weight 0: the regulariser is never called
    assert with_rcs.parameter_digest != without.parameter_digest


def test_variants_reduction_and_reference():
    T = 10
    v = torch.zeros(2, 2, T)
    v[:, 0, :] = 1.0
    v[1, 0, :5] = 0.0
    v[1, 1, :5] = 1.0                        # sample 1: cs = 0.5 against the tail
    s = torch.zeros_like(v)
    both = torch.tensor([True, True])
    assert float(layer_term(s, v, 1.0, both, reduction="mean")) == pytest.approx(1.5, rel=1e-4)
    # against the mean over all T, sample 1's early and late steps are both at 45 degrees
    assert float(layer_term(s, v, 1.0, both, reference="all")) == pytest.approx(2 ** 0.5, rel=1e-4)
    with pytest.raises(ValueError):
        layer_term(s, v, 1.0, both, reduction="median")


def test_make_regularizer_hidden_only():
    from loihi_snn.train import rcs
    torch.manual_seed(1)
    p = {"threshold": 0.5, "current_decay": 0.3, "voltage_decay": 0.1}
    blocks = torch.nn.ModuleList([Dense(p, 8, 16, weight_scale=3), Dense(p, 16, 4, weight_scale=3)])
    enable_recording(blocks)
    x = (torch.rand(5, 8, 20) < 0.4).float()
    out = blocks[1](blocks[0](x))
    labels = out.sum(-1).argmax(1)
    layers = collect(blocks)
    hidden = rcs.make_regularizer(hidden_only=True)(blocks, out, None, labels, None)
    mask = correct_in_tail(out, labels)
    assert float(hidden) == pytest.approx(float(layer_term(*layers[0], mask)))
    assert rcs.make_regularizer(reduction="mean").settings["reduction"] == "mean"

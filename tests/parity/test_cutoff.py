"""Cutoff: the Lava controller streams a test set through one run; its decisions equal
the offline rule on the same outputs, and with the cutoff off it equals separate runs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.torch.blocks import Dense
from loihi_snn.core.cutoff import (calibrate, correct_and_stays, decide, offline_cutoff,
                              optimal_cutoff_steps, top_gap)
from loihi_snn.torch.export import export_blocks
from loihi_snn.sim.runtime.cutoff_run import run_cutoff
from loihi_snn.sim.runtime.stream import run_many

T = 20


def _net(tmp_path, spike="binary", reset="hard", seed=0, input_layer=False):
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    p = {"threshold": 0.8, "current_decay": 0.4, "voltage_decay": 0.1, "reset": reset,
         "leak": True, "spike": spike}
    blocks = []
    if input_layer:
        blocks.append(slayer.block.cuba.Input({"threshold": 0.5, "current_decay": 1.0,
                                               "voltage_decay": 0.1}))
    blocks += [Dense(p, 16, 24, weight_scale=3), Dense(p, 24, 5, weight_scale=3)]
    blocks = torch.nn.ModuleList(blocks)
    X = (torch.rand(12, 16, T) < 0.3).float()
    blocks.eval()
    with torch.no_grad():
        y = X
        for b in blocks:
            y = b(y)
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    return path, X.numpy()


@pytest.mark.parametrize("kind", ["cuba", "soft-lif", "ternary", "input-layer"])
def test_cutoff_off_equals_separate_runs(kind, tmp_path):
    kw = {"cuba": {}, "soft-lif": {"reset": "soft"}, "ternary": {"spike": "ternary"},
          "input-layer": {"input_layer": True}}[kind]
    path, X = _net(tmp_path, **kw)
    X = X[:5]
    result = run_cutoff(path, X, cutoff=False)
    single = np.stack([loihi_snn.run(path, x) for x in X])
    assert single.sum() > 5
    np.testing.assert_array_equal(result.predictions, single.sum(-1).argmax(1))
    np.testing.assert_array_equal(result.steps, np.full(len(X), T))


@pytest.mark.parametrize("kind", ["cuba", "ternary"])
def test_cutoff_on_equals_offline_rule(kind, tmp_path):
    path, X = _net(tmp_path, spike="ternary" if kind == "ternary" else "binary", seed=1)
    outputs = run_many(path, X)
    labels = outputs.sum(-1).argmax(1)          # self-consistent labels for calibration
    beta = calibrate(outputs, labels, epsilon=0.2).beta
    assert np.isfinite(beta).any()
    result = run_cutoff(path, X, beta=beta)
    preds, steps = offline_cutoff(outputs, beta)
    np.testing.assert_array_equal(result.predictions, preds)
    np.testing.assert_array_equal(result.steps, steps)
    assert result.steps.min() < T               # the rule fired early somewhere


def test_rule_and_calibration_definitions():
    # two samples, 3 classes, 4 steps
    out = np.zeros((2, 3, 4))
    out[0, 1, :] = 1                  # sample 0: class 1 from the start
    out[1, 0, 0] = 1                  # sample 1: class 0 first, class 2 later wins
    out[1, 2, 1:] = 1
    labels = np.array([1, 2])
    stays = correct_and_stays(out, labels)
    np.testing.assert_array_equal(stays, [[1, 1, 1, 1], [0, 0, 1, 1]])
    np.testing.assert_array_equal(optimal_cutoff_steps(out, labels), [1, 3])
    np.testing.assert_array_equal(top_gap(np.cumsum(out, -1))[0], [1, 2, 3, 4])
    assert decide(np.array([3, 1, 0]), 2, np.array([1.5, 1.5, 1.5]), 3)
    assert not decide(np.array([2, 1, 0]), 2, np.array([1.5, 1.5, 1.5]), 3)
    assert decide(np.array([0, 0, 0]), 3, np.array([9.0, 9, 9]), 3)    # step limit
    cal = calibrate(out, labels, epsilon=0.0, bins=100)
    # t=1: gap 1 for both, only sample 0 stays correct -> beta must exclude sample 1
    preds, steps = offline_cutoff(out, cal.beta)
    assert (preds == labels).all()
    with pytest.raises(ValueError):
        calibrate(out, labels, epsilon=1.5)


def test_missing_thresholds_is_a_clear_error(tmp_path):
    path, X = _net(tmp_path)
    with pytest.raises(loihi_snn.ShapeError, match="calibrat"):
        run_cutoff(path, X[:2])


def test_stored_calibration_round_trip_and_override(tmp_path):
    from loihi_snn.core.cutoff import Calibration
    from loihi_snn.netx.calibration import load_calibration, store_calibration
    from loihi_snn.netx import read_netx
    path, X = _net(tmp_path, seed=2)
    beta = np.array([np.inf] * 5 + [1.0] * (T - 5))
    store_calibration(path, Calibration(beta=beta, epsilon=0.1), dataset="synthetic")
    spec = read_netx(path)
    cal = load_calibration(spec)
    np.testing.assert_array_equal(cal.beta, beta)
    assert cal.epsilon == pytest.approx(0.1)
    outputs = run_many(path, X[:6])
    stored = run_cutoff(path, X[:6])                        # thresholds from the file
    preds, steps = offline_cutoff(outputs, beta)
    np.testing.assert_array_equal(stored.steps, steps)
    never = run_cutoff(path, X[:6], beta=np.full(T, np.inf))  # run-time override
    np.testing.assert_array_equal(never.steps, np.full(6, T))


def test_recorded_stream_equals_fresh_runs_for_recurrent_no_reset(tmp_path):
    """A recurrent layer without reset keeps firing between samples; the controller's
    reset (state zeroed, stale input dropped) still makes every sample a fresh run."""
    from loihi_snn.torch.blocks import Recurrent
    torch.manual_seed(3)
    p = {"threshold": 0.8, "current_decay": 0.4, "voltage_decay": 0.0, "reset": "none",
         "leak": False}
    blocks = torch.nn.ModuleList([Recurrent(p, 16, 20, weight_scale=3), Dense(p, 20, 5, weight_scale=3)])
    X = (torch.rand(4, 16, T) < 0.3).float()
    blocks.eval()
    with torch.no_grad():
        y = X
        for b in blocks:
            y = b(y)
    path = tmp_path / "rec.net"
    export_blocks(blocks, path)
    result = run_cutoff(path, X.numpy(), cutoff=False, record_output=True)
    assert y.sum() > 10
    np.testing.assert_array_equal(result.outputs, y.numpy())

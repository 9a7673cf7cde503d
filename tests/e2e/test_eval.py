"""``loihi-snn eval`` and :func:`loihi_snn.app.evaluation.evaluate`.

The Lava cutoff controller and the offline rule applied to emulator outputs must agree
sample for sample; spike counts must equal those of the per-layer Lava run; user errors
exit with status 2 and one line naming what to fix.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from loihi_snn.core.cutoff import offline_cutoff
from loihi_snn.sim.emulator import emulate
from loihi_snn.app.evaluation import evaluate, layer_spike_counts, load_eval_data, spikes_within
from loihi_snn.core.metrics import nasfr, spikes_per_sample
from loihi_snn.netx import read_netx

from helpers import REPO_ROOT, assert_one_error_line, cli, shared_network

DIGITS = REPO_ROOT / "netx_models" / "digits_cuba" / "digits_cuba.net"
KEYS = ("accuracy", "mean_steps", "spikes_per_sample", "nasfr", "steps_per_second", "samples")


def test_eval_data_is_the_split_the_card_reports():
    spec = read_netx(str(DIGITS))
    data = load_eval_data(spec, limit=30)
    card = json.loads((DIGITS.parent / "model_card.json").read_text())
    assert (data.dataset, data.encoding, data.T) == ("digits", "rate", 16)
    assert data.labels.tolist() == card["reference_subset"]["labels"][:30]
    assert data.inputs.shape == (30, 64, 16)


def test_lava_cutoff_controller_equals_offline_rule_on_emulator():
    """Same thresholds, same samples: the Lava run's decisions are the offline rule's."""
    kw = dict(limit=40, epsilon=0.03, calibration_limit=400)
    lava = evaluate(str(DIGITS), backend="lava-fixed", **kw)
    emu = evaluate(str(DIGITS), backend="emulator", **kw)
    assert lava.samples == emu.samples == 40
    assert lava.predictions == emu.predictions
    assert lava.steps == emu.steps
    assert lava.mean_steps < 16                      # the cutoff ended some samples early
    assert (lava.accuracy, lava.spikes_per_sample, lava.nasfr) == \
        (emu.accuracy, emu.spikes_per_sample, emu.nasfr)
    # an independent computation of the same rule on the emulator's full outputs
    spec = read_netx(str(DIGITS))
    data = load_eval_data(spec, limit=40)
    from loihi_snn.app.evaluation import resolve_thresholds
    beta, _, _ = resolve_thresholds(spec, data, 0.03, 400)
    preds, steps = offline_cutoff(emulate(spec, data.inputs), beta)
    assert preds.tolist() == lava.predictions and steps.tolist() == lava.steps
    assert lava.accuracy == pytest.approx(np.mean(preds == data.labels))


def test_spike_counts_equal_per_layer_lava_run():
    from loihi_snn.sim.runtime.probe import run_layers
    spec = read_netx(str(DIGITS))
    data = load_eval_data(spec, limit=2)
    counts, neurons = layer_spike_counts(spec, data.inputs)
    assert neurons.tolist() == [128, 10]
    lava_layers = [np.stack(z) for z in zip(*(run_layers(str(DIGITS), x) for x in data.inputs))]
    assert len(lava_layers) == counts.shape[0]
    for li, spikes in enumerate(lava_layers):          # (N, neurons, T)
        assert np.array_equal(np.count_nonzero(spikes, axis=1), counts[li])
    full = np.full(2, 16)
    per, rate = spikes_within(counts, neurons, full)
    assert per.tolist() == spikes_per_sample(lava_layers).tolist()
    assert rate == pytest.approx(nasfr(lava_layers))
    # counted only over the steps used
    per3, _ = spikes_within(counts, neurons, np.array([3, 16]))
    assert per3[0] == sum(np.count_nonzero(s[0][..., :3]) for s in lava_layers)
    assert per3[1] == per[1]


def test_cli_eval_json_without_cutoff(tmp_path):
    proc = cli("eval", DIGITS, "--limit", "30", "--backend", "emulator", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert all(k in out for k in KEYS)
    card = json.loads((DIGITS.parent / "model_card.json").read_text())
    ref = card["reference_subset"]
    expected = np.mean(np.array(ref["lava_predictions"][:30]) == np.array(ref["labels"][:30]))
    assert out["samples"] == 30 and out["accuracy"] == pytest.approx(expected)
    assert out["mean_steps"] == 16 and out["cutoff"] is False
    assert out["spikes_per_sample"] > 0 and 0 < out["nasfr"] < 1
    assert out["steps_per_second"] > 0


def test_cli_eval_table_with_stored_thresholds(tmp_path):
    from loihi_snn.core.cutoff import Calibration
    from loihi_snn.netx.calibration import store_calibration
    net = tmp_path / "cal.net"
    shutil.copy(DIGITS, net)
    store_calibration(str(net), Calibration(beta=np.full(16, 2.0), epsilon=0.05))
    proc = cli("eval", net, "--limit", "20", "--cutoff", "--backend", "emulator")
    assert proc.returncode == 0, proc.stderr
    assert "thresholds stored in the file" in proc.stdout
    assert "accuracy" in proc.stdout and "mean steps / sample" in proc.stdout
    js = json.loads(cli("eval", net, "--limit", "20", "--cutoff", "--backend", "emulator",
                        "--json", "--per-sample").stdout)
    assert js["epsilon"] == 0.05 and len(js["steps"]) == 20 and js["mean_steps"] < 16


def test_cli_eval_errors(tmp_path):
    assert_one_error_line(cli("eval", DIGITS, "--cutoff", "--limit", "5"),
                          "no cutoff thresholds", "--epsilon")
    assert_one_error_line(cli("eval", DIGITS, "--dataset", "mnist1d", "--limit", "5"),
                          "shape", "(64,)")
    assert_one_error_line(cli("eval", DIGITS, "--epsilon", "1.5"), "--epsilon")
    assert_one_error_line(cli("eval", DIGITS, "--dataset", "nope"), "nope", "digits")
    assert_one_error_line(cli("eval", tmp_path / "missing.net"), "missing.net")
    oxford = shared_network("oxford")
    if oxford.exists():
        assert_one_error_line(cli("eval", oxford), "--dataset")

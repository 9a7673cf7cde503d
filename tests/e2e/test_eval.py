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


# ---------------------------------------------------------------------------- torchrun
def _torchrun_eval(tmp_path, *args: str) -> dict:
    """``loihi-snn eval ... --json --per-sample`` under ``torchrun`` with 2 CPU ranks: only
    rank 0 prints (one JSON line), every rank exits 0."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    torchrun = Path(sys.executable).with_name("torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT))
    env.pop("RANK", None)
    proc = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", "-m",
                           "loihi_snn.app.cli", "eval", str(DIGITS), *args,
                           "--json", "--per-sample"],
                          capture_output=True, text=True, timeout=600, env=env,
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, proc.stdout            # rank 0 reports for both
    return json.loads(lines[0])


def _same_result(dist: dict, one) -> None:
    ref = one.to_dict(per_sample=True)
    for key in ("accuracy", "mean_steps", "spikes_per_sample", "nasfr", "samples",
                "predictions", "steps", "epsilon", "backend", "cutoff"):
        assert dist[key] == ref[key], key
    if "metrics" in ref:
        a, b = dict(dist["metrics"]), dict(ref["metrics"])
        for d in (a, b):
            d.pop("latency_seconds", None)
        assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_eval_under_torchrun_equals_one_process(tmp_path):
    """Two torchrun ranks each run half the samples (an odd count: unequal halves) and gather
    over torch.distributed: predictions, steps, spikes and NeuroBench metrics equal to one
    process's run of the whole split."""
    args = dict(limit=37, epsilon=0.03, calibration_limit=200)
    one = evaluate(str(DIGITS), backend="emulator", metrics=True, **args)
    dist = _torchrun_eval(tmp_path, "--backend", "emulator", "--limit", "37", "--epsilon",
                          "0.03", "--calibration-limit", "200", "--metrics")
    _same_result(dist, one)
    assert one.cutoff and one.mean_steps < one.T                # the cutoff did act


@pytest.mark.lava
@pytest.mark.slow
def test_eval_under_torchrun_on_lava_equals_one_process(tmp_path):
    """The same on Lava: each rank streams its share through its own supervised Lava run
    with the cutoff controller; the gathered decisions equal one run's."""
    one = evaluate(str(DIGITS), backend="lava-fixed", limit=9, epsilon=0.03,
                   calibration_limit=200)
    dist = _torchrun_eval(tmp_path, "--backend", "lava-fixed", "--limit", "9", "--epsilon",
                          "0.03", "--calibration-limit", "200")
    _same_result(dist, one)


def test_eval_rank_without_its_peers_ends_in_one_line():
    """A torchrun rank whose peers never come (rank 0 absent) does not wait forever: past
    LOIHI_SNN_GATHER_TIMEOUT it ends in one line, exit status 2."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as s:                      # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO_ROOT), RANK="1",
               LOCAL_RANK="1", WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
               LOIHI_SNN_GATHER_TIMEOUT="3")
    proc = subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", "eval", str(DIGITS),
                           "--backend", "emulator", "--limit", "5", "--no-spikes"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    # torch's c10d logs its own socket line first; ours is the one error line, last
    errors = [l for l in proc.stderr.splitlines() if l.startswith("error: ")]
    assert len(errors) == 1 and proc.stderr.strip().splitlines()[-1] == errors[0]
    assert "rank 1 of 2" in errors[0] and "LOIHI_SNN_GATHER_TIMEOUT" in errors[0]

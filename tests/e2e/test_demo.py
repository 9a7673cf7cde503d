"""The demo (make demo) runs end to end at a tiny size: torch and Lava agree, cutoff included."""
from __future__ import annotations

import json


def test_demo_small(tmp_path, capsys):
    from loihi_snn.app import demo
    export = tmp_path / "netx"
    rc = demo.main(["--out", str(tmp_path), "--epochs", "3", "--hidden", "32",
                    "--train-limit", "600", "--lava-samples", "16", "--seed", "1",
                    "--epsilon", "0.1", "--export-dir", str(export)])
    assert rc == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["samples"] == 16
    assert report["identical_output_spikes"] is True
    assert report["identical_layer_spike_counts"] is True
    assert report["lava_cutoff_equals_offline_rule"] is True
    assert report["lava_accuracy"] == report["torch_accuracy"]
    assert report["lava_cutoff_accuracy"] == report["torch_cutoff_accuracy"]
    assert report["lava_mean_steps"] == report["torch_mean_steps"] <= report["T"]
    assert report["lava_cutoff_spikes_per_sample"] <= report["lava_spikes_per_sample"]
    # what the deployment costs (loihi_snn.metrics): fewer operations with the cutoff
    assert 0 < report["lava_cutoff_synops_per_sample"] <= report["lava_synops_per_sample"]
    dep = report["deployment"]
    assert dep["cutoff"]["latency"]["mean_steps"] == report["lava_mean_steps"]
    assert dep["full_T"]["spikes_per_sample"] == report["lava_spikes_per_sample"]
    for name in ("raster.png", "firing_rates.png", "accuracy_vs_steps.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (export / "digits_lif.net").stat().st_size > 0
    assert (export / "MODEL_CARD.md").stat().st_size > 0
    out = capsys.readouterr().out
    assert "accuracy with the cutoff" in out and "mean steps with the cutoff" in out
    assert "identical output spikes: True" in out
    assert "synaptic ops / sample, cutoff" in out and "effective ACs" in out

"""The demo (make demo) runs end to end at a tiny size and Lava agrees with SLAYER."""
from __future__ import annotations

import json


def test_demo_small(tmp_path, capsys):
    from loihi_snn import demo
    rc = demo.main(["--out", str(tmp_path), "--epochs", "2", "--hidden", "32",
                    "--lava-samples", "12", "--seed", "1"])
    assert rc == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["samples"] == 12
    assert report["identical_output_spikes"] is True
    assert report["lava_accuracy"] == report["torch_accuracy"]
    for name in ("digits_cuba.net", "raster.png", "firing_rates.png", "accuracy_vs_steps.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "identical output spikes: True" in capsys.readouterr().out

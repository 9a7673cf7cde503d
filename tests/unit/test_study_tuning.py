"""The one tuning protocol of the studies (studies.harness.tune): every grid point scored on
every split, the best mean chosen (ties: the first), the record a result file keeps, and
how the knobs reach a TrainConfig.  No training here."""
from __future__ import annotations

from studies import harness


def test_grid_points_in_written_order():
    pts = harness.grid_points({"lr": [0.01, 0.1], "tau_grad": [0.03, 0.3]})
    assert pts == [{"lr": 0.01, "tau_grad": 0.03}, {"lr": 0.01, "tau_grad": 0.3},
                   {"lr": 0.1, "tau_grad": 0.03}, {"lr": 0.1, "tau_grad": 0.3}]


def test_tune_scores_every_point_on_every_split_and_keeps_the_best_mean():
    calls = []

    def score(params, split):
        calls.append((params["lr"], split))
        return {0.01: 0.5, 0.03: 0.9, 0.1: 0.9}[params["lr"]] + (0.01 if split == 2 else 0.0)

    rec = harness.tune({"lr": [0.01, 0.03, 0.1]}, score, splits=(1, 2))
    assert calls == [(0.01, 1), (0.01, 2), (0.03, 1), (0.03, 2), (0.1, 1), (0.1, 2)]
    assert rec["choice"] == {"lr": 0.03}                  # tie with 0.1: the first wins
    assert rec["validation_accuracy"] == 0.905 and rec["trainings"] == 6
    assert rec["splits"] == [1, 2] and rec["grid"] == {"lr": [0.01, 0.03, 0.1]}
    assert [p["scores"] for p in rec["points"]] == [[0.5, 0.51], [0.9, 0.91], [0.9, 0.91]]
    assert "never" in rec["rule"] and rec["val_fraction"] == harness.TUNE_VAL_FRACTION


def test_knobs_reach_the_config_and_the_final_run_uses_the_whole_training_split():
    from loihi_snn.train.config import TrainConfig
    cfg = TrainConfig(name="t", dataset="digits", encoding="rate", T=4,
                      neuron={"type": "lif", "threshold": 1.0, "current_decay": 0.5,
                              "voltage_decay": 0.1, "tau_grad": 0.1, "scale_grad": 3.0},
                      architecture=[{"type": "dense", "out": 8}, {"type": "dense"}],
                      optimizer={"type": "adam", "lr": 0.01, "schedule": "cosine"},
                      loss={"type": "cross_entropy", "scale": 1.0})
    tuned = harness.apply_params(cfg, {"lr": 0.1, "tau_grad": 0.03, "epochs": 3})
    assert tuned.optimizer["lr"] == 0.1 and tuned.optimizer["schedule"] == "cosine"
    assert tuned.neuron["tau_grad"] == 0.03 and tuned.epochs == 3
    final = harness.final_config(cfg, {"lr": 0.03}, seed=4)
    assert final.seed == 4 and final.val_fraction == 0.0 and final.select == "last"
    assert harness.TUNE_SPLITS and min(harness.TUNE_SPLITS) >= 1000   # not evaluation seeds

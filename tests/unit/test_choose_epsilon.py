"""core.cutoff.choose_epsilon: the tolerance is picked on validation outputs only."""
from __future__ import annotations

import numpy as np

from loihi_snn.core.cutoff import calibrate, choose_epsilon, offline_cutoff


def _outputs(n: int, seed: int, T: int = 8, classes: int = 4):
    """Outputs whose label leads from a random step on; a quarter of the samples end wrong."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    out = (rng.random((n, classes, T)) < 0.3).astype(np.int64)
    start = rng.integers(0, T, n)
    wrong = rng.random(n) < 0.25
    for i in range(n):
        winner = (labels[i] + 1) % classes if wrong[i] else labels[i]
        out[i, winner, start[i]:] = 1
    return out, labels


def test_largest_epsilon_within_tolerance_on_validation():
    cal_out, cal_lab = _outputs(300, 0)
    val_out, val_lab = _outputs(200, 1)
    eps = (0.0, 0.05, 0.1, 0.2, 0.4)
    chosen, sweep = choose_epsilon(cal_out, cal_lab, val_out, val_lab, eps, tolerance=0.02)
    assert [s["epsilon"] for s in sweep] == list(eps)
    fixed = sweep[0]["val_fixed_T_accuracy"]
    ok = [s["epsilon"] for s in sweep if s["val_accuracy"] >= fixed - 0.02 - 1e-12]
    assert chosen.epsilon == max(ok)
    # the chosen calibration is calibrate() on the calibration split at that epsilon
    ref = calibrate(cal_out, cal_lab, epsilon=chosen.epsilon)
    np.testing.assert_array_equal(chosen.beta, ref.beta)
    # and the sweep's figures are the offline rule on the validation outputs
    p, s = offline_cutoff(val_out, ref.beta)
    row = next(r for r in sweep if r["epsilon"] == chosen.epsilon)
    assert row["val_accuracy"] == float((p == val_lab).mean())
    assert row["val_mean_steps"] == float(s.mean())


def test_falls_back_to_the_smallest_epsilon():
    cal_out, cal_lab = _outputs(200, 2)
    val_out, val_lab = _outputs(100, 3)
    # tolerance -1: no epsilon can be within it, so the strictest one is kept
    chosen, _ = choose_epsilon(cal_out, cal_lab, val_out, val_lab, (0.3, 0.0, 0.1),
                               tolerance=-1.0)
    assert chosen.epsilon == 0.0

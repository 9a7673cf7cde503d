"""Top-K cutoff: stop inference once the output is confident (Wu et al., 2025).

Definitions (one place, used by the Lava controller models and offline analysis):

- ``Y(t)``: cumulative output spike counts after t steps, shape (classes,).
- ``gap(t) = Top1(Y(t)) - Top2(Y(t))``.
- decision at step t (1-based): stop when ``gap(t) > beta[t - 1]`` or ``t == max_steps``;
  the answer is ``argmax Y(t)`` (lowest index on ties, as ``np.argmax``).
- calibration: for each t, the smallest beta on a grid of 100 bins from 0 to the largest
  observed gap such that, among training samples with ``gap(t) > beta``, at least a
  fraction ``1 - epsilon`` are correct at t *and stay correct for every later step*.
- OCT (optimal cutoff timestep): the first step from which a sample's prediction is
  correct and stays correct -- an oracle lower bound on the steps needed.

Arrays of outputs are (N, classes, T): spike counts per step, time last.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from loihi_snn.core.args import check_int, check_number
from loihi_snn.core.errors import ShapeError

NEVER = np.inf          # a threshold that never fires: run to max_steps


def check_outputs(outputs, name: str = "outputs") -> np.ndarray:
    """Recorded outputs as a numeric (N, classes, T) array with at least two classes and
    one step; else a one-line ShapeError."""
    try:
        arr = np.asarray(outputs)
    except Exception:  # noqa: BLE001 - ragged lists
        arr = np.asarray(None)
    if arr.dtype.kind not in "biuf":
        raise ShapeError(f"{name} must be numeric output spike counts (N, classes, T), got "
                         f"{type(outputs).__name__} of dtype {arr.dtype}")
    if arr.ndim != 3 or arr.shape[1] < 2 or arr.shape[2] < 1:
        raise ShapeError(f"{name} must have shape (N, classes, T) with at least 2 classes "
                         f"and 1 step, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ShapeError(f"{name} contains NaN or infinite values")
    return arr


def cutoff_thresholds(beta, max_steps: int, name: str = "beta") -> np.ndarray:
    """Per-step thresholds ``beta`` as the (max_steps,) float array every cutoff runner
    uses: one value per step (a 1-D array), no NaN; ``inf`` (or any value the gap
    cannot pass) never stops.  Shorter than ``max_steps``: the steps past its end never
    stop (padded with ``inf``); longer: cut to ``max_steps``.  One-line ShapeError
    otherwise."""
    try:
        arr = np.asarray(beta, dtype=np.float64)
    except (TypeError, ValueError):
        raise ShapeError(f"{name} must be a 1-D array of per-step thresholds (numbers), got "
                         f"{type(beta).__name__}") from None
    if arr.ndim != 1:
        raise ShapeError(f"{name} must be a 1-D array of per-step thresholds, one per step, "
                         f"got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ShapeError(f"{name} contains NaN (use inf for a step that never stops)")
    if arr.size < max_steps:
        arr = np.concatenate([arr, np.full(max_steps - arr.size, NEVER)])
    return arr[:max_steps]


def top_gap(counts: np.ndarray) -> np.ndarray:
    """Top1 - Top2 of cumulative counts along axis -2 (classes); any leading shape."""
    part = np.sort(counts, axis=-1 if counts.ndim == 1 else -2)
    if counts.ndim == 1:
        return part[-1] - part[-2]
    return part[..., -1, :] - part[..., -2, :]


def decide(counts: np.ndarray, t: int, beta: np.ndarray, max_steps: int) -> bool:
    """The stopping rule for one sample at step ``t`` (1-based).

    ``counts`` (classes,) cumulative counts, ``beta`` (>= max_steps,) thresholds.
    """
    if t >= max_steps:
        return True
    srt = np.sort(counts)
    return bool(srt[-1] - srt[-2] > beta[t - 1])


def offline_cutoff(outputs: np.ndarray, beta: np.ndarray,
                   max_steps: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Apply the rule to recorded outputs (N, classes, T) -> (predictions, steps used).

    Identical to what the Lava controller computes on the same output spikes.
    ``beta`` (T,) per-step thresholds; shorter, the remaining steps never stop (as on
    Lava, :func:`cutoff_thresholds`).  ``max_steps``: 1..T (default T).
    """
    outputs = check_outputs(outputs)
    T = check_int(outputs.shape[-1] if max_steps is None else max_steps, "max_steps",
                  1, outputs.shape[-1])
    cum = np.cumsum(outputs, axis=-1)
    preds = np.zeros(len(outputs), dtype=np.int64)
    steps = np.zeros(len(outputs), dtype=np.int64)
    beta = cutoff_thresholds(beta, T)
    for n in range(len(outputs)):
        for t in range(1, T + 1):
            if decide(cum[n, :, t - 1], t, beta, T):
                preds[n] = int(np.argmax(cum[n, :, t - 1]))
                steps[n] = t
                break
    return preds, steps


def check_labels(labels, outputs: np.ndarray, name: str = "labels") -> np.ndarray:
    """Class labels (N,) for ``outputs`` (N, classes, T): integers in [0, classes);
    else a one-line ShapeError."""
    try:
        arr = np.asarray(labels)
    except Exception:  # noqa: BLE001
        arr = np.asarray(None)
    N, classes = outputs.shape[0], outputs.shape[1]
    if arr.shape != (N,):
        raise ShapeError(f"{name} must have shape ({N},), one label per sample of the "
                         f"outputs, got {arr.shape}")
    if arr.dtype.kind not in "biuf" or (arr.dtype.kind == "f" and
                                        not np.all(arr == np.round(arr))):
        raise ShapeError(f"{name} must be integer class indices, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= classes):
        raise ShapeError(f"{name} must be class indices from 0 to {classes - 1}, found "
                         f"{arr.min():g}..{arr.max():g}")
    return arr.astype(np.int64)


def correct_and_stays(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(N, T) boolean: the prediction at t is correct and stays correct until T."""
    cum = np.cumsum(np.asarray(outputs), axis=-1)
    correct = cum.argmax(axis=1) == np.asarray(labels)[:, None]          # (N, T)
    # stays correct: reverse cumulative AND
    return np.flip(np.logical_and.accumulate(np.flip(correct, -1), axis=-1), -1)


def optimal_cutoff_steps(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """OCT per sample (1-based); T + 1 where the sample is wrong at T (never settles)."""
    stays = correct_and_stays(outputs, labels)
    T = stays.shape[-1]
    first = np.where(stays.any(-1), stays.argmax(-1) + 1, T + 1)
    return first


@dataclass
class Calibration:
    """Per-step thresholds ``beta`` (T,) for tolerance ``epsilon``."""
    beta: np.ndarray
    epsilon: float
    bins: int = 100

    def to_dict(self) -> dict:
        return {"beta": np.asarray(self.beta, float), "epsilon": float(self.epsilon),
                "bins": int(self.bins)}


def calibrate(outputs: np.ndarray, labels: np.ndarray, epsilon: float = 0.05,
              bins: int = 100) -> Calibration:
    """Per-step thresholds from (training) outputs (N, classes, T) and labels (N,).

    For each t: the smallest beta on ``linspace(0, max gap, bins)`` such that among
    samples with ``gap(t) > beta`` at least ``1 - epsilon`` are correct and stay
    correct; if none qualifies, ``inf`` (never stop at t).
    """
    epsilon = check_number(epsilon, "epsilon", minimum=0.0, below=1.0,
                           accepted="a number in [0, 1)")
    bins = check_int(bins, "bins", 1)
    outputs = check_outputs(outputs)
    labels = check_labels(labels, outputs)
    cum = np.cumsum(outputs, axis=-1)
    gaps = top_gap(cum)                                  # (N, T)
    stays = correct_and_stays(outputs, labels)           # (N, T)
    T = outputs.shape[-1]
    grid = np.linspace(0.0, float(gaps.max()) if gaps.size else 0.0, bins)
    beta = np.full(T, NEVER)
    for t in range(T):
        for b in grid:
            sel = gaps[:, t] > b
            if sel.any() and stays[sel, t].mean() >= 1.0 - epsilon:
                beta[t] = b
                break
    return Calibration(beta=beta, epsilon=float(epsilon), bins=bins)


def choose_epsilon(calib_outputs: np.ndarray, calib_labels: np.ndarray,
                   val_outputs: np.ndarray, val_labels: np.ndarray,
                   epsilons=(0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2),
                   tolerance: float = 0.01, bins: int = 100) -> Tuple[Calibration, list]:
    """Pick the tolerance on held-out data: calibrate on ``calib_*`` for every epsilon,
    apply each calibration to the validation outputs, and keep the largest epsilon whose
    validation accuracy is at least the validation fixed-T accuracy minus ``tolerance``
    (falls back to the smallest epsilon).  No test data is involved.

    Arrays (N, classes, T) and (N,).  Returns ``(calibration, sweep)``; ``sweep`` lists
    ``{"epsilon", "val_accuracy", "val_mean_steps"}`` per epsilon, plus the fixed-T
    validation accuracy under ``"val_fixed_T_accuracy"`` in each entry.
    """
    val_outputs = np.asarray(val_outputs)
    val_labels = np.asarray(val_labels)
    fixed = float((np.cumsum(val_outputs, -1)[..., -1].argmax(1) == val_labels).mean())
    sweep, chosen = [], None
    for eps in sorted(float(e) for e in epsilons):
        cal = calibrate(calib_outputs, calib_labels, epsilon=eps, bins=bins)
        preds, steps = offline_cutoff(val_outputs, cal.beta)
        acc = float((preds == val_labels).mean())
        sweep.append({"epsilon": eps, "val_accuracy": acc, "val_mean_steps": float(steps.mean()),
                      "val_fixed_T_accuracy": fixed})
        if chosen is None or acc >= fixed - tolerance - 1e-12:
            chosen = cal
    return chosen, sweep

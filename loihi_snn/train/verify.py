"""Check a trained network: torch evaluation, the same samples on Lava, the Top-K cutoff.

- :func:`evaluate_model`: SLAYER's quantized eval forward (what the exported file
  computes) on a batch of samples.  Not :func:`loihi_snn.app.evaluation.evaluate`,
  which evaluates a NetX *file*.
- :func:`run_on_lava`: the first test samples streamed through Lava fixed point
  (:func:`loihi_snn.sim.runtime.stream.run_many`) and compared with torch, spike for
  spike; for recurrent networks also :func:`fresh_run_check`.
- :func:`calibrate_cutoff`: the Top-K cutoff thresholds from the training split,
  stored in the file's ``/cutoff`` group; :func:`cutoff_on_lava` runs the Lava cutoff
  controller (:func:`loihi_snn.sim.runtime.cutoff_run.run_cutoff`) with them.

Output spikes are ``(N, classes, T)``; the predicted class is the output neuron
with the most spikes (ties: the lowest index, in torch and numpy alike).
"""
from __future__ import annotations

import time
from typing import Any, Dict, Optional

import numpy as np
import torch

from loihi_snn import families
from loihi_snn.core.cutoff import calibrate, offline_cutoff, optimal_cutoff_steps
from loihi_snn.core.errors import LoihiSnnError
from loihi_snn.netx.calibration import store_calibration
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.runtime.cutoff_run import run_cutoff
from loihi_snn.sim.runtime.run import run
from loihi_snn.sim.runtime.stream import run_many
from loihi_snn.train.config import TrainConfig
from loihi_snn.train.data import Splits

__all__ = ["FRESH_RUN_SAMPLES", "REFERENCE_SUBSET", "calibrate_cutoff", "cutoff_on_lava",
           "evaluate_model", "fresh_run_check", "run_on_lava"]

REFERENCE_SUBSET = 60        # first test samples whose predictions the card records
FRESH_RUN_SAMPLES = 3        # recurrent networks: samples also run one Lava run each


def evaluate_model(model, inputs: np.ndarray, *, batch_size: int = 256,
                   device: str = "cpu", output_scale: float = 1.0) -> Dict[str, np.ndarray]:
    """SLAYER eval forward (quantized weights) on a batch of samples.

    Args:
        model: a :class:`~loihi_snn.train.models.SpikingNet` (for a network with
            ternary layers, pass :func:`loihi_snn.train.checkpoint.export_view`'s folded
            copy and its output scale to get exactly what the exported file computes).
        inputs: ``(N, *input_shape, T)``.
        output_scale: multiplies the output counts before the argmax (the exported
            file's output scale; its sign matters).

    Returns:
        dict with ``output`` ``(N, classes, T)`` int16 spikes (-1 / 0 / +1 for a
        folded ternary layer), ``predictions`` ``(N,)``, ``layer_spikes`` ``(N, L)``
        number of spikes (of either sign) of every spiking block per sample, and
        ``layer_spikes_per_step`` ``(L, N, T)`` the same per time step.
    """
    model.eval()
    outs, counts = [], []
    with torch.no_grad():
        for i in range(0, len(inputs), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i:i + batch_size])).float().to(device)
            out, layers = model(x, return_layers=True)
            outs.append(out.cpu().numpy())
            counts.append(np.stack([(l != 0).reshape(l.shape[0], -1, l.shape[-1]).sum(1)
                                    .cpu().numpy() for l in layers]))
    output = np.concatenate(outs) if outs else np.zeros((0, model.num_classes, 0))
    per_step = np.concatenate(counts, axis=1).astype(np.int64) if counts else np.zeros((0, 0, 0))
    return {"output": np.rint(output).astype(np.int16) if np.array_equal(output, np.rint(output))
            else output.astype(np.float32),
            "predictions": (output.sum(-1) * float(output_scale)).argmax(1).astype(np.int64)
            if len(output) else np.zeros(0, np.int64),
            "layer_spikes": per_step.sum(-1).T if counts else np.zeros((0, 0)),
            "layer_spikes_per_step": per_step}


def lava_backend(net_path: str) -> str:
    """The Lava backend that streams a file's test samples: ``lava-fixed`` (the per-layer
    graph behind the cutoff controller, which resets every neuron between samples), or
    ``lava-fused`` (one fixed_pt process, one fresh lane per sample, bit-exact with
    lava-fixed) when some neurons have no reset (resonate-and-fire, ALIF)."""
    spec = read_netx(net_path)
    if all(l.neuron is None or getattr(families.get(l.neuron.type), "controllable", True)
           for l in spec.layers):
        return "lava-fixed"
    return "lava-fused"


def run_on_lava(net_path: str, test, res: Dict[str, np.ndarray], n: int, config: TrainConfig,
                show: bool, keep: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Stream the first ``n`` test samples through Lava and compare with torch.

    Args:
        test: the test EncodedDataset (``inputs`` ``(N, *input_shape, T)``, ``labels``).
        res: :func:`evaluate_model` on ``test`` plus ``output_scale``.
        keep: when given, receives the Lava output spikes ``(n, classes, T)`` under
            ``"output"``.

    Returns:
        the card's ``lava`` section (accuracy, agreement, identical output spikes,
        time, ``reference_subset``, ``fresh_runs`` for recurrent networks), or
        ``{"skipped": reason}``.
    """
    if n < 1:
        return {"skipped": "no test samples"}
    X, labels = test.inputs[:n], test.labels[:n]
    t0 = time.time()
    backend = lava_backend(net_path)
    try:
        out = run_many(net_path, X, progress=show, backend=backend)
    except LoihiSnnError as exc:
        return {"skipped": f"Lava run failed: {exc}"}
    seconds = time.time() - t0
    out = out.reshape(res["output"][:n].shape)
    if keep is not None:
        keep["output"] = out
    lava_pred = out.sum(-1).argmax(1)
    scale = float(res.get("output_scale", 1.0))
    spikes = out if scale == 1.0 else np.rint(np.asarray(out, np.float64) / scale)
    torch_pred = res["predictions"][:n]
    k = min(REFERENCE_SUBSET, n)
    extra: Dict[str, Any] = {}
    if any(layer["type"] == "recurrent" for layer in config.architecture):
        extra = fresh_run_check(net_path, X, res["output"][:n], out, scale)
    return {**extra,
        "backend": backend, "samples": int(n),
        "accuracy": float((lava_pred == labels).mean()),
        "torch_accuracy": float((torch_pred == labels).mean()),
        "agreement": float((lava_pred == torch_pred).mean()),
        "identical_output_spikes": bool(np.array_equal(spikes, res["output"][:n])),
        "output_spikes_per_sample": float(np.count_nonzero(spikes) / n),
        "seconds": round(seconds, 2),
        "samples_per_second": round(n / seconds, 2) if seconds > 0 else None,
        "reference_subset": {
            "split": "test", "first": int(k), "labels": labels[:k].tolist(),
            "lava_predictions": lava_pred[:k].tolist(), "torch_predictions": torch_pred[:k].tolist(),
            "lava_accuracy": float((lava_pred[:k] == labels[:k]).mean()),
            "torch_accuracy": float((torch_pred[:k] == labels[:k]).mean()),
            "identical_output_spikes": bool(np.array_equal(spikes[:k], res["output"][:k])),
        },
    }


def fresh_run_check(net_path: str, X: np.ndarray, torch_out: np.ndarray,
                    streamed: np.ndarray, scale: float = 1.0) -> Dict[str, Any]:
    """For recurrent networks: rerun the first samples one Lava run each and compare.

    ``run_many`` resets the neurons between samples, but a ``dense_rec`` spike emitted
    on the last step before a reset is still in flight and can reach the next sample;
    fresh single-sample runs have no such boundary, so they show whether a difference
    comes from the network or from streaming.

    Args:
        X: ``(n, *input_shape, T)`` inputs; ``torch_out`` and ``streamed`` their torch
            and streamed-Lava output spikes ``(n, classes, T)``.
        scale: the file's output scale (Lava outputs are divided by it for torch).

    Returns:
        ``{"fresh_runs": {...}}``: how many of the first :data:`FRESH_RUN_SAMPLES` runs
        equal torch and the streamed run, or ``{"skipped": reason}`` inside.
    """
    k = min(FRESH_RUN_SAMPLES, len(X))
    same_torch = same_stream = 0
    try:
        for i in range(k):
            one = np.asarray(run(net_path, X[i])).reshape(torch_out[i].shape)
            same_torch += int(np.array_equal(one if scale == 1.0 else np.rint(one / scale),
                                             torch_out[i]))
            same_stream += int(np.array_equal(one, streamed[i]))
    except LoihiSnnError as exc:
        return {"fresh_runs": {"skipped": f"{exc}"}}
    return {"fresh_runs": {
        "samples": k, "identical_to_torch": same_torch, "identical_to_stream": same_stream,
        "note": "one Lava run per sample (no streaming); run_many can carry dense_rec spikes "
                "in flight across the reset between samples"}}


def calibrate_cutoff(model, splits: Splits, res: Dict[str, np.ndarray], net_path: str,
                     config: TrainConfig) -> Dict[str, Any]:
    """Calibrate the Top-K cutoff on the whole training split and store it in ``net_path``.

    The outputs are those of the SLAYER quantized forward (spike for spike what Lava
    fixed_pt computes; the card's Lava comparison checks this on the test samples) on
    every training sample, the validation hold-out included.  Also applies the rule
    offline to the torch outputs of the whole test split.

    Args:
        model: the network as exported (:func:`loihi_snn.train.checkpoint.export_view`).
        res: :func:`evaluate_model` on the whole test split.

    Returns:
        the card's ``cutoff`` section (without its ``lava`` part).
    """
    parts = [splits.train] + ([splits.val] if splits.val is not None else [])
    outs = [evaluate_model(model, p.inputs)["output"] for p in parts]
    train_out = np.concatenate(outs).astype(np.int64)
    train_labels = np.concatenate([p.labels for p in parts])
    cal = calibrate(train_out, train_labels, epsilon=float(config.cutoff_epsilon))
    store_calibration(net_path, cal, dataset=config.dataset, encoding=splits.encoding,
                      T=int(splits.T), calibrated_on=f"{len(train_labels)} training samples")
    test = splits.test
    T = int(splits.T)
    info: Dict[str, Any] = {
        "epsilon": float(cal.epsilon), "bins": int(cal.bins),
        "beta": [None if not np.isfinite(b) else float(b) for b in cal.beta],
        "beta_note": "per-step threshold on Top1 - Top2 of the cumulative output counts; "
                     "null = never stop at that step; stored in the file's /cutoff group",
        "calibrated_on": "whole training split (train + validation), SLAYER quantized "
                         "forward (= Lava fixed_pt spike for spike)",
        "calibration_samples": int(len(train_labels)),
        "T": T,
    }
    if len(test):
        preds, steps = offline_cutoff(res["output"], cal.beta)
        oct_steps = optimal_cutoff_steps(res["output"], test.labels)
        settled = oct_steps <= T
        info["torch"] = {
            "source": "offline rule on the torch quantized outputs of the whole test split",
            "samples": int(len(test)), "accuracy": float((preds == test.labels).mean()),
            "mean_steps": float(steps.mean()), "speedup": T / float(steps.mean()),
            "fixed_T_accuracy": float((res["predictions"] == test.labels).mean()),
            "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
            "oct_settled_fraction": float(settled.mean())}
    return info


def cutoff_on_lava(net_path: str, test, n: int, lava_out: np.ndarray,
                   calibration: Dict[str, Any], show: bool) -> Dict[str, Any]:
    """Run the first ``n`` test samples through the Lava cutoff controller (stored thresholds).

    Args:
        lava_out: the streamed Lava output spikes ``(n, classes, T)`` of the same samples
            (from :func:`run_on_lava`), for the offline rule to compare with.
        calibration: :func:`calibrate_cutoff`'s section (``beta``, ``T``).

    Returns:
        the ``lava`` part of the card's ``cutoff`` section, or ``{"skipped": reason}``.
    """
    X, labels = test.inputs[:n], test.labels[:n]
    beta = np.array([np.inf if b is None else b for b in calibration["beta"]], dtype=np.float64)
    try:
        r = run_cutoff(net_path, X, progress=show)
    except LoihiSnnError as exc:
        return {"skipped": f"Lava cutoff run failed: {exc}"}
    preds, steps = np.asarray(r.predictions), np.asarray(r.steps)
    off_preds, off_steps = offline_cutoff(lava_out, beta)
    T = int(calibration["T"])
    k = min(REFERENCE_SUBSET, n)
    return {
        "backend": "lava-fixed", "samples": int(n),
        "accuracy": float((preds == labels).mean()), "mean_steps": float(steps.mean()),
        "speedup": T / float(steps.mean()),
        "fixed_T_accuracy": float((lava_out.sum(-1).argmax(1) == labels).mean()),
        "equals_offline_rule": bool(np.array_equal(preds, off_preds)
                                    and np.array_equal(steps, off_steps)),
        "total_steps": int(r.total_steps), "seconds": round(float(r.wall_seconds), 2),
        "steps_per_second": round(float(r.steps_per_second), 1),
        "reference_subset": {"first": int(k), "predictions": preds[:k].tolist(),
                             "steps": steps[:k].tolist(),
                             "accuracy": float((preds[:k] == labels[:k]).mean()),
                             "mean_steps": float(steps[:k].mean())},
    }

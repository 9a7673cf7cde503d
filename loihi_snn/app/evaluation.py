"""Evaluate a NetX network on a data set: accuracy, steps, spikes, speed (``loihi-snn eval``).

    from loihi_snn.app.evaluation import evaluate
    r = evaluate("netx_models/digits_cuba/digits_cuba.net", cutoff=True, epsilon=0.03)
    print(r.accuracy, r.mean_steps, r.spikes_per_sample)

The data set and its encoding are read from the file's ``/training`` group when the
network was exported by ``loihi-snn train`` (same data set, encoding, T, input
scale and seed, so the test split is exactly the one the model card reports);
otherwise name them.  With the cutoff, each sample ends when the Top-1/Top-2 gap of
its output counts passes the calibrated threshold of that step (thresholds stored
in the file, or calibrated now on the training split for ``epsilon``).

Where the numbers come from:

- ``accuracy`` / ``mean_steps`` / ``steps_per_second``: the chosen backend.  The
  Lava backends ``lava-fixed``/``lava-float``/``loihi2`` stream the whole split
  through one run with the cutoff controller process; ``lava-fused`` streams it
  through the fused process and ``emulator`` runs it as one batch, both applying the
  same rule (:func:`loihi_snn.core.cutoff.offline_cutoff`) to the output -- identical
  decisions, since their output equals lava-fixed's.  ``steps_per_second`` is
  sample-steps per wall-clock second of the run on every backend (one sample advanced
  one time step: one Lava step of the controller-streamed backends; the emulator's
  timed run also counts the spikes), load and compile excluded.
- ``spikes_per_sample`` / ``nasfr``: every spiking layer's spikes, counted by the
  bit-exact emulator (equal to Lava fixed_pt) over the steps each sample used.
- ``metrics`` (``metrics=True``, ``eval --metrics``): NeuroBench's metrics of the deployed
  network (:mod:`loihi_snn.sim.metrics`: synaptic operations, activation and connection
  sparsity, membrane updates, footprint, latency, the Loihi 2 estimate), from one more
  bit-exact emulator run over the steps each sample used.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from loihi_snn.core.args import (check_choice, check_flag, check_int, check_number, check_path,
                                 show)
from loihi_snn.core.cutoff import calibrate, offline_cutoff
from loihi_snn.core.errors import LoihiSnnError, NetxFormatError, OptionError
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.emulator import UnsupportedByEmulator, emulate
from loihi_snn.sim.metrics import format_metrics, metrics_from_activity, measure_activity
from loihi_snn.sim.runtime.cutoff_run import run_cutoff
from loihi_snn.sim.runtime.io import max_run_bytes
from loihi_snn.sim.runtime.run import resolve_backend
from loihi_snn.sim.runtime.shard import shard_of
from loihi_snn.sim.runtime.stream import run_many
from loihi_snn.train.config import ConfigError
from loihi_snn.train.data import scale_inputs
from loihi_snn.train.distributed import dist_from_env
from loihi_snn.train.datasets import (dataset_size, get_dataset_spec, list_datasets,
                                      load_dataset)

__all__ = ["EvalResult", "EvalData", "evaluate", "load_eval_data", "layer_spike_counts"]


class EvalError(LoihiSnnError, ValueError):
    """The evaluation cannot start: missing data-set name, shape mismatch, no thresholds."""


@dataclass
class EvalData:
    """A data split ready to run: inputs (N, *input_shape, T) integers, labels (N,)."""
    inputs: np.ndarray
    labels: np.ndarray
    dataset: str
    split: str
    encoding: str
    T: int
    seed: int
    input_scale: Optional[float] = None
    options: Dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalResult:
    """What ``loihi-snn eval`` prints (``to_dict()`` is its ``--json`` object).

    Units: ``mean_steps`` time steps per sample; ``spikes_per_sample`` spikes of all
    spiking layers per sample (within the steps used); ``nasfr`` spikes per neuron per
    step; ``steps_per_second`` sample-steps (one sample advanced one time step) per
    second, on every backend.
    """
    accuracy: float
    mean_steps: float
    spikes_per_sample: Optional[float]
    nasfr: Optional[float]
    steps_per_second: float
    samples: int
    net: str = ""
    dataset: str = ""
    split: str = "test"
    encoding: str = ""
    T: int = 0
    seed: int = 0
    backend: str = ""
    cutoff: bool = False
    epsilon: Optional[float] = None
    thresholds: str = "none"
    wall_seconds: float = 0.0
    spike_source: str = ""
    predictions: List[int] = field(default_factory=list)
    steps: List[int] = field(default_factory=list)
    #: NeuroBench's metrics of the deployed network (``metrics=True``; see
    #: :class:`loihi_snn.sim.metrics.DeploymentMetrics`), else None
    metrics: Optional[Dict[str, Any]] = None

    def to_dict(self, per_sample: bool = False) -> Dict[str, Any]:
        d = asdict(self)
        if not per_sample:
            d.pop("predictions")
            d.pop("steps")
            if isinstance(d.get("metrics"), dict):
                d["metrics"].pop("per_sample", None)
        if d.get("metrics") is None:
            d.pop("metrics", None)
        return d


# ---------------------------------------------------------------------------- data
#: data-set options a file's ``/training/dataset_options`` may not set: places on this
#: machine to write (a cache) are the user's to choose, never a file's
FILE_IGNORED_OPTIONS = ("cache_dir",)


def _show(value: Any) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= 60 else text[:57] + "..."


def _whole(value: Any) -> Optional[int]:
    """``value`` as an int when it is a whole number (an int, or a float holding one;
    a one-element array of one), else None (bools, fractions, strings, NaN...)."""
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, (bool, np.bool_)) or \
            not isinstance(value, (int, float, np.integer, np.floating)):
        return None
    if isinstance(value, (float, np.floating)) and not (np.isfinite(value)
                                                        and value == int(value)):
        return None
    return int(value)


def _training_info(spec) -> Dict[str, Any]:
    """The file's ``/training`` group (empty when absent), every field eval uses checked:
    a one-line NetxFormatError naming the field otherwise (a hostile or corrupt group
    must not end in a traceback, nor be rounded into something else)."""
    ext = spec.extensions.get("training") if isinstance(spec.extensions, dict) else None
    if not isinstance(ext, dict):
        return {}
    info = dict(ext)

    def bad(key: str, what: str) -> None:
        raise NetxFormatError(spec.path, f"must be {what}, found {_show(info[key])}",
                              field=f"training/{key}")

    for key in ("dataset", "encoding"):
        if key in info and not isinstance(info[key], str):
            bad(key, "a string")
    for key, lowest, what in (("T", 1, "a positive integer (time steps)"),
                              ("seed", 0, "a non-negative integer")):
        if key in info:
            value = _whole(info[key])
            if value is None or value < lowest:
                bad(key, what)
            info[key] = value
    if "input_scale" in info:
        value = info["input_scale"]
        if isinstance(value, np.ndarray) and value.size == 1:
            value = value.reshape(-1)[0]
        if isinstance(value, (bool, np.bool_)) or \
                not isinstance(value, (int, float, np.integer, np.floating)) or \
                not (np.isfinite(value) and value > 0):
            bad("input_scale", "a positive number")
        info["input_scale"] = float(value)
    if info.get("dataset_options") is not None:
        raw = info["dataset_options"]
        try:
            options = json.loads(raw) if isinstance(raw, (str, bytes)) else raw
        except ValueError as exc:
            bad("dataset_options", f"a JSON object ({' '.join(str(exc).split())[:80]})")
        if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
            bad("dataset_options", "a JSON object of option names and values")
        info["dataset_options"] = {k: v for k, v in options.items()
                                   if k not in FILE_IGNORED_OPTIONS}
    return info


def check_eval_size(spec, dataset: str, split: str, limit: Optional[int], T: Optional[int],
                    options: Dict[str, Any], where: str = "T") -> None:
    """EvalError when the split's inputs and outputs (samples x (inputs + outputs) x T,
    8 bytes a value) would exceed the run-byte limit (``LOIHI_SNN_MAX_RUN_BYTES``):
    refused before the data set is built, so ``T = 10**7`` cannot exhaust memory."""
    try:
        steps = get_dataset_spec(dataset).default_T if T is None else int(T)
    except ValueError:
        return                                   # unknown data set: load_dataset says so
    n = dataset_size(dataset, split, limit, **options)
    n = n if n is not None else (int(limit) if _whole(limit) else 1)
    per_step = int(np.prod(spec.input_shape)) + int(np.prod(spec.output_shape))
    need = 8 * max(n, 1) * steps * per_step
    cap = max_run_bytes()
    if need > cap:
        raise EvalError(f"{spec.path}: {max(n, 1)} samples of data set {dataset!r} over "
                        f"{where}={steps} steps need about {need / 2**30:.3g} GiB of input "
                        f"and output buffers, more than the {cap / 2**30:.3g} GiB allowed "
                        f"(a smaller T or --limit; set LOIHI_SNN_MAX_RUN_BYTES to raise it)")


def load_eval_data(spec, dataset: Optional[str] = None, *, split: str = "test",
                   limit: Optional[int] = None, encoding: Optional[str] = None,
                   T: Optional[int] = None, seed: Optional[int] = None,
                   input_scale: Optional[float] = None) -> EvalData:
    """Load the split a network is evaluated on.

    Anything not given comes from the file's ``/training`` group when it names the
    same data set, else from the data set's defaults (seed 0, no input scale).

    Raises
    ------
    EvalError
        no data set named and none recorded in the file; unknown data set, encoding
        or option (the message lists the valid ones); samples whose shape is not the
        network's input shape.
    """

    info = _training_info(spec)
    recorded = info.get("dataset")
    if dataset is None:
        if recorded is None:
            raise EvalError(f"{spec.path}: the file does not say which data set it was "
                            f"trained on; pass --dataset NAME (one of: "
                            f"{', '.join(list_datasets())})")
        dataset = str(recorded)
    same = recorded == dataset
    encoding = encoding or (str(info["encoding"]) if same and "encoding" in info else None)
    where = "T"
    if not T and same and "T" in info:
        T, where = info["T"], "the file's training/T"
    T = T or None
    if seed is None:
        seed = int(info.get("seed", 0)) if same else 0
    if input_scale is None and same and "input_scale" in info:
        input_scale = float(info["input_scale"])
    options: Dict[str, Any] = {}
    if same and info.get("dataset_options"):
        options = dict(info["dataset_options"])
    check_eval_size(spec, dataset, split, limit, T, options, where)
    try:
        ds = load_dataset(dataset, split, T=T, encoding=encoding, seed=int(seed), limit=limit,
                          **options)
    except (ValueError, TypeError) as exc:      # TypeError: an option of the wrong type
        given = f" with options {_show(options)}" if options else ""
        raise EvalError(f"{spec.path}: data set {dataset!r}{given}: "
                        f"{' '.join(str(exc).split())[:300]}") from None
    X = np.asarray(ds.inputs)
    if tuple(X.shape[1:-1]) != tuple(spec.input_shape):
        raise EvalError(f"{spec.path}: data set {dataset!r} gives samples of shape "
                        f"{tuple(X.shape[1:-1])} but the network's input is "
                        f"{tuple(spec.input_shape)}; pick the data set (and options) it "
                        f"was trained on")
    try:
        X = scale_inputs(X, input_scale, f"data set {dataset!r} ({ds.encoding})")
    except ConfigError as exc:
        raise EvalError(f"{spec.path}: {exc} (loihi-snn eval: --input-scale S)") from None
    return EvalData(inputs=X, labels=np.asarray(ds.labels, dtype=np.int64), dataset=dataset,
                    split=split, encoding=str(ds.encoding), T=int(X.shape[-1]), seed=int(seed),
                    input_scale=input_scale, options=options)


# ---------------------------------------------------------------------------- spikes
def layer_spike_counts(path_or_spec, X: np.ndarray, steps: Optional[int] = None
                       ) -> Tuple[np.ndarray, np.ndarray]:
    """Spikes of every spiking layer, per sample and step, from the bit-exact emulator.

    Parameters
    ----------
    path_or_spec : str or NetSpec
    X : np.ndarray
        (N, *input_shape, T) as :func:`loihi_snn.emulate` takes it.
    steps : int, optional
        steps to run (default T).

    Returns
    -------
    counts : np.ndarray
        (L, N, steps) int64: non-zero outputs (spikes; signed/graded spikes count once)
        of each of the L layers with neurons at each step.
    neurons : np.ndarray
        (L,) neuron count of each layer.
    """
    _, counts, sizes = emulate(path_or_spec, X, steps, return_spike_counts=True)
    return counts, sizes


def spikes_within(counts: np.ndarray, neurons: np.ndarray, steps: np.ndarray
                  ) -> Tuple[np.ndarray, float]:
    """Spikes per sample counted up to each sample's ``steps`` (1-based), and NASFR.

    NASFR = all spikes / sum over samples of (all neurons x steps used).
    """
    L, N, T = counts.shape
    mask = np.arange(1, T + 1)[None, :] <= np.asarray(steps)[:, None]        # (N, T)
    per_sample = (counts * mask[None]).sum(axis=(0, 2))
    denom = float(neurons.sum()) * float(np.sum(np.minimum(steps, T)))
    return per_sample, float(per_sample.sum() / denom) if denom > 0 else 0.0


# ---------------------------------------------------------------------------- thresholds
def resolve_thresholds(spec, data: EvalData, epsilon: Optional[float],
                       calibration_limit: Optional[int] = None) -> Tuple[np.ndarray, str, float]:
    """Cutoff thresholds: calibrated now for ``epsilon`` on the training split, or the
    ones stored in the file.  Returns ``(beta, where, epsilon)``."""
    if epsilon is None:
        cal = load_calibration(spec, steps=data.T)
        if cal is None:
            raise EvalError(f"{spec.path}: no cutoff thresholds stored in the file (no "
                            f"/cutoff group); pass --epsilon E (e.g. 0.02) to calibrate them "
                            f"now on the training split")
        return cal.beta, "stored in the file", cal.epsilon
    train = load_eval_data(spec, data.dataset, split="train", limit=calibration_limit,
                           encoding=data.encoding, T=data.T, seed=data.seed,
                           input_scale=data.input_scale)
    out = emulate(spec, train.inputs)
    if out.ndim != 3:
        raise EvalError(f"{spec.path}: the cutoff needs a 1-D output layer, got output "
                        f"shape {out.shape[1:-1]}")
    cal = calibrate(out, train.labels, epsilon=float(epsilon))
    return cal.beta, f"calibrated on {len(train.labels)} training samples", float(epsilon)


# ---------------------------------------------------------------------------- evaluate
def evaluate(net: str, dataset: Optional[str] = None, *, split: str = "test",
             limit: Optional[int] = None, cutoff: bool = False, epsilon: Optional[float] = None,
             backend: str = "lava-fixed", encoding: Optional[str] = None,
             T: Optional[int] = None, seed: Optional[int] = None,
             input_scale: Optional[float] = None,
             calibration_limit: Optional[int] = None, spikes: bool = True,
             progress: Optional[bool] = None,
             stall_timeout: Optional[float] = None, workers: int = 1,
             metrics: bool = False) -> EvalResult:
    """Run a data split through a network and measure it.

    Parameters
    ----------
    net : str
        NetX file (1-D output layer: the prediction is the class with most spikes).
    dataset : str, optional
        registry name (default: the one recorded in the file).
    split : {"test", "train"}
    limit : int, optional
        the first N samples of the split.
    cutoff : bool
        end each sample by the Top-K cutoff rule (``epsilon`` given: thresholds
        calibrated now; else the thresholds stored in the file).  ``epsilon`` alone
        implies ``cutoff=True``.
    backend : str
        ``lava-fixed`` (default), ``lava-float``, ``lava-fused``, ``emulator``,
        ``loihi2`` or ``auto`` (see :data:`loihi_snn.sim.runtime.run.BACKENDS`).
    encoding, T, seed, input_scale : optional
        override the recorded data settings (``input_scale``: real-valued inputs are
        multiplied by it and rounded to integers).
    calibration_limit : int, optional
        training samples used to calibrate (default: all).
    spikes : bool
        count spikes with the emulator (False: ``spikes_per_sample``/``nasfr`` None).
    stall_timeout : float, optional
        seconds without progress that end a Lava run (RunError); default
        ``$LOIHI_SNN_STALL_TIMEOUT`` or 60 (:mod:`loihi_snn.sim.runtime.guard`).
    workers : int
        Lava backends: shard the samples over this many supervised Lava runs side by
        side (the same results as one run; :mod:`loihi_snn.sim.runtime.shard`).
    metrics : bool
        also measure NeuroBench's metrics of the deployed network over the steps each
        sample used (``EvalResult.metrics``; :mod:`loihi_snn.sim.metrics`).

    Under ``torchrun`` (``RANK``/``WORLD_SIZE`` set) each rank runs its contiguous share
    of the samples (:func:`loihi_snn.sim.runtime.shard.shard_of`; ``workers`` still shards
    a rank's share over its cores) and the parts are gathered over ``torch.distributed``
    (gloo): every rank returns the whole split's result, equal to one process's
    (``wall_seconds`` the slowest rank's).

    Returns
    -------
    EvalResult
    """

    # every argument is checked before the file is read or any data is built
    path = check_path(net, "net")
    for name, value in (("dataset", dataset), ("encoding", encoding)):
        if value is not None and not isinstance(value, str):
            raise OptionError(f"{name} must be a name (str) or None, got {show(value)}")
    split = check_choice(split, "split", ("test", "train"))
    limit = check_int(limit, "limit", 1, allow_none=True)
    calibration_limit = check_int(calibration_limit, "calibration_limit", 1, allow_none=True)
    T = check_int(T, "T", 1, allow_none=True)
    seed = check_int(seed, "seed", 0, allow_none=True)
    epsilon = check_number(epsilon, "epsilon", minimum=0.0, below=1.0, allow_none=True,
                           accepted="a number in [0, 1)")
    input_scale = check_number(input_scale, "input_scale", above=0.0, allow_none=True,
                               accepted="a positive number (inputs are multiplied by it "
                                        "and rounded)")
    cutoff = check_flag(cutoff, "cutoff")
    spikes = check_flag(spikes, "spikes")
    metrics = check_flag(metrics, "metrics")
    check_flag(progress, "progress", allow_none=True)
    workers = check_int(workers, "workers", 1)
    backend_used = resolve_backend(backend)
    spec = read_netx(path)
    if len(spec.output_shape) != 1:
        raise EvalError(f"{path}: eval classifies by the output layer's spike counts and needs "
                        f"a 1-D output layer; this network's output is {tuple(spec.output_shape)}")
    data = load_eval_data(spec, dataset, split=split, limit=limit, encoding=encoding, T=T,
                          seed=seed, input_scale=input_scale)
    X, labels = data.inputs, data.labels
    N, steps_T = len(labels), data.T
    cutoff = bool(cutoff or epsilon is not None)
    beta, where, eps = None, "none", None
    if cutoff:
        beta, where, eps = resolve_thresholds(spec, data, epsilon, calibration_limit)
    dist = dist_from_env()
    part = _run_part(spec, path, X, beta=beta, cutoff=cutoff, steps_T=steps_T,
                     backend_used=backend_used, spikes=spikes, metrics=metrics,
                     progress=progress, stall_timeout=stall_timeout, workers=workers,
                     rows=shard_of(N, dist.rank, dist.world_size) if dist.enabled else None)
    if dist.enabled:                     # torchrun: every rank ran its shard; gather them all
        part = _merge_parts(_gather_parts(part, dist))
    preds, used, total, wall = part["preds"], part["used"], part["total"], part["wall"]
    spk, rate, source = None, None, part["source"]
    if part["per"] is not None:
        spk = float(part["per"].mean())
        denom = float(part["neurons"].sum()) * float(np.sum(np.minimum(used, steps_T)))
        rate = float(part["per"].sum() / denom) if denom > 0 else 0.0
    measured = None
    if metrics:
        if isinstance(part["activity"], str):
            measured = {"skipped": part["activity"]}
        else:
            measured = metrics_from_activity(part["plan"], part["activity"],
                                             np.minimum(used, steps_T) if cutoff else None,
                                             source="emulator (bit-exact fixed_pt)"
                                             ).to_dict(per_sample=True)
    return EvalResult(
        accuracy=float(np.mean(preds == labels)), mean_steps=float(used.mean()),
        spikes_per_sample=spk, nasfr=rate,
        steps_per_second=float(total / wall) if wall > 0 else float("nan"), samples=int(N),
        net=path, dataset=data.dataset, split=split, encoding=data.encoding, T=steps_T,
        seed=data.seed, backend=backend_used, cutoff=cutoff, epsilon=eps, thresholds=where,
        wall_seconds=float(wall), spike_source=source, predictions=preds.tolist(),
        steps=used.tolist(), metrics=measured)


def _run_part(spec, path: str, X: np.ndarray, *, beta, cutoff: bool, steps_T: int,
              backend_used: str, spikes: bool, metrics: bool, progress, stall_timeout,
              workers: int, rows: Optional[np.ndarray]) -> Dict[str, Any]:
    """Run the samples ``X[rows]`` (all when ``rows`` is None) and measure them: per-sample
    predictions, steps used and spikes, the run's sample-steps and wall time, and the
    recorded activity for the metrics.  One rank's share under ``torchrun``."""
    if rows is not None:
        X = X[rows]
    n = len(X)
    part: Dict[str, Any] = {"preds": np.zeros(0, np.int64), "used": np.zeros(0, np.int64),
                            "total": 0, "wall": 0.0, "per": None, "neurons": None,
                            "source": "not counted", "plan": None, "activity": None}
    if n == 0:                           # a rank with no samples (more ranks than samples)
        part["source"] = "emulator (bit-exact fixed_pt), counted over the steps each sample used"
        return part
    counted = None                       # (counts, sizes) when the run already counted
    if backend_used in ("emulator", "lava-fused"):
        t0 = time.perf_counter()
        if backend_used == "emulator":
            if spikes:
                out, *counted = emulate(spec, X, return_spike_counts=True)
            else:
                out = emulate(spec, X)
        else:
            out = run_many(path, X, backend="lava-fused", progress=progress,
                           stall_timeout=stall_timeout, workers=workers)
        wall = time.perf_counter() - t0
        if cutoff:
            preds, used = offline_cutoff(out, beta, steps_T)
        else:
            preds = out.sum(-1).argmax(1)
            used = np.full(n, steps_T, dtype=np.int64)
        total = n * steps_T
    else:
        res = run_cutoff(path, X, beta=beta, cutoff=cutoff, backend=backend_used,
                         progress=progress, stall_timeout=stall_timeout, workers=workers)
        preds, used, total, wall = res.predictions, res.steps, res.total_steps, res.wall_seconds
    part.update(preds=np.asarray(preds, dtype=np.int64), used=np.asarray(used, dtype=np.int64),
                total=int(total), wall=float(wall))
    if spikes:
        try:
            counts, neurons = counted or layer_spike_counts(spec, X, steps_T)
            part["per"], _ = spikes_within(counts, neurons, part["used"])
            part["neurons"] = np.asarray(neurons)
            part["source"] = ("emulator (bit-exact fixed_pt), counted over the steps each "
                              "sample used")
        except UnsupportedByEmulator as exc:
            part["source"] = f"not counted: {exc}"
    if metrics:
        try:
            part["plan"], part["activity"] = measure_activity(spec, X, steps=steps_T)
        except UnsupportedByEmulator as exc:
            part["activity"] = f"not measured: {exc}"
    return part


#: seconds a rank waits for the others' parts under torchrun (``LOIHI_SNN_GATHER_TIMEOUT``):
#: a backstop -- torchrun ends every rank when one fails
GATHER_TIMEOUT_S = 1800


def _gather_parts(part: Dict[str, Any], dist) -> List[Dict[str, Any]]:
    """Every rank's part, in rank order, on every rank.

    Within a caller's process group: ``torch.distributed.all_gather_object``.  Otherwise
    through the key-value store of torchrun's ``env://`` rendezvous (rank 0 hosts it): no
    process group is made, so none is torn down -- destroying a gloo group right after a
    gather can deadlock torch 2.3 (its worker thread waits for the GIL the joining main
    thread holds).  Every wait has a deadline (:data:`GATHER_TIMEOUT_S`); running past it
    is one :class:`EvalError` line."""
    import pickle
    from datetime import timedelta

    import torch.distributed as td

    from loihi_snn.core.limits import env_int

    if td.is_initialized():
        parts: List[Any] = [None] * dist.world_size
        td.all_gather_object(parts, part)
        return parts
    timeout = env_int("LOIHI_SNN_GATHER_TIMEOUT", GATHER_TIMEOUT_S, minimum=1)
    try:
        store, _, _ = next(td.rendezvous("env://", rank=dist.rank, world_size=dist.world_size,
                                         timeout=timedelta(seconds=timeout)))
        store = td.PrefixStore("loihi_snn/eval", store)
        store.set(f"part/{dist.rank}", pickle.dumps(part))
        parts = [part if r == dist.rank else pickle.loads(store.get(f"part/{r}"))
                 for r in range(dist.world_size)]
        store.add("read", 1)
        if dist.rank == 0:       # the store lives in this process: keep it until all have read
            deadline = time.monotonic() + timeout
            while store.add("read", 0) < dist.world_size:
                if time.monotonic() > deadline:
                    raise TimeoutError("the other ranks did not read the results")
                time.sleep(0.02)
    except (RuntimeError, TimeoutError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EvalError(f"eval under torchrun, rank {dist.rank} of {dist.world_size}: the "
                        f"ranks' results were not exchanged within {timeout} s ({first}); "
                        f"another rank failed or stalled (see its output), or raise "
                        f"LOIHI_SNN_GATHER_TIMEOUT") from None
    return parts


def _merge_parts(parts: List[Dict[str, Any]]) -> Dict[str, Any]:
    """The ranks' parts as one run's: samples concatenated in rank (= sample) order,
    sample-steps summed, wall time the slowest rank's."""
    full = [p for p in parts if len(p["preds"])] or parts[:1]
    merged = dict(full[0])
    merged["preds"] = np.concatenate([p["preds"] for p in full])
    merged["used"] = np.concatenate([p["used"] for p in full])
    merged["total"] = int(sum(p["total"] for p in parts))
    merged["wall"] = float(max(p["wall"] for p in parts))
    if all(p["per"] is not None for p in full):
        merged["per"] = np.concatenate([p["per"] for p in full])
    else:
        merged["per"] = None
        merged["source"] = next(p["source"] for p in full if p["per"] is None)
    acts = [p["activity"] for p in full]
    if acts and all(a is not None and not isinstance(a, str) for a in acts):
        merged["activity"] = type(acts[0])(
            spikes=np.concatenate([a.spikes for a in acts], axis=1),
            ops=np.concatenate([a.ops for a in acts], axis=1),
            updates=None if any(a.updates is None for a in acts)
            else np.concatenate([a.updates for a in acts], axis=1),
            outputs=None if any(a.outputs is None for a in acts)
            else np.concatenate([a.outputs for a in acts], axis=0))
    else:
        merged["activity"] = next((a for a in acts if isinstance(a, str)), None)
    return merged


def format_report(r: EvalResult) -> str:
    """The human-readable table ``loihi-snn eval`` prints."""
    lines = [f"{os.path.basename(r.net)} on {r.dataset} ({r.split}, {r.samples} samples, "
             f"{r.encoding} code, T={r.T}, seed {r.seed}), backend {r.backend}"]
    if r.cutoff:
        eps = "" if r.epsilon is None or np.isnan(r.epsilon) else f" epsilon={r.epsilon:g},"
        lines.append(f"cutoff:{eps} thresholds {r.thresholds}")
    else:
        lines.append("cutoff: off (every sample runs T steps)")
    speedup = r.T / r.mean_steps if r.mean_steps > 0 else float("nan")
    rows = [("accuracy", f"{r.accuracy:.4f}"),
            ("mean steps / sample", f"{r.mean_steps:.2f} of {r.T} ({speedup:.2f}x fewer)"
             if r.cutoff else f"{r.mean_steps:.2f}"),
            ("spikes / sample", "-" if r.spikes_per_sample is None else f"{r.spikes_per_sample:.1f}"),
            ("NASFR", "-" if r.nasfr is None else f"{r.nasfr:.4f} spikes/neuron/step"),
            ("speed", f"{r.steps_per_second:.0f} sample-steps/s "
                      f"(run {r.wall_seconds:.1f} s)")]
    lines += [f"  {k:<20s} {v}" for k, v in rows]
    if r.spike_source.startswith("not counted"):
        lines.append(f"  spikes {r.spike_source}")
    if r.metrics is not None:
        lines.append(r.metrics["skipped"] if "skipped" in r.metrics
                     else format_metrics(r.metrics))
    return "\n".join(lines)

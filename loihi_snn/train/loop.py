"""Train a spiking network from a :class:`~loihi_snn.train.config.TrainConfig`, end to end.

``train(config, out_dir)`` does, in order (one step function each):

1. prepare (:func:`_prepare`): validate the config, find this process's rank and
   device, start the Lava runtime before any worker process exists;
2. fit (:func:`_fit_in_group`): load the data set (:func:`loihi_snn.train.data.load_data`:
   train split minus a seeded validation hold-out, test split, inputs integer-valued),
   build the network (:func:`loihi_snn.train.models.build_model`) and train it with
   SLAYER surrogate gradients (:func:`_fit`), deterministic for a given seed, on CPU or
   CUDA; under ``torchrun`` (``RANK``/``WORLD_SIZE`` in the environment) data-parallel
   with ``DistributedDataParallel`` + ``DistributedSampler`` (gloo on CPU, nccl on
   CUDA); the best epoch by validation accuracy is kept in ``out_dir/checkpoint.pt``
   (rank 0 writes; the checkpoint stores the config so the model can be rebuilt);
3. export (:func:`_export`, rank 0): evaluate the best model with SLAYER's quantized
   eval forward on the test split (a network with ternary layers as exported:
   amplitudes folded, see :func:`loihi_snn.train.checkpoint.export_view`) and write
   ``out_dir/<name>.net`` (:func:`loihi_snn.train.checkpoint.export_model`);
4. verify (:func:`_verify`, rank 0): with ``cutoff_epsilon`` set, calibrate the Top-K
   cutoff on the training split and store the thresholds in the file (``/cutoff``);
   run the test samples on Lava (fixed point) and compare with torch, and with a
   cutoff also run the Lava cutoff controller (:mod:`loihi_snn.train.verify`);
5. card (:func:`_card`, rank 0): write the model card (``model_card.json`` +
   ``MODEL_CARD.md``, see :mod:`loihi_snn.train.cards`).

Output spikes are ``(N, classes, T)``; the predicted class is the output neuron
with the most spikes (ties: the lowest index, in torch and numpy alike).
"""
from __future__ import annotations

import os
import shlex
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from loihi_snn.core import provenance
from loihi_snn.core.lavadl import ensure_lava_runtime, lava_dl, lava_problem
from loihi_snn.core.limits import env_int
from loihi_snn.train import cards
from loihi_snn.train.checkpoint import (CHECKPOINT_NAME, export_model, export_view,
                                        load_checkpoint, model_from_config, save_checkpoint)
from loihi_snn.train.config import TrainConfig
from loihi_snn.train.data import Splits, load_data
from loihi_snn.train.distributed import (Dist, all_sum, barrier, deterministic, dist_from_env,
                                         pick_device, process_group, seed_everything)
from loihi_snn.train.models import parameter_digest
from loihi_snn.train.regularizers import regularizer_for
from loihi_snn.train.verify import calibrate_cutoff, cutoff_on_lava, evaluate_model, run_on_lava

__all__ = ["TrainResult", "loss_function", "make_optimizer", "make_scheduler", "train"]


@dataclass
class TrainResult:
    """What :func:`train` produced.

    Attributes:
        out_dir: the output directory.
        checkpoint: path of the best checkpoint (None on ranks other than 0).
        net_path: exported NetX file (None on ranks other than 0).
        card: the model card dict (None on ranks other than 0).
        history: one dict per epoch (loss, train/val accuracy, seconds).
        best_epoch: 1-based epoch of the checkpoint.
        best_score: its validation (or test, when ``val_fraction`` is 0) accuracy.
        rank, world_size: this process in a ``torchrun`` job (0 and 1 otherwise).
        parameter_digest: SHA-256 of the final weights (equal on every rank).
        wall_seconds: total time of :func:`train` on this process.
        card_paths: ``model_card.json`` and ``MODEL_CARD.md`` (empty on other ranks).
    """

    out_dir: str
    checkpoint: Optional[str]
    net_path: Optional[str]
    card: Optional[Dict[str, Any]]
    history: List[Dict[str, Any]]
    best_epoch: int
    best_score: float
    rank: int = 0
    world_size: int = 1
    parameter_digest: str = ""
    wall_seconds: float = 0.0
    card_paths: Tuple[str, ...] = field(default_factory=tuple)


# ----------------------------------------------------------------------------
# loss and optimiser
# ----------------------------------------------------------------------------

def loss_function(config: TrainConfig) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The task loss ``fn(output, labels) -> scalar``; ``output`` ``(N, classes, T)`` spikes.

    ``spike_rate``: SLAYER's ``SpikeRate`` (summed over the batch); ``cross_entropy``:
    on the output spike counts times ``scale``.
    """
    spec = config.resolved_loss
    if spec["type"] == "spike_rate":
        slayer = lava_dl().slayer
        return slayer.loss.SpikeRate(true_rate=spec["true_rate"], false_rate=spec["false_rate"],
                                     moving_window=spec["moving_window"], reduction="sum")
    scale = float(spec["scale"])
    return lambda out, y: torch.nn.functional.cross_entropy(out.sum(-1) * scale, y)


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD over ``params`` as ``config.optimizer`` says."""
    spec = config.resolved_optimizer
    kind = spec["type"]
    kw = {"lr": spec["lr"], "weight_decay": spec["weight_decay"]}
    if kind in ("adam", "adamw"):
        if spec.get("betas") is not None:
            kw["betas"] = tuple(spec["betas"])
        return (torch.optim.Adam if kind == "adam" else torch.optim.AdamW)(params, **kw)
    return torch.optim.SGD(params, momentum=spec["momentum"], **kw)


def make_scheduler(config: TrainConfig, opt: torch.optim.Optimizer):
    """The per-epoch learning-rate schedule (``optimizer.schedule``); None for constant."""
    if config.resolved_optimizer["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(config.epochs, 1))
    return None


def _log(enabled: bool, msg: str) -> None:
    if enabled:
        print(msg, flush=True)


# ----------------------------------------------------------------------------
# train(): the steps
# ----------------------------------------------------------------------------

@dataclass
class _Session:
    """One :func:`train` call on this process."""

    dist: Dist
    device: torch.device
    show: bool           # tqdm bars
    talk: bool           # log lines
    command: str
    t_start: float
    #: the provenance record taken before anything is written (rank 0; None elsewhere):
    #: the revision that ran, not one dirtied by this run's own outputs
    started: Optional[Dict[str, Any]] = None


@dataclass
class _Trained:
    """The fit step's result (on every rank)."""

    splits: Splits
    data_info: Dict[str, Any]
    history: List[Dict[str, Any]]
    best: Dict[str, Any]
    digest: str
    train_seconds: float


@dataclass
class _Exported:
    """The export step's result (rank 0): the best model, as exported, evaluated on torch."""

    model: Any
    view: Any
    res: Dict[str, Any]
    torch_accuracy: float
    net_path: str
    checkpoint: str


def train(config: TrainConfig, out_dir: str, progress: Optional[bool] = None, *,
          lava: bool = True, lava_limit: Optional[int] = None, verbose: bool = True,
          command: Optional[str] = None) -> TrainResult:
    """Train, checkpoint, export, evaluate on torch and Lava, and write the model card.

    Args:
        config: a validated :class:`~loihi_snn.train.config.TrainConfig`.
        out_dir: directory for ``checkpoint.pt``, ``<name>.net``, ``model_card.json``,
            ``MODEL_CARD.md``, ``config.json`` (created if needed).
        progress: tqdm bars (loss / accuracy per batch); None: only when stderr is
            a terminal.  Only rank 0 shows them.
        lava: run the exported network on Lava (fixed point) and compare.
        lava_limit: test samples for Lava (None: ``config.lava_limit``, and if that
            is None the whole test split).
        verbose: print one line per epoch and a summary (rank 0).
        command: the command line recorded in the card (default ``sys.argv``).

    Returns:
        a :class:`TrainResult`.  Under ``torchrun`` every rank returns one; only rank 0
        has ``checkpoint``, ``net_path`` and ``card``.
    """
    session = _prepare(config, out_dir, progress, lava, verbose, command)
    trained = _fit_in_group(config, out_dir, session)
    dist = session.dist
    if not dist.main:
        return TrainResult(out_dir, None, None, None, trained.history, trained.best["epoch"],
                           trained.best["score"], dist.rank, dist.world_size, trained.digest,
                           time.time() - session.t_start)
    exported = _export(config, out_dir, trained, session.talk)
    lava_info, calibration = _verify(config, trained.splits, exported, lava, lava_limit, session)
    return _card(config, out_dir, trained, exported, lava_info, calibration, session)


#: torch intra-op threads per training process; ``LOIHI_SNN_TORCH_THREADS=N`` overrides
#: (0 keeps torch's default of one per core).  One thread: these small networks gain
#: little from more, and on a shared machine more threads made epochs up to 35x slower.
TORCH_THREADS = 1


def pin_torch_threads() -> int:
    """Set torch's intra-op threads (:data:`TORCH_THREADS` or ``$LOIHI_SNN_TORCH_THREADS``);
    returns the number in use."""
    threads = env_int("LOIHI_SNN_TORCH_THREADS", TORCH_THREADS, minimum=0)
    if threads > 0:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


def _prepare(config: TrainConfig, out_dir: str, progress: Optional[bool], lava: bool,
             verbose: bool, command: Optional[str]) -> _Session:
    """Validate, find rank and device, start Lava's runtime, create ``out_dir``."""
    t_start = time.time()
    config.validate()
    pin_torch_threads()
    dist = dist_from_env()
    device = pick_device(config.device, dist)
    if lava and dist.main:
        ensure_lava_runtime()     # before tqdm / DataLoader create a multiprocessing context
    lava_dl()                     # quiet lava-dl import
    warnings.filterwarnings("ignore", message=".*weight_norm is deprecated.*")
    show = dist.main and (progress if progress is not None else sys.stderr.isatty())
    talk = verbose and dist.main
    command = command if command is not None else " ".join(shlex.quote(a) for a in sys.argv)
    started = provenance.record(command, device=str(device)) if dist.main else None
    os.makedirs(out_dir, exist_ok=True)
    return _Session(dist, device, show, talk, command, t_start, started)


def _fit_in_group(config: TrainConfig, out_dir: str, s: _Session) -> _Trained:
    """Load the data, build the model and :func:`_fit` it (every rank, deterministic)."""
    dist, device = s.dist, s.device
    with process_group(dist, device):
        with deterministic(device):
            seed_everything(config.seed)
            splits = load_data(config)
            seed_everything(config.seed)
            model = model_from_config(config, splits.input_shape, splits.num_classes).to(device)
            data_info = {"input_shape": list(splits.input_shape), "num_classes": splits.num_classes,
                         "T": splits.T, "encoding": splits.encoding,
                         "input_scale": config.input_scale, "dataset": config.dataset}
            if dist.main:
                config.save(os.path.join(out_dir, "config.json"))
            _log(s.talk, f"training {config.name}: {config.dataset} ({splits.encoding}, "
                         f"T={splits.T}), {len(splits.train)} train / "
                         f"{0 if splits.val is None else len(splits.val)} val / "
                         f"{len(splits.test)} test samples, {config.epochs} epochs, seed "
                         f"{config.seed}, device {device}"
                         + (f", {dist.world_size} processes (DDP)" if dist.enabled else ""))
            history, best, digest, t_train = _fit(model, config, splits, dist, device, s.show,
                                                  s.talk, out_dir, data_info)
        if dist.enabled:
            print(f"rank {dist.rank}/{dist.world_size}: finished {config.epochs} epochs, "
                  f"parameter digest {digest}", flush=True)
            barrier(dist)
    return _Trained(splits, data_info, history, best, digest, t_train)


def _export(config: TrainConfig, out_dir: str, trained: _Trained, talk: bool) -> _Exported:
    """Reload the best checkpoint, evaluate it on the test split as exported, write the file."""
    splits, best = trained.splits, trained.best
    ckpt_path = os.path.join(out_dir, CHECKPOINT_NAME)
    model, _ = load_checkpoint(ckpt_path)
    test = splits.test
    view, output_scale = export_view(model)      # ternary: amplitudes folded, as exported
    res = evaluate_model(view, test.inputs, output_scale=output_scale)
    res["output_scale"] = output_scale
    torch_acc = float((res["predictions"] == test.labels).mean()) if len(test) else float("nan")
    net_path = export_model(model, os.path.join(out_dir, f"{config.name}.net"), config,
                            trained.data_info)
    chosen = ("the last epoch" if config.select == "last"
              else f"the best epoch by {splits.selected_on} accuracy")
    _log(talk, f"exported {chosen}: {best['epoch']} ({splits.selected_on} accuracy "
               f"{best['score']:.3f}); "
               f"torch test accuracy {torch_acc:.3f} on {len(test)} samples; written to {net_path}")
    return _Exported(model, view, res, torch_acc, net_path, ckpt_path)


def _verify(config: TrainConfig, splits: Splits, ex: _Exported, lava: bool,
            lava_limit: Optional[int], s: _Session) -> Tuple[Dict[str, Any], Optional[Dict]]:
    """Cutoff calibration (``cutoff_epsilon``), the Lava comparison, the Lava cutoff run.

    Returns:
        ``(lava_info, calibration)``: the card's ``lava`` and ``cutoff`` sections.
    """
    test, talk = splits.test, s.talk
    limit = lava_limit if lava_limit is not None else config.lava_limit
    n_lava = len(test) if limit is None else min(int(limit), len(test))
    calibration = None
    if config.cutoff_epsilon is not None:
        calibration = calibrate_cutoff(ex.view, splits, ex.res, ex.net_path, config)
        _log(talk, f"cutoff calibrated (eps {config.cutoff_epsilon}) on "
                   f"{calibration['calibration_samples']} training samples and stored in "
                   f"{os.path.basename(ex.net_path)}; torch test split: accuracy "
                   f"{calibration['torch']['accuracy']:.3f} in "
                   f"{calibration['torch']['mean_steps']:.2f} of {splits.T} steps on average")
    lava_outputs: Dict[str, Any] = {}
    missing = lava_problem() if lava else None     # lava-dl without Lava (not Python 3.10)
    if lava and missing is None:
        lava_info = run_on_lava(ex.net_path, test, ex.res, n_lava, config, s.show, lava_outputs)
    else:
        lava_info = {"skipped": "disabled (--no-lava)" if not lava else
                     f"Lava (lava-nc) {missing}; check the file on backend 'emulator'"}
        lava = False
    _report_lava(talk, lava_info)
    if calibration is not None and lava and "accuracy" in lava_info:
        calibration["lava"] = cutoff_on_lava(ex.net_path, test, n_lava, lava_outputs["output"],
                                             calibration, s.show)
        cl = calibration["lava"]
        if "accuracy" in cl:
            _log(talk, f"Lava cutoff controller on {cl['samples']} test samples: accuracy "
                       f"{cl['accuracy']:.3f} in {cl['mean_steps']:.2f} of {splits.T} steps on "
                       f"average ({cl['speedup']:.2f}x fewer), decisions equal to the offline "
                       f"rule: {cl['equals_offline_rule']}")
    return lava_info, calibration


def _report_lava(talk: bool, lava_info: Dict[str, Any]) -> None:
    """The log lines of the Lava comparison (and of the fresh runs of a recurrent network)."""
    if talk and "accuracy" in lava_info:
        print(f"Lava fixed_pt on {lava_info['samples']} test samples: accuracy "
              f"{lava_info['accuracy']:.3f} (torch {lava_info['torch_accuracy']:.3f} on the same "
              f"samples), prediction agreement {lava_info['agreement']:.3f}, identical output "
              f"spikes {lava_info['identical_output_spikes']}, {lava_info['seconds']:.1f} s",
              flush=True)
    elif talk:
        print(f"Lava: {lava_info.get('skipped')}", flush=True)
    fresh = lava_info.get("fresh_runs") or {}
    if talk and "samples" in fresh:
        print(f"recurrent network: {fresh['identical_to_torch']}/{fresh['samples']} fresh "
              f"single-sample Lava runs identical to torch, {fresh['identical_to_stream']}/"
              f"{fresh['samples']} to the streamed run", flush=True)


def _card(config: TrainConfig, out_dir: str, trained: _Trained, ex: _Exported,
          lava_info: Dict[str, Any], calibration: Optional[Dict[str, Any]],
          s: _Session) -> TrainResult:
    """Build and write the model card; the rank-0 :class:`TrainResult`."""
    card = cards.build_card(config=config, splits=trained.splits, model=ex.model,
                            history=trained.history, best=trained.best, torch_eval=ex.res,
                            torch_accuracy=ex.torch_accuracy, lava=lava_info,
                            net_path=ex.net_path, checkpoint=ex.checkpoint, command=s.command,
                            device=str(s.device), world_size=s.dist.world_size,
                            train_seconds=trained.train_seconds,
                            wall_seconds=time.time() - s.t_start, cutoff=calibration,
                            started=s.started)
    paths = cards.write_card(card, out_dir)
    _log(s.talk, f"model card: {paths[1]}")
    return TrainResult(out_dir, ex.checkpoint, ex.net_path, card, trained.history,
                       trained.best["epoch"], trained.best["score"], 0, s.dist.world_size,
                       trained.digest, time.time() - s.t_start, tuple(paths))


# ----------------------------------------------------------------------------
# the epochs
# ----------------------------------------------------------------------------

def _loader(train_set, config: TrainConfig, dist: Dist):
    """``(loader, sampler)``: shuffled batches, seeded; under torchrun a DistributedSampler."""
    gen = torch.Generator().manual_seed(config.seed)
    if dist.enabled:
        sampler = DistributedSampler(train_set, num_replicas=dist.world_size, rank=dist.rank,
                                     shuffle=True, seed=config.seed)
        return DataLoader(train_set, batch_size=config.batch_size, sampler=sampler), sampler
    return DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=gen), None


def _accuracy(model, ds, dist: Dist, device, batch_size: int) -> float:
    """Accuracy on ``ds``, each rank evaluating every world_size-th sample."""
    idx = np.arange(dist.rank, len(ds), dist.world_size)
    res = evaluate_model(model, ds.inputs[idx], batch_size=max(batch_size, 64), device=device)
    correct, total = all_sum([float((res["predictions"] == ds.labels[idx]).sum()),
                              float(len(idx))], dist, device)
    return correct / max(total, 1.0)


def _train_epoch(net, model, loader, loss_fn, opt, regular, config: TrainConfig, device,
                 desc: str, show: bool) -> List[float]:
    """One pass over ``loader``; ``[loss sum, correct, samples]`` on this rank."""
    net.train()
    loss_sum = correct = total = 0.0
    bar = tqdm(loader, desc=desc, leave=False, disable=not show, unit="batch")
    for x, y in bar:
        x, y = x.to(device).float(), y.to(device)
        out, layers = net(x, return_layers=True)
        loss = loss_fn(out, y)
        if regular is not None:
            loss = loss + config.rcs_weight * regular(model, out, layers, y, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        pred = out.detach().sum(-1).argmax(1)
        correct += float((pred == y).sum())
        total += len(y)
        loss_sum += float(loss.detach()) * len(y)
        bar.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
    bar.close()
    return [loss_sum, correct, total]


def _fit(model, config: TrainConfig, splits: Splits, dist: Dist, device, show: bool,
         talk: bool, out_dir: str, data_info: Dict[str, Any]):
    """Train for ``config.epochs``; rank 0 checkpoints every epoch that improves.

    Returns:
        ``(history, best, parameter_digest, seconds)``; ``best`` is
        ``{"epoch": ..., "score": ...}`` of the checkpoint.
    """
    net = model
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)
    loader, sampler = _loader(splits.train, config, dist)
    loss_fn = loss_function(config)
    opt = make_optimizer(config, [p for p in model.parameters() if p.requires_grad])
    regular = regularizer_for(config)
    scheduler = make_scheduler(config, opt)
    select = splits.val if splits.val is not None else splits.test
    history: List[Dict[str, Any]] = []
    best = {"epoch": 0, "score": -1.0}
    ckpt_path = os.path.join(out_dir, CHECKPOINT_NAME)
    t0 = time.time()
    for epoch in range(1, config.epochs + 1):
        te = time.time()
        if sampler is not None:
            sampler.set_epoch(epoch)
        sums = _train_epoch(net, model, loader, loss_fn, opt, regular, config, device,
                            f"epoch {epoch}/{config.epochs}", show)
        if scheduler is not None:
            scheduler.step()
        loss_sum, correct, total = all_sum(sums, dist, device)
        score = _accuracy(model, select, dist, device, config.batch_size)
        row = {"epoch": epoch, "loss": loss_sum / max(total, 1),
               "train_accuracy": correct / max(total, 1),
               f"{splits.selected_on}_accuracy": score, "seconds": round(time.time() - te, 2)}
        history.append(row)
        improved = score > best["score"] or (config.select == "last" and epoch == config.epochs)
        if improved:
            best = {"epoch": epoch, "score": score}
            if dist.main:
                save_checkpoint(ckpt_path, model, config, data_info, epoch=epoch, score=score,
                                selected_on=splits.selected_on)
        _log(talk, f"epoch {epoch:3d}/{config.epochs}: loss {row['loss']:.4f}  train "
                   f"{row['train_accuracy']:.3f}  {splits.selected_on} {score:.3f}  "
                   f"({row['seconds']:.1f} s){'  *' if improved else ''}")
    return history, best, parameter_digest(model), time.time() - t0

"""What every study shares: its command line, provenance, seeds, work folder, the arms x
seeds loop, paired intervals and verdict words, and its result files.

A study module (``studies/<name>.py``) is run as ``python -m studies.<name>`` from the
repository root.  Its skeleton::

    from studies import harness

    def main(argv=None):
        p = harness.parser(__doc__, SIZES)               # --size small|full, the study's
        p.add_argument(...)                              # own options
        args = p.parse_args(argv)
        study = harness.Study("cutoff", argv)            # provenance taken now
        harness.start()                                  # Lava's runtime, torch 1 thread
        with harness.work_folder(args.work, "cutoff-") as work:
            rows = study.run(cells, run_one, write)      # write() after every model
        ...

``Study.run`` calls ``run_one(cell)`` for each cell (an arm x seed x ... in the study's
order), prints its line, and calls ``write(rows, status, wall_seconds)`` after every
model (status ``partial``) and once at the end (``complete``), so an interrupted study
keeps what it measured.  Result files: :func:`write_result` (the layout of
:func:`loihi_snn.app.results.write_result`: ``<out>/<name>/<name>.{json,md}``) or,
for the studies with a layout of their own (LIF variants, ASA, NIR), :func:`write_files`
(atomic JSON + Markdown) with :func:`provenance_lines` at the top of the Markdown.
Statistics: :func:`mean_ci` (mean, std, 95 % t-interval), :func:`paired` (per-seed
differences of two arms), :func:`sign` (which side of 0 an interval lies on),
:func:`pm` / :func:`interval` (how the tables show them).

Tuning (:func:`tune`, one protocol for every arm of every study that uses it): each
point of a small grid (learning rate x surrogate width, plus an arm's own knobs) is
trained on :data:`TUNE_SPLITS` repeated hold-out splits of the *training* split (each
holds out :data:`TUNE_VAL_FRACTION` of it, chosen by the split's seed; the test split
is never read for a choice), the last epoch's validation accuracy is its score (no
epoch picked on validation), and the point with the highest mean over the splits is
chosen (ties: the first in grid order).  :func:`tuning_record` is what a result file
keeps per arm: the grid, every point's scores and the choice.  The chosen recipe is
then trained for each evaluation seed on the whole training split and its last epoch
exported (:func:`final_config`).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import (Any, Callable, Dict, Hashable, Iterable, Iterator, List, Mapping, Optional,
                    Sequence, Tuple)

from loihi_snn.app.results import Table, mean_ci, write_result as _write_result
from loihi_snn.core import provenance
from loihi_snn.core.files import atomic_write_text

__all__ = ["RESULTS", "ROOT", "Study", "TUNE_RULE", "TUNE_SPLITS", "TUNE_VAL_FRACTION", "Table",
           "apply_params", "command_line", "final_config", "grid_points", "interval", "mean_ci",
           "paired", "parser", "pm", "provenance_lines", "sign", "stamped", "start", "tune",
           "tuning_record", "validation_accuracy", "work_folder", "write_files", "write_result"]

#: the repository root and its results folder (the studies' default output)
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


# ----------------------------------------------------------------------------- running

def parser(doc: str, sizes: Optional[Mapping[str, Any]] = None, *,
           default_size: str = "full", **kwargs: Any) -> argparse.ArgumentParser:
    """An argument parser whose description is the study's docstring (first paragraph;
    the rest as the epilog) with ``--size`` (the keys of ``sizes``: small is a check that
    runs in minutes, full the committed study)."""
    first, _, rest = (doc or "").partition("\n\n")
    p = argparse.ArgumentParser(description=first, epilog=rest or None,
                                formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    if sizes:
        p.add_argument("--size", choices=sorted(sizes), default=default_size,
                       help=f"small: a check that runs in minutes; full: the committed study "
                            f"(default {default_size})")
    return p


def command_line(name: str, argv: Optional[Sequence[str]] = None) -> str:
    """``python -m studies.<name> <args>`` (default args: ``sys.argv[1:]``), shell-quoted."""
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", f"studies.{name}", *(shlex.quote(a) for a in args)])


def start(threads: int = 1, lava: bool = True) -> None:
    """Start Lava's runtime (it sets multiprocessing's start method, before torch or tqdm
    touch multiprocessing) and pin torch to ``threads`` threads (the studies' numbers
    are measured on one thread per run)."""
    if lava:
        from loihi_snn.core.lavadl import ensure_lava_runtime
        ensure_lava_runtime()
    import torch
    torch.set_num_threads(threads)


@contextlib.contextmanager
def work_folder(path: Optional[str], prefix: str) -> Iterator[str]:
    """``path`` (kept), or a temporary folder removed at the end: where models are trained."""
    if path:
        os.makedirs(path, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield tmp


class Study:
    """One run of a study: its name, command line, the provenance record taken when it
    started (so the revision is the code that ran, even if commits land meanwhile) and
    its wall clock."""

    def __init__(self, name: str, argv: Optional[Sequence[str]] = None,
                 packages: Sequence[str] = (), device: Optional[str] = None) -> None:
        self.name = name
        self.argv = list(sys.argv[1:] if argv is None else argv)
        self.command = command_line(name, self.argv)
        self.started = provenance.record(self.command, device=device, packages=packages)
        self.t0 = time.time()

    def wall(self) -> float:
        """Seconds since the study started."""
        return time.time() - self.t0

    def run(self, cells: Iterable[Any], run_one: Callable[[Any], Dict[str, Any]],
            write: Callable[[List[Dict[str, Any]], str, float], None],
            line: Optional[Callable[[Dict[str, Any]], str]] = None,
            rows: Optional[List[Dict[str, Any]]] = None) -> List[Dict[str, Any]]:
        """Each cell through ``run_one`` (one row each), its ``line`` printed, the result
        rewritten after every row (``partial``) and at the end (``complete``)."""
        rows = [] if rows is None else rows
        for cell in cells:
            row = run_one(cell)
            rows.append(row)
            if line is not None:
                print(line(row), flush=True)
            write(rows, "partial", self.wall())
        write(rows, "complete", self.wall())
        return rows


# ----------------------------------------------------------------------------- tuning

#: the seeds of the tuning splits: each sets the validation hold-out and the initialisation
#: (disjoint from the evaluation seeds 0, 1, ...)
TUNE_SPLITS = (1000, 1001)
#: fraction of the training split each tuning split holds out for validation
TUNE_VAL_FRACTION = 0.2
TUNE_RULE = ("each grid point trained on every tuning split (a seeded hold-out of "
             f"{TUNE_VAL_FRACTION:g} of the training split; the test split is never used); "
             "score = the last epoch's validation accuracy (no epoch picked); choice = the "
             "highest mean score over the splits (ties: first in grid order)")


def grid_points(grid: Mapping[str, Sequence[Any]]) -> List[Dict[str, Any]]:
    """Every combination of ``grid``'s values (knob -> values), in the order written
    (the last knob varies fastest)."""
    import itertools
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def tune(grid: Mapping[str, Sequence[Any]], score: Callable[[Dict[str, Any], int], float],
         splits: Sequence[int] = TUNE_SPLITS,
         log: Optional[Callable[[str], None]] = None) -> Dict[str, Any]:
    """Score every point of ``grid`` on every split (``score(params, split)``, a
    validation accuracy) and choose the best mean (see :data:`TUNE_RULE`);
    returns :func:`tuning_record`'s dict."""
    points = []
    for params in grid_points(grid):
        scores = [float(score(dict(params), int(s))) for s in splits]
        points.append({"params": params, "scores": scores,
                       "mean": float(sum(scores) / len(scores))})
        if log is not None:
            log(f"  tune {params}: validation {' '.join(f'{x:.3f}' for x in scores)}")
    return tuning_record(grid, points, splits)


def tuning_record(grid: Mapping[str, Sequence[Any]], points: List[Dict[str, Any]],
                  splits: Sequence[int]) -> Dict[str, Any]:
    """The per-arm tuning block of a result file: grid, splits, rule, every point's
    validation scores, the choice and its mean validation accuracy, the number of
    trainings spent."""
    best = max(range(len(points)), key=lambda i: (points[i]["mean"], -i))
    return {"grid": {k: list(v) for k, v in grid.items()}, "splits": [int(s) for s in splits],
            "val_fraction": TUNE_VAL_FRACTION, "rule": TUNE_RULE, "points": points,
            "choice": dict(points[best]["params"]),
            "validation_accuracy": points[best]["mean"],
            "trainings": len(points) * len(splits)}


def apply_params(cfg: Any, params: Mapping[str, Any]) -> Any:
    """``cfg`` (a TrainConfig) with tuning knobs applied: ``lr`` sets the optimiser's
    learning rate, a key of the neuron dict (``tau_grad``, ``threshold``, ...) the
    neuron's, any other key the config field of that name."""
    neuron, optimizer, fields = dict(cfg.neuron), dict(cfg.optimizer), {}
    for k, v in params.items():
        if k == "lr":
            optimizer["lr"] = v
        elif k in neuron or k in ("tau_grad", "scale_grad", "threshold", "voltage_decay",
                                  "current_decay", "surrogate"):
            neuron[k] = v
        else:
            fields[k] = v
    return cfg.replace(neuron=neuron, optimizer=optimizer, **fields)


def validation_accuracy(cfg: Any, params: Mapping[str, Any], split: int, work: str) -> float:
    """Train ``cfg`` with ``params`` on tuning split ``split`` (seed = split, hold-out
    :data:`TUNE_VAL_FRACTION`, last epoch) and return the last epoch's validation
    accuracy."""
    from loihi_snn.train.loop import train
    c = apply_params(cfg, params).replace(seed=int(split), val_fraction=TUNE_VAL_FRACTION,
                                          select="last")
    with tempfile.TemporaryDirectory(prefix="tune-", dir=work) as d:
        res = train(c, d, progress=False, verbose=False, lava=False)
    return float(res.history[-1]["validation_accuracy"])


def final_config(cfg: Any, params: Mapping[str, Any], seed: int) -> Any:
    """The evaluation run of a tuned recipe: ``params`` applied, seed ``seed``, the whole
    training split trained on (no hold-out) and the last epoch exported."""
    return apply_params(cfg, params).replace(seed=int(seed), val_fraction=0.0, select="last")


# ----------------------------------------------------------------------------- statistics

# --------------------------------------------------------------------------------------
# the tasks the accuracy-vs-cost studies share (cutoff, ternary): data, network, batch
# --------------------------------------------------------------------------------------

_NO_NORM = {"weight_norm": False}
#: per task: what it is (for the result's text), the TrainConfig fields of its data and
#: network, and the learning rates its tuning grid spans at full size (the conv nets train
#: at lower rates than the digits MLP: their presets use 0.001 / 0.005).  ``events`` is the
#: RCS study's synthetic DVS moving dot (2x8x8 events, 4 directions) and conv net;
#: ``mnist1d`` the mnist1d_conv preset's front end (the 40-value sequence as a 1x1x40 map,
#: x16 graded input).
TASKS: Dict[str, Dict[str, Any]] = {
    "digits": {
        "what": "64-H-10 LIF (H = 128), rate-coded digits (1438 train / 359 test)",
        "config": {"dataset": "digits", "encoding": "rate", "batch_size": 32,
                   "architecture": [{"type": "dense", "out": 128}, {"type": "dense"}]},
        "lr": [0.01, 0.03, 0.1]},
    "events": {
        "what": "conv8 - conv16 (stride 2) - dense LIF on the synthetic DVS moving dot (2x8x8 "
                "events, 4 directions; the RCS study's task and network)",
        "config": {"dataset": "events", "encoding": "binary", "batch_size": 16,
                   "dataset_options": {"height": 8, "width": 8, "num_classes": 4},
                   "architecture": [
                       {"type": "conv", "out": 8, "kernel": 3, "padding": 1,
                        "weight_scale": 3, **_NO_NORM},
                       {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                        "weight_scale": 3, **_NO_NORM},
                       {"type": "flatten"}, {"type": "dense", "weight_scale": 2, **_NO_NORM}]},
        "data": {"small": {"num_train": 160, "num_test": 40},
                 "full": {"num_train": 1500, "num_test": 1000}},
        "lr": [0.001, 0.003, 0.01]},
    "mnist1d": {
        "what": "conv16 (1x5) - conv32 (1x5, stride 2) - dense128 - 10 LIF on MNIST-1D in space "
                "layout (the mnist1d_conv preset's network; x16 graded input; 8000 train / "
                "2000 test sequences)",
        "config": {"dataset": "mnist1d", "encoding": "direct", "input_scale": 16,
                   "batch_size": 64, "dataset_options": {"layout": "space"},
                   "architecture": [
                       {"type": "conv", "out": 16, "kernel": [1, 5], "padding": [0, 2],
                        "weight_scale": 1},
                       {"type": "conv", "out": 32, "kernel": [1, 5], "padding": [0, 2],
                        "stride": [1, 2], "weight_scale": 1},
                       {"type": "flatten"}, {"type": "dense", "out": 128, "weight_scale": 1},
                       {"type": "dense", "weight_scale": 1}]},
        "data": {"small": {"num_samples": 400}, "full": {"num_samples": 10000}},
        "lr": [0.002, 0.005, 0.01]},
}


def task_config(task: str, *, T: int, size: str, neuron: Mapping[str, Any], epochs: int,
                name: str, width: int = 1, seed: int = 0, train_limit: Optional[int] = None,
                test_limit: Optional[int] = None, **fields: Any) -> Any:
    """The untuned TrainConfig of ``task`` (:data:`TASKS`) at ``T`` steps for study size
    ``size`` ("small" | "full": the data set's size), with ``neuron`` on every layer, every
    hidden layer's width (``out``) times ``width``, Adam with a cosine schedule, the last
    epoch exported; ``fields`` override the rest (e.g. ``val_fraction``)."""
    from loihi_snn.train.config import TrainConfig
    spec = TASKS[task]
    cfg = {k: v for k, v in spec["config"].items() if k not in ("dataset_options",
                                                                 "architecture")}
    options = {**spec["config"].get("dataset_options", {}), **spec.get("data", {}).get(size, {})}
    if options:
        cfg["dataset_options"] = options
    if task == "digits":
        cfg.update(train_limit=train_limit, test_limit=test_limit)
    arch = [dict(a, out=a["out"] * width) if "out" in a else dict(a)
            for a in spec["config"]["architecture"]]
    cfg.update(name=name, T=T, neuron=dict(neuron), architecture=arch, epochs=epochs,
               seed=seed, device="cpu", loss={"type": "cross_entropy", "scale": 1.0},
               optimizer={"type": "adam", "lr": spec["lr"][1], "schedule": "cosine"},
               val_fraction=0.0, select="last")
    cfg.update(fields)
    return TrainConfig(**cfg)


def task_grid(task: str, grid: Mapping[str, Sequence[Any]]) -> Dict[str, List[Any]]:
    """The full-size tuning grid for ``task``: ``grid`` with the task's learning rates."""
    return {**{k: list(v) for k, v in grid.items()}, "lr": list(TASKS[task]["lr"])}


def paired(a: Mapping[Hashable, Any], b: Mapping[Hashable, Any],
           value: Callable[[Any, Any], float]) -> Tuple[List[Hashable], List[float]]:
    """Per-seed (per-key) differences: the keys ``a`` and ``b`` share, sorted, and
    ``value(a[key], b[key])`` for each (e.g. ``lambda x, y: x["accuracy"] - y["accuracy"]``)."""
    keys = sorted(set(a) & set(b))
    return keys, [value(a[k], b[k]) for k in keys]


def sign(ci: Mapping[str, Any]) -> Optional[int]:
    """Which side of 0 a :func:`mean_ci` interval lies on: 1 above, -1 below, 0 it
    includes 0 (or is not finite); None with fewer than 2 values (no interval)."""
    if ci["n"] < 2:
        return None
    lo, hi = ci["ci95"]
    return 1 if lo > 0 else -1 if hi < 0 else 0


def pm(ci: Mapping[str, Any], scale: float = 1.0, fmt: str = ".3f") -> str:
    """``mean ± std`` of a :func:`mean_ci` summary (times ``scale``)."""
    return f"{ci['mean'] * scale:{fmt}} ± {ci['std'] * scale:{fmt}}"


def interval(ci: Mapping[str, Any], scale: float = 1.0, fmt: str = "+.2f") -> str:
    """``mean [low, high]`` of a :func:`mean_ci` summary (times ``scale``): the 95 %
    t-interval the verdict tables show."""
    lo, hi = ci["ci95"]
    return f"{ci['mean'] * scale:{fmt}} [{lo * scale:{fmt}}, {hi * scale:{fmt}}]"


# ----------------------------------------------------------------------------- result files

def write_result(name: str, *, study: Study, title: str, tables: Sequence[Table] = (),
                 data: Optional[Dict[str, Any]] = None, text: Sequence[str] = (),
                 status: str = "complete", out: Optional[str] = None) -> Tuple[str, str]:
    """``<out>/<name>/<name>.{json,md}`` (default ``out``: results/) with the study's
    starting provenance, its command included (:func:`loihi_snn.app.results.write_result`)."""
    return _write_result(name, title=title, tables=tables, data=data, text=text,
                         command=None, status=status,
                         results_dir=str(out) if out else str(RESULTS), started=study.started)


def _json_default(o: Any) -> Any:
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:              # pragma: no cover - numpy is a dependency
        pass
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_files(folder: str, stem: str, doc: Dict[str, Any], markdown: str,
                indent: int = 2) -> Tuple[str, str]:
    """``<folder>/<stem>.json`` (``doc``) and ``<stem>.md`` (``markdown``), each written
    atomically (a reader never sees half a file); returns both paths."""
    os.makedirs(folder, exist_ok=True)
    json_path = os.path.join(folder, f"{stem}.json")
    md_path = os.path.join(folder, f"{stem}.md")
    atomic_write_text(json_path, json.dumps(doc, indent=indent, default=_json_default) + "\n")
    atomic_write_text(md_path, markdown if markdown.endswith("\n") else markdown + "\n")
    return json_path, md_path


def stamped(study: Study) -> Dict[str, Any]:
    """The study's starting provenance plus ``written`` (UTC date) and
    ``load_average_at_write``: the ``provenance`` block of a result written now (what
    :func:`write_result` records; for :func:`write_files` layouts)."""
    import datetime
    return {**study.started,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "load_average_at_write": provenance.load_average()}


def provenance_lines(doc: Mapping[str, Any]) -> List[str]:
    """Markdown lines (command, git revision and whether the tree was clean, machine,
    load, date, when written) for a result's JSON, whichever provenance layout it holds."""
    lines = provenance.markdown_lines(provenance.result_provenance(dict(doc)))
    prov = doc.get("provenance") if isinstance(doc.get("provenance"), dict) else {}
    if prov.get("written"):
        load = prov.get("load_average_at_write")
        lines.append(f"- written: {prov['written']}, load average then "
                     f"{', '.join(map(str, load)) if load else 'unknown'}")
    return lines

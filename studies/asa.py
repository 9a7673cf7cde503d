"""Study: does ASA's input-dependent split cut spikes at equal accuracy? On Lava.

    python -m studies.asa [--size small|full] [--seeds 0,1,2] [--noise 5,20,50]
                          [--epochs N] [--task dot8|dot16] [--tune] [--out DIR]

ASA (Advance Spatial Attention, Yao et al., ICCV 2023) rescales a conv layer's
synaptic current with two spatial maps, one for an *important* set of channels and one
for the rest, so that noisy feature maps fall below threshold.  Here the gate is
causal and per sample (:class:`loihi_snn.torch.blocks.ASAConv`, fixed point on Lava)
and the study trains the same small conv network (conv8 - conv16 stride 2 - dense, LIF)
on synthetic DVS events (``--task dot8``: a dot moving in one of 4 directions, 2 x 8 x 8,
T = 16; ``--task dot16``: 8 directions, 2 x 16 x 16, T = 32) with background noise at
several rates, in four arms:

* ``plain``: no gate;
* ``gain``: no gate, but every conv current scaled by the gate's starting gain
  (sigmoid(3.0) -> 244/256 = 0.953), the control for the gain alone;
* ``static``: the gate with one learned split per layer (only the maps adapt);
* ``adaptive``: the paper's gate: per sample and step, the top half of the channel
  scores (avg + max pooling of the current input through a learned layer).

For every model (package trainer, best epoch on a 10 % validation hold-out; with
``--tune`` each arm's learning rate x surrogate width is first chosen on validation by the
studies' one protocol and every seed then trains on the whole training split, the last
epoch exported): test
accuracy of the quantized forward (= Lava fixed point, checked spike for spike on the
first test samples), NASFR and spikes per sample per layer, each conv layer's firing
rate on noise-only recordings at the same rate, and the gates' mean gains.  The claim
(ASA fires less at equal or better accuracy than the gain control, the more so the
noisier the input) gets a verdict per noise rate.  Writes ``asa.json``, ``asa.md`` and
``asa.png`` to ``--out`` (default ``results/asa`` for ``--size full``, a temporary
directory for ``--size small``), after every trained model (partial results survive
an interrupted run), with the provenance record of :mod:`loihi_snn.core.provenance`.
The walk-through: tutorials/04_asa.py.
"""
from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import time
from typing import Optional

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/asa.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

from loihi_snn.core import provenance  # noqa: E402

ROOT = str(harness.ROOT)
SIZES = {
    "small": {"num_train": 64, "num_test": 32, "epochs": 1, "lava_limit": 2,
              "noise_samples": 16, "seeds": [0], "noise": [30.0]},
    "full": {"num_train": 1000, "num_test": 300, "epochs": 12, "lava_limit": 8,
             "noise_samples": 100, "seeds": [0, 1, 2], "noise": [5.0, 20.0, 50.0]},
}
ARMS = ("plain", "gain", "static", "adaptive")
#: --task: the event data set.  ``dot8`` is the study's first task (2 x 8 x 8, 4 directions,
#: T = 16 frames of 6.25 ms); ``dot16`` the larger one (2 x 16 x 16, 8 directions with the
#: diagonals, T = 32 frames of the same 6.25 ms: 200 ms recordings); the network is the same
TASKS = {"dot8": {"data": {"height": 8, "width": 8, "num_classes": 4, "duration_us": 100_000},
                  "T": 16},
         "dot16": {"data": {"height": 16, "width": 16, "num_classes": 8,
                            "duration_us": 200_000}, "T": 32}}
DATA = dict(TASKS["dot8"]["data"])
T = TASKS["dot8"]["T"]
#: --tune: every arm's learning rate x surrogate width chosen by the studies' one protocol
#: (:func:`studies.harness.tune`: two seeded 20 % hold-outs of the training split, the last
#: epoch's validation accuracy, the test split never used); then every seed is trained on
#: the whole training split and the last epoch exported
TUNE_GRID = {"lr": [0.003, 0.01, 0.03], "tau_grad": [0.1, 0.25]}
# surrogate: scale 3 x exp(-|v - vth| / 0.25); with gentler surrogates the first conv
# layer's gradient falls below Adam's eps (1e-8) and it does not train at all
NEURON = {"threshold": 1.0, "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.25,
          "scale_grad": 3.0}
ASA_RATIO = 0.5
MAP_BIAS = 3.0          # the gates' initial map bias; the gain arm's constant gain
#: --loss: cross-entropy on the output spike counts (the default) or SLAYER's spike-rate
#: loss (a mean squared error of the output rates against target rates, as the authors'
#: MSE)
LOSSES = {"cross_entropy": {"type": "cross_entropy", "scale": 1.0},
          "spike_rate": {"type": "spike_rate", "true_rate": 0.4, "false_rate": 0.02}}


def config_for(arm: str, noise: float, size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    neuron = {"type": "lif", **NEURON} if arm == "plain" else \
        {"type": "lif-asa", **NEURON, "asa_ratio": ASA_RATIO, "asa_split": arm,
         "asa_map_bias": MAP_BIAS}
    return TrainConfig(
        name=f"{arm}_n{noise:g}_s{seed}", dataset="events", encoding="binary", T=T,
        dataset_options={**DATA, "noise_rate": float(noise), "num_train": size["num_train"],
                         "num_test": size["num_test"]},
        val_fraction=0.1,
        architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1,
                       "weight_scale": 3, "weight_norm": False},
                      {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                       "weight_scale": 3, "weight_norm": False},
                      {"type": "flatten"},
                      {"type": "dense", "weight_scale": 2, "weight_norm": False}],
        neuron=neuron, loss=dict(LOSSES[size.get("loss", "cross_entropy")]),
        select=size.get("select", "best"),
        optimizer={"type": "adam", "lr": 0.01}, epochs=size["epochs"], batch_size=16,
        seed=seed, device="cpu")


def tuned_config(arm: str, noise: float, size: dict, seed: int, tuning: dict, work: str):
    """``config_for`` with the arm's tuned learning rate and surrogate width (tuned on
    first use at this noise rate, the record kept in ``tuning``), trained on the whole
    training split, the last epoch exported."""
    cfg = config_for(arm, noise, size, seed)
    key = f"{arm}@{noise:g}"
    if key not in tuning:
        t0 = time.time()
        rec = harness.tune(size["tune_grid"], lambda prm, split: harness.validation_accuracy(
            cfg, prm, split, work), size.get("tune_splits", harness.TUNE_SPLITS))
        tuning[key] = {"arm": arm, "noise": noise, **rec, "seconds": round(time.time() - t0, 1)}
        print(f"noise {noise:5g} {arm:8s} tuned {rec['choice']} (validation "
              f"{rec['validation_accuracy']:.3f}, {rec['trainings']} trainings, "
              f"{tuning[key]['seconds']} s)", flush=True)
    return harness.final_config(cfg, tuning[key]["choice"], seed)


def noise_inputs(noise: float, n: int, seed: int) -> np.ndarray:
    """``n`` noise-only recordings (no dot) at ``noise`` Hz, binary frames (N, 2, H, W, T) of
    the current task (:data:`DATA`, :data:`T`)."""
    from loihi_snn.train.events import events_to_frames, noise_events
    ev = noise_events(n, np.random.default_rng([seed, 7919]), height=DATA["height"],
                      width=DATA["width"], duration_us=DATA["duration_us"], noise_rate=noise)
    sensor = (DATA["width"], DATA["height"], 2)
    return np.stack([events_to_frames(e, sensor, T, DATA["duration_us"], 0, clip=True)
                     for e in ev]).astype(np.float32)


def forward(model, x: np.ndarray, gate_stats: bool = False):
    """Quantized forward in batches: output (N, K, T), spiking layers, gate gains."""
    import torch
    from loihi_snn.torch.blocks import ASAGate
    gains, hooks = {}, []
    if gate_stats:
        for name, mod in model.named_modules():
            if isinstance(mod, ASAGate):
                def hook(m, inp, out, name=name):
                    mi, ms, mask = m.maps(inp[0])            # (N, H, W, T), (N, C, T)
                    frac = mask.float().mean(1)              # (N, T): share of imp channels
                    g = gains.setdefault(name, {"imp": [], "sub": [], "all": []})
                    g["imp"].append(float(mi.float().mean()) / 256)
                    g["sub"].append(float(ms.float().mean()) / 256)
                    g["all"].append(float((mi.float().mean((1, 2)) * frac
                                           + ms.float().mean((1, 2)) * (1 - frac)).mean()) / 256)
                hooks.append(mod.register_forward_hook(hook))
    outs, layers = [], None
    try:
        with torch.no_grad():
            for i in range(0, len(x), 100):
                out, ls = model(torch.from_numpy(x[i:i + 100]).float(), return_layers=True)
                outs.append(out.numpy())
                ls = [l.numpy().astype(np.int8) for l in ls]
                layers = ls if layers is None else [np.concatenate([a, b])
                                                    for a, b in zip(layers, ls)]
    finally:
        for h in hooks:
            h.remove()
    gains = {k: {kk: float(np.mean(vv)) for kk, vv in v.items()} for k, v in gains.items()}
    return np.concatenate(outs), layers, gains


def measure(model, test, noise_x: np.ndarray, lava_path: str, lava_limit: int) -> dict:
    """Accuracy, NASFR, spikes per layer, noise-only conv rates, gate gains, Lava check."""
    from loihi_snn.core.metrics import layer_firing_rates, nasfr, spikes_per_sample
    from loihi_snn.sim.runtime.stream import run_many
    model.eval()
    output, layers, gains = forward(model, test.inputs, gate_stats=True)
    pred = output.sum(-1).argmax(1)
    names = model.layer_names()
    conv = [i for i, n in enumerate(names) if n.endswith(":conv")]
    _, noise_layers, _ = forward(model, noise_x)
    n = min(lava_limit, len(test))
    lava = run_many(lava_path, test.inputs[:n])
    return {"accuracy": float((pred == test.labels).mean()),
            "nasfr": nasfr(layers),
            "spikes_per_sample": float(spikes_per_sample(layers).mean()),
            "layer_spikes": {names[i]: float(spikes_per_sample([l]).mean())
                             for i, l in enumerate(layers)},
            "layer_rates": dict(zip(names, np.round(layer_firing_rates(layers), 5).tolist())),
            "noise_conv_rates": {names[i]: float(layer_firing_rates([noise_layers[i]])[0])
                                 for i in conv},
            "noise_conv_spikes": float(spikes_per_sample([noise_layers[i] for i in conv]).mean()),
            "gate_gains": gains,
            "lava_samples": n,
            "lava_identical_output": bool(np.array_equal(lava.reshape(output[:n].shape),
                                                         output[:n]))}


def train_and_measure(noise: float, seed: int, arm: str, size: dict, models: str,
                      tuning: Optional[dict] = None) -> dict:
    """One model of ``arm`` at ``noise`` Hz, seed ``seed``: trained by the package trainer
    and measured (:func:`measure`) on the test split and noise-only recordings; with
    ``size["tune_grid"]`` the arm's recipe is tuned first (:func:`tuned_config`)."""
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_split
    from loihi_snn.train.loop import train
    noise_x = _noise_inputs(noise, size["noise_samples"], seed)
    t0 = time.time()
    if size.get("tune_grid"):
        cfg = tuned_config(arm, noise, size, seed, tuning if tuning is not None else {}, models)
    else:
        cfg = config_for(arm, noise, size, seed)
    res = train(cfg, os.path.join(models, cfg.name), progress=False, verbose=False, lava=False)
    model, _ = load_checkpoint(res.checkpoint)
    test = load_split(cfg.dataset, "test", T=cfg.T, encoding=cfg.encoding, seed=cfg.seed,
                      limit=cfg.test_limit, options=cfg.dataset_options,
                      input_scale=cfg.input_scale)
    return {"noise": noise, "arm": arm, "seed": seed, "best_epoch": res.best_epoch,
            "lr": cfg.optimizer["lr"], "tau_grad": cfg.neuron["tau_grad"],
            "validation_accuracy": res.best_score if cfg.val_fraction > 0 else None,
            **measure(model, test, noise_x, res.net_path, size["lava_limit"]),
            "seconds": round(time.time() - t0, 1)}


@functools.lru_cache(maxsize=1)
def _noise_inputs(noise: float, n: int, seed: int) -> np.ndarray:
    return noise_inputs(noise, n, seed)      # the same recordings for every arm of a seed


def main(argv=None) -> int:
    global MAP_BIAS, DATA, T
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--task", choices=sorted(TASKS), default="dot8",
                   help="event data: dot8 (2x8x8, 4 directions, T=16; default) or dot16 "
                        "(2x16x16, 8 directions, T=32)")
    p.add_argument("--tune", action="store_true",
                   help="tune every arm's learning rate x surrogate width on validation "
                        f"(grid {TUNE_GRID}; two seeded 20 %% hold-outs, last epoch), then "
                        "train each seed on the whole training split and export the last "
                        "epoch")
    p.add_argument("--tune-grid", default=None, metavar="SPEC",
                   help="the tuning grid instead of the default, e.g. "
                        "'lr=0.003,0.01,0.03;tau_grad=0.25' (implies --tune)")
    p.add_argument("--tune-splits", type=int, default=None, metavar="N",
                   help=f"tune on the first N of the tuning splits {list(harness.TUNE_SPLITS)} "
                        "(default all; implies --tune)")
    p.add_argument("--seeds", default=None, help="comma-separated training seeds")
    p.add_argument("--noise", default=None,
                   help="comma-separated background noise rates, Hz per pixel")
    p.add_argument("--arms", default=",".join(ARMS), help=f"subset of {', '.join(ARMS)}")
    p.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    p.add_argument("--out", default=None,
                   help="directory for asa.{md,json,png} (default: results/asa for full, "
                        "a temporary directory for small)")
    p.add_argument("--models", default=None,
                   help="directory for the trained models (default: a temporary directory)")
    p.add_argument("--map-bias", type=float, default=None,
                   help="the gates' initial map bias and the gain arm's gain, sigmoid(bias) "
                        f"(default {MAP_BIAS}: gain 0.953; 0: gain 0.5, the paper's start)")
    p.add_argument("--loss", choices=sorted(LOSSES), default=None,
                   help="training loss (default cross_entropy; spike_rate: an MSE of rates)")
    p.add_argument("--select", choices=("best", "last"), default=None,
                   help="exported epoch: best on validation (default) or the last")
    p.add_argument("--combine", nargs="+", default=None, metavar="DIR",
                   help="only merge the asa.json of earlier runs (e.g. one per noise rate, "
                        "run in parallel) into one report in --out")
    args = p.parse_args(argv)
    study = harness.Study("asa", argv)        # the revision and machine this run started from
    if args.combine:
        out = args.out or os.path.join(ROOT, "results", "asa")
        os.makedirs(out, exist_ok=True)
        write(out, combine(args.combine, study.command))
        print(f"results: {out}/asa.md")
        return 0

    harness.start()
    size = dict(SIZES[args.size])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    if args.map_bias is not None:
        MAP_BIAS = args.map_bias
    if args.loss is not None:
        size["loss"] = args.loss
    if args.select is not None:
        size["select"] = args.select
    DATA, T = dict(TASKS[args.task]["data"]), TASKS[args.task]["T"]
    if args.tune_splits is not None and not 1 <= args.tune_splits <= len(harness.TUNE_SPLITS):
        p.error(f"--tune-splits must be 1..{len(harness.TUNE_SPLITS)}, got {args.tune_splits}")
    if args.tune or args.tune_grid or args.tune_splits:
        try:
            size["tune_grid"] = parse_grid(args.tune_grid) if args.tune_grid else TUNE_GRID
        except ValueError as e:
            p.error(f"--tune-grid: {e}")
        size["select"] = "last"
        if args.tune_splits:
            size["tune_splits"] = list(harness.TUNE_SPLITS[:args.tune_splits])
        if args.size == "small":
            size["tune_grid"] = {k: v[:1] for k, v in size["tune_grid"].items()}
            size["tune_splits"] = [harness.TUNE_SPLITS[0]]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else size["seeds"]
    noises = [float(s) for s in args.noise.split(",")] if args.noise else size["noise"]
    arms = [a for a in args.arms.split(",") if a]
    for a in arms:
        if a not in ARMS:
            p.error(f"unknown arm {a!r}; choose from {', '.join(ARMS)}")
    out = args.out or (os.path.join(ROOT, "results", "asa") if args.size == "full"
                       else tempfile.mkdtemp(prefix="asa-"))
    os.makedirs(out, exist_ok=True)
    models = args.models or tempfile.mkdtemp(prefix="asa-models-")
    report = {"provenance": study.started,
              "size": args.size, "size_params": size, "seeds": seeds, "noise_rates": noises,
              "arms": arms, "neuron": NEURON, "asa_ratio": ASA_RATIO, "map_bias": MAP_BIAS,
              "task": args.task, "data": {**DATA, "T": T, "encoding": "binary"},
              "tuning": {}, "rows": []}
    cpu0 = sum(os.times()[:4])
    cells = [(noise, seed, arm) for noise in noises for seed in seeds for arm in arms]

    def line(row):
        return (f"noise {row['noise']:5g} {row['arm']:8s} seed {row['seed']}: acc "
                f"{row['accuracy']:.3f}  spikes/sample {row['spikes_per_sample']:7.1f}  NASFR "
                f"{row['nasfr']:.4f}  noise-only conv spikes {row['noise_conv_spikes']:6.1f}  "
                f"Lava identical {row['lava_identical_output']}  ({row['seconds']} s)")

    def write_report(rows, status, wall):
        report["provenance"] = harness.stamped(study)
        if status == "complete":
            report["complete"] = True
        else:
            report.update(wall_seconds=round(wall, 1),
                          cpu_seconds=round(sum(os.times()[:4]) - cpu0, 1),
                          load_average_end=report["provenance"]["load_average_at_write"],
                          complete=False)
        write(out, report)

    study.run(cells, lambda c: train_and_measure(*c, size, models, report["tuning"]),
              write_report, line,
              rows=report["rows"])
    print(f"results: {out}/asa.md")
    print("asa: OK")
    return 0


def parse_grid(spec: str) -> dict:
    """``'lr=0.003,0.01;tau_grad=0.25'`` -> ``{"lr": [0.003, 0.01], "tau_grad": [0.25]}``
    (only ``lr`` and ``tau_grad``; ValueError naming the bad part)."""
    grid = {}
    for part in (x.strip() for x in spec.split(";") if x.strip()):
        key, _, values = part.partition("=")
        key = key.strip()
        if key not in TUNE_GRID:
            raise ValueError(f"unknown knob {key!r} in {part!r}; use {' or '.join(TUNE_GRID)}")
        try:
            grid[key] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{part!r}: the values must be numbers") from None
        if not grid[key]:
            raise ValueError(f"{part!r} has no values")
    if not grid:
        raise ValueError(f"empty grid {spec!r}")
    return grid


def combine(dirs, command: str) -> dict:
    """One report from the ``asa.json`` of several runs with the same settings (rows
    concatenated, noise rates and seeds united; the parts' provenance records kept in
    one (:func:`loihi_snn.core.provenance.combine`: revisions, dates, dirty or not),
    loads and times per part).  Parts written before the provenance record (flat
    ``command`` / ``git_revision`` / ``machine`` keys) are read too."""
    parts = []
    for d in dirs:
        with open(os.path.join(d, "asa.json")) as f:
            parts.append(json.load(f))
    base = {k: v for k, v in parts[0].items()
            if k not in ("command", "git_revision", "date", "machine", "load_average_start")}
    for key in ("size_params", "arms", "neuron", "asa_ratio", "map_bias", "data"):
        if any(p[key] != base[key] for p in parts):
            raise SystemExit(f"cannot combine: the runs differ in {key}")
    provs = [provenance.result_provenance(p) for p in parts]
    base["rows"] = [r for p in parts for r in p["rows"]]
    base["tuning"] = {k: v for p in parts for k, v in (p.get("tuning") or {}).items()}
    base["noise_rates"] = sorted({n for p in parts for n in p["noise_rates"]})
    base["seeds"] = sorted({s for p in parts for s in p["seeds"]})
    base["provenance"] = provenance.combine(
        [p.get("provenance", p) for p in parts],
        "; ".join([pr["command"] for pr in provs] + [command]))
    base["load_average_start"] = [pr.get("load_average") for pr in provs]
    base["load_average_end"] = [p.get("load_average_end") for p in parts]
    base["wall_seconds"] = max(p.get("wall_seconds") or 0 for p in parts)
    base["cpu_seconds"] = round(sum(p.get("cpu_seconds") or 0 for p in parts), 1)
    base["complete"] = all(p.get("complete") for p in parts)
    base["parts"] = [{"dir": os.path.relpath(d, ROOT), "command": pr["command"],
                      "complete": p.get("complete")} for d, p, pr in zip(dirs, parts, provs)]
    return base


def write(out: str, report: dict) -> None:
    """asa.json, asa.md and asa.png from the rows so far (written atomically)."""
    harness.write_files(out, "asa", report, markdown(report))
    plot(os.path.join(out, "asa.png"), report)


# ----------------------------------------------------------------------------- summaries

def _sel(rows, noise, arm):
    return sorted((r for r in rows if r["noise"] == noise and r["arm"] == arm),
                  key=lambda r: r["seed"])


def _ms(values):
    v = np.asarray(values, dtype=float)
    return (float(v.mean()), float(v.std())) if v.size else (float("nan"), 0.0)


def paired(rows, noise, arm, ref) -> dict:
    """Per-seed differences of ``arm`` against ``ref`` at one noise rate: accuracy in
    points, spikes per sample in % of ref, noise-only conv spikes in % of ref."""
    a = {r["seed"]: r for r in _sel(rows, noise, arm)}
    b = {r["seed"]: r for r in _sel(rows, noise, ref)}
    seeds = sorted(set(a) & set(b))
    acc = [100 * (a[s]["accuracy"] - b[s]["accuracy"]) for s in seeds]
    spk = [100 * (a[s]["spikes_per_sample"] / b[s]["spikes_per_sample"] - 1) for s in seeds]
    nse = [100 * (a[s]["noise_conv_spikes"] / b[s]["noise_conv_spikes"] - 1)
           if b[s]["noise_conv_spikes"] else float("nan") for s in seeds]
    return {"seeds": seeds, "accuracy_points": acc, "spikes_percent": spk,
            "noise_spikes_percent": nse}


def verdict(rows, noises, arm, ref, tol_points: float = 1.0) -> dict:
    """The claim for ``arm`` against ``ref``: at each noise rate fewer spikes in every seed
    and mean accuracy no more than ``tol_points`` below; the spike gap grows with noise."""
    per, gaps = {}, []
    for noise in noises:
        d = paired(rows, noise, arm, ref)
        if not d["seeds"]:
            continue
        acc, spk = _ms(d["accuracy_points"]), _ms(d["spikes_percent"])
        fewer = all(s < 0 for s in d["spikes_percent"])
        holds = fewer and acc[0] >= -tol_points
        per[noise] = {"n": len(d["seeds"]), "accuracy_points": acc, "spikes_percent": spk,
                      "accuracy_ci95": harness.mean_ci(d["accuracy_points"])["ci95"],
                      "spikes_ci95": harness.mean_ci(d["spikes_percent"])["ci95"],
                      "noise_spikes_percent": _ms(d["noise_spikes_percent"]),
                      "fewer_spikes_every_seed": fewer, "holds": holds}
        gaps.append(-spk[0])
    grows = all(b > a for a, b in zip(gaps, gaps[1:])) if len(gaps) >= 2 else None
    return {"per_noise": per, "gap_grows_with_noise": grows,
            "holds": bool(per) and all(v["holds"] for v in per.values()) and grows is not False}


def markdown(r: dict) -> str:
    s = r["size_params"]
    rows, noises = r["rows"], r["noise_rates"]
    arms = [a for a in r["arms"] if any(x["arm"] == a for x in rows)]
    done = len(rows)
    planned = len(noises) * len(r["seeds"]) * len(r["arms"])
    tuned = bool(s.get("tune_grid"))
    start_gain = 1 / (1 + np.exp(-r["map_bias"]))
    lines = [
        "# ASA: input-dependent split vs static split vs gain control vs no gate", "",
        *harness.provenance_lines(r),
        "- load average (1/5/15 min) "
        + (f"at the start of each part {r['load_average_start']}; "
           if "load_average_start" in r else "")
        + f"at the end {r.get('load_average_end')} (the machine was shared); "
        f"{r.get('wall_seconds')} s wall / {r.get('cpu_seconds')} s CPU", "",
        f"Models: {done} of {planned}" + ("" if r.get("complete") else
                                          " (**partial: the run is still going or was cut "
                                          "short**)") + ".", "",
        f"Data: synthetic DVS moving dot ({r['data']['num_classes']} directions), "
        f"2 x {r['data']['height']} x "
        f"{r['data']['width']}, T = {r['data']['T']} binary frames of "
        f"{r['data']['duration_us'] / 1000 / r['data']['T']:g} ms "
        f"({r['data']['duration_us'] / 1000:g} ms recordings), background noise at "
        f"{', '.join(f'{n:g}' for n in noises)} Hz per pixel (random place, time and "
        f"polarity); {s['num_train']} generated training recordings ("
        + (f"every arm tuned on {len(s.get('tune_splits', harness.TUNE_SPLITS))} seeded 20 % "
           "hold-outs of them, then each seed trained on all of them" if tuned else "10 % held out; the epoch is picked on it unless the "
                                       "last is exported")
        + f"), {s['num_test']} test recordings, {s['epochs']} epochs, seeds "
        f"{r['seeds']}.  Network: conv8 (3x3) - conv16 (3x3, stride 2) - dense, LIF "
        f"{r['neuron']}, {s.get('loss', 'cross_entropy').replace('_', ' ')} loss, Adam "
        + ("with each arm's tuned learning rate and surrogate width (tau_grad; table "
           "Tuning)" if tuned else "lr 0.01")
        + f", batch 16, the {s.get('select', 'best')} epoch exported.", "",
        "Arms: **plain** no gate; **gain** every conv current times the gates' starting "
        f"gain (sigmoid({r['map_bias']:g}) = {start_gain:.3f} in 8 bits, "
        "a constant: the control for "
        "the gain alone); **static** ASA gate with one learned split per layer; "
        "**adaptive** ASA gate with the split chosen per sample and step from the current "
        f"input (top {r['asa_ratio']:.0%} of learned channel scores).  All gates start at "
        f"map bias {r['map_bias']:g}.", "",
        "Accuracy: quantized forward on the test set (= Lava fixed point; Lava checked "
        "spike for spike on the first test samples of every model, column Lava).  NASFR = "
        "spikes / (neurons x T) over all spiking layers; spikes = per test sample; noise-only "
        "= spikes per noise-only recording (no dot, same noise rate) in the conv layers.  "
        "Gains: mean gate gain (important map / sub-important map / applied) on the test "
        "set, per gated layer.  Mean +- std over seeds.", "",
        "| noise (Hz) | arm | accuracy | NASFR | spikes/sample | conv1 / conv2 / dense spikes "
        "| noise-only conv spikes | conv1 / conv2 rate on noise | gains conv1; conv2 | Lava |",
        "|---|---|---|---|---|---|---|---|---|---|"]
    for noise in noises:
        for arm in arms:
            sel = _sel(rows, noise, arm)
            if not sel:
                continue
            acc, nas = _ms([x["accuracy"] for x in sel]), _ms([x["nasfr"] for x in sel])
            spk = _ms([x["spikes_per_sample"] for x in sel])
            names = list(sel[0]["layer_spikes"])
            per_layer = " / ".join(f"{_ms([x['layer_spikes'][n] for x in sel])[0]:.0f}"
                                   for n in names)
            nz = _ms([x["noise_conv_spikes"] for x in sel])
            cn = list(sel[0]["noise_conv_rates"])
            nrate = " / ".join(f"{_ms([x['noise_conv_rates'][n] for x in sel])[0]:.4f}"
                               for n in cn)
            gnames = list(sel[0]["gate_gains"])
            gains = "; ".join(
                "/".join(f"{_ms([x['gate_gains'][g][k] for x in sel])[0]:.2f}"
                         for k in ("imp", "sub", "all")) for g in gnames) or "-"
            lava = f"{'yes' if all(x['lava_identical_output'] for x in sel) else 'NO'} " \
                   f"({sum(x['lava_samples'] for x in sel)})"
            lines.append(f"| {noise:g} | {arm} | {acc[0]:.3f} +- {acc[1]:.3f} | "
                         f"{nas[0]:.4f} +- {nas[1]:.4f} | {spk[0]:.0f} +- {spk[1]:.0f} | "
                         f"{per_layer} | {nz[0]:.0f} +- {nz[1]:.0f} | {nrate} | {gains} | "
                         f"{lava} |")
    if r.get("tuning"):
        first = next(iter(r["tuning"].values()))
        lines += ["", "## Tuning", "",
                  f"Grid {first['grid']} per arm and noise rate, the same for every arm; "
                  f"tuning splits (seeds) {first['splits']}; {first['rule']}.", "",
                  "| noise (Hz) | arm | choice | validation accuracy | trainings | s |",
                  "|---|---|---|---|---|---|"]
        for t in r["tuning"].values():
            lines.append(f"| {t['noise']:g} | {t['arm']} | {t['choice']} | "
                         f"{t['validation_accuracy']:.3f} | {t['trainings']} | "
                         f"{t.get('seconds', '')} |")
    lines += ["", "## Verdicts", "",
              "Paired by seed against the reference arm: accuracy difference in points, "
              "spikes per test sample and noise-only conv spikes in % of the reference "
              "(mean +- std over seeds, and the paired 95 % t-interval of the mean).  A claim "
              "holds at a noise rate if the arm fires less in every seed and its mean "
              "accuracy is at most 1 point below; overall if it holds at every rate and the "
              "spike gap grows with the noise rate.", "",
              "| claim | noise (Hz) | seeds | accuracy (points) | accuracy 95 % CI | "
              "spikes (%) | spikes 95 % CI | noise-only conv spikes (%) | holds |",
              "|---|---|---|---|---|---|---|---|---|"]
    claims = [("adaptive", "gain", "adaptive ASA fires less than the gain control at "
                                   "equal or better accuracy"),
              ("static", "gain", "static-split ASA fires less than the gain control"),
              ("adaptive", "static", "the adaptive split fires less than the static split"),
              ("gain", "plain", "(the gain alone vs no gate)")]
    summary = []
    trend = {True: "grows", False: "does not grow", None: "not measured (one rate)"}
    for arm, ref, text in claims:
        if arm not in arms or ref not in arms:
            continue
        v = verdict(rows, noises, arm, ref)
        for noise, d in v["per_noise"].items():
            ci_a, ci_s = d["accuracy_ci95"], d["spikes_ci95"]
            lines.append(f"| {arm} vs {ref} | {noise:g} | {d['n']} | "
                         f"{d['accuracy_points'][0]:+.1f} +- {d['accuracy_points'][1]:.1f} | "
                         f"[{ci_a[0]:+.1f}, {ci_a[1]:+.1f}] | "
                         f"{d['spikes_percent'][0]:+.0f} +- {d['spikes_percent'][1]:.0f} | "
                         f"[{ci_s[0]:+.0f}, {ci_s[1]:+.0f}] | "
                         f"{d['noise_spikes_percent'][0]:+.0f} +- "
                         f"{d['noise_spikes_percent'][1]:.0f} | "
                         f"{'yes' if d['holds'] else 'no'} |")
        if v["per_noise"]:
            summary.append(f"- {text}: **{'holds' if v['holds'] else 'does not hold'}** "
                           f"(holds at {sum(d['holds'] for d in v['per_noise'].values())} of "
                           f"{len(v['per_noise'])} noise rates; spike gap "
                           f"{trend[v['gap_grows_with_noise']]} with noise).")
    lines += [""] + summary
    lines += ["", "Reading the numbers:", ""]
    for noise in noises:
        sel = [x for x in rows if x["noise"] == noise]
        late = sum(x["best_epoch"] >= s["epochs"] - 1 for x in sel)
        picked = s.get("select", "best") == "best"
        gated = [x for x in sel if x["gate_gains"] and x["arm"] in ("static", "adaptive")]
        applied = [g["all"] for x in gated for g in x["gate_gains"].values()]
        lines.append(f"- {noise:g} Hz: "
                     + (f"best epoch in the last two of {s['epochs']} for {late} of {len(sel)} "
                        "models" + (" (not converged: more epochs could change these numbers)"
                                    if late > len(sel) / 3 else "")
                        if picked else f"the last of {s['epochs']} epochs exported for every "
                                       f"model")
                     + (f"; trained static/adaptive gates apply a mean gain of "
                        f"{np.mean(applied):.2f} (range {min(applied):.2f}-{max(applied):.2f}; "
                        f"they started at {start_gain:.2f})" if applied else "") + ".")
    lines += ["", "Per model:", "",
              "| noise | arm | seed | lr | tau_grad | exported epoch | val acc | test acc | "
              "NASFR | spikes/sample | noise-only conv spikes | Lava identical | s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for x in rows:
        val = x.get("validation_accuracy")
        lines.append(f"| {x['noise']:g} | {x['arm']} | {x['seed']} | {x.get('lr', 0.01):g} | "
                     f"{x.get('tau_grad', r['neuron']['tau_grad']):g} | {x['best_epoch']} | "
                     f"{'-' if val is None else format(val, '.3f')} | {x['accuracy']:.3f} | "
                     f"{x['nasfr']:.4f} | {x['spikes_per_sample']:.0f} | "
                     f"{x['noise_conv_spikes']:.0f} | {x['lava_identical_output']} | "
                     f"{x['seconds']} |")
    lines += ["", "Paper (Yao et al., ICCV 2023, README, accuracy % / NASFR): DVS128 Gesture "
              "91.3/0.176 -> 95.2/0.038 with ASA; their module pools over all T and the batch "
              "(not causal, not per sample); ours is causal and per sample and runs on Lava.",
              ""]
    return "\n".join(lines)


def plot(path: str, r: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows, noises = r["rows"], r["noise_rates"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    keys = (("accuracy", "test accuracy"), ("spikes_per_sample", "spikes per test sample"),
            ("noise_conv_spikes", "conv spikes per noise-only recording"))
    for ax, (key, label) in zip(axes, keys):
        for k, arm in enumerate(a for a in r["arms"] if any(x["arm"] == a for x in rows)):
            xs, ms, ss = [], [], []
            for noise in noises:
                sel = _sel(rows, noise, arm)
                if sel:
                    m, s = _ms([x[key] for x in sel])
                    xs.append(noise * (1 + 0.03 * (k - 1.5)))
                    ms.append(m)
                    ss.append(s)
            ax.errorbar(xs, ms, yerr=ss, marker="o", capsize=3, label=arm)
        ax.set_xscale("log")
        ax.set_xlabel("background noise (Hz per pixel)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"ASA arms vs noise (seeds {r['seeds']}, {r['size_params']['epochs']} "
                 f"epochs, mean +- std)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

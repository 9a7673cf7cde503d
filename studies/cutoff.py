"""Study: what the Top-K cutoff buys over networks *trained* for fewer steps (run on Lava).

    python -m studies.cutoff [--size small|full] [--task digits|events|mnist1d]
                             [--seeds N] [--out RESULTS_DIR]

The baseline a referee asks for: not a T=16 network stopped early (its first steps are
latency; it was never trained to decide sooner) but networks trained at each shorter T.
For every T in {4, 6, 8, 11, 16} a binary LIF network of the task (:data:`TASKS`:
``digits``, 64-128-10 on rate-coded digits; ``events``, the conv net of the RCS study on
the synthetic DVS moving dot, 2x8x8, 4 classes; ``mnist1d``, the ``mnist1d_conv``
preset's conv front end on MNIST-1D in space layout) is tuned by the one protocol of
:func:`studies.harness.tune` (learning rate x surrogate width on two seeded 20 % hold-outs
of the training split; the last epoch's validation accuracy; the test split never used for
a choice), then trained for every seed (10 % of the training split held out -- here only
to choose the cutoff's epsilon --, the last epoch exported).  Per seed:

1. every trained-at-T network: test accuracy at its T and synaptic operations per sample
   (every spike, input included, costs one operation per outgoing non-zero synapse);
2. the T=16 network with the cutoff: thresholds calibrated on the training samples for an
   epsilon grid, epsilon chosen on the validation split only
   (:func:`loihi_snn.core.cutoff.choose_epsilon`), the whole test split through the Lava
   cutoff controller (lava-fixed, one run; its decisions must equal the offline rule on
   the emulator's outputs); its mean steps and its synaptic operations (each sample's,
   counted over the steps it ran);
3. paired comparisons: the cutoff against the trained-at-T networks' accuracy
   interpolated at the cutoff's mean steps and at its synaptic operations (linear
   between the two neighbouring T: running that mix of the two networks has exactly that
   mean and that expected accuracy), and against the T=16 network truncated at the same
   mean steps (the old baseline).

Writes ``<out>/cutoff/cutoff.{json,md,png}`` for digits, ``<out>/cutoff_<task>/...`` for
the other tasks (:func:`studies.harness.write_result`).
Cutoff: Wu et al. (2025), docs ALGORITHMS.md section 4, ``loihi_snn/core/cutoff.py``.
The walk-through: tutorials/05_cutoff.py.
"""
from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/cutoff.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

pm, ci = harness.pm, harness.interval      # mean ± std; mean [95 % interval]

T_FULL = 16
EPSILONS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
TOLERANCE = 0.01
#: the binary LIF every network starts from (the ternary study's base neuron)
NEURON = {"type": "lif", "spike": "binary", "reset": "hard", "threshold": 1.0,
          "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.03, "scale_grad": 3.0,
          "surrogate": "exp"}
GRID = {"lr": [0.01, 0.03, 0.1], "tau_grad": [0.01, 0.03, 0.1]}
SIZES = {"small": {"Ts": [4, 16], "train_limit": 300, "test_limit": 60, "epochs": 2,
                   "seeds": 1, "grid": {"lr": [0.03], "tau_grad": [0.03]}, "splits": [1000]},
         "full": {"Ts": [4, 6, 8, 11, 16], "train_limit": None, "test_limit": None,
                  "epochs": 15, "seeds": 5, "grid": GRID, "splits": list(harness.TUNE_SPLITS)}}


TASKS = harness.TASKS


def result_name(task: str) -> str:
    """The result's name: ``cutoff`` for digits (the first study), ``cutoff_<task>``."""
    return "cutoff" if task == "digits" else f"cutoff_{task}"


def base_config(T: int, size: dict, task: str = "digits"):
    return harness.task_config(task, T=T, size=size.get("name", "full"), neuron=NEURON,
                               epochs=size["epochs"], name=f"{task}_lif_T{T}",
                               train_limit=size["train_limit"], test_limit=size["test_limit"],
                               val_fraction=0.1)


def interpolate(xs: list, ys: list, x: float) -> float:
    """Linear interpolation of ys over increasing xs at x (clamped to the ends)."""
    return float(np.interp(x, np.asarray(xs, float), np.asarray(ys, float)))


def fixed_t_at(curve: list, steps: float) -> float:
    """Accuracy of the truncated network at a (fractional) mean number of steps: linear
    between floor and ceil (``curve[t - 1]`` = accuracy when stopping at t)."""
    lo = max(1, min(len(curve), math.floor(steps)))
    hi = max(1, min(len(curve), math.ceil(steps)))
    f = steps - lo if hi != lo else 0.0
    return float((1 - f) * curve[lo - 1] + f * curve[hi - 1])


def step_synops(view, spec, inputs: np.ndarray) -> np.ndarray:
    """(N, T) synaptic operations per sample and step of a binary network (every layer's
    source spikes at step t times their fan-outs; :func:`studies.ternary.fan_outs`)."""
    import torch

    from studies.ternary import fan_outs
    fans = fan_outs(spec)
    view.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(inputs), 256):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i:i + 256])).float()
            _, layers = view(x, return_layers=True)
            total = 0.0
            for s, fan in zip([x] + list(layers), fans):
                a = (s != 0).reshape(s.shape[0], -1, s.shape[-1]).float().numpy()
                total = total + np.einsum("nit,i->nt", a, fan.astype(np.float64))
            out.append(total)
    return np.concatenate(out)


def train_one(T: int, seed: int, params: dict, size: dict, work: str):
    from loihi_snn.train.loop import train
    cfg = harness.final_config(base_config(T, size, size.get("task", "digits")), params,
                               seed).replace(val_fraction=0.1)
    res = train(cfg, os.path.join(work, f"T{T}_s{seed}"), progress=False, verbose=False,
                lava=False)
    return cfg, res


def measure_fixed(T: int, seed: int, params: dict, size: dict, work: str) -> dict:
    """A network trained at T: test accuracy at T, synaptic operations per sample, the
    emulator equal to the torch quantized forward on the whole test split."""
    from loihi_snn import emulate
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_data
    cfg, res = train_one(T, seed, params, size, work)
    test = load_data(cfg).test
    model, _ = load_checkpoint(res.checkpoint)
    syn = step_synops(model, read_netx(res.net_path), test.inputs)
    out = np.asarray(emulate(res.net_path, test.inputs))
    model.eval()
    import torch
    with torch.no_grad():
        ref = model(torch.from_numpy(np.ascontiguousarray(test.inputs)).float()).numpy()
    return {"accuracy": float((out.sum(-1).argmax(1) == test.labels).mean()),
            "synops": float(syn.sum(1).mean()),
            "emulator_equals_torch": bool(np.array_equal(out, ref)),
            "net_path": res.net_path, "checkpoint": res.checkpoint, "cfg": cfg}


def run_seed(seed: int, choices: dict, size: dict, work: str) -> dict:
    from loihi_snn import emulate
    from loihi_snn.core.cutoff import (calibrate, choose_epsilon, offline_cutoff,
                                       optimal_cutoff_steps)
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_data

    t0 = time.time()
    fixed = {}
    for T in size["Ts"]:
        m = measure_fixed(T, seed, choices[T], size, work)
        fixed[T] = m
    full = fixed[max(size["Ts"])]
    cfg = full["cfg"]
    splits = load_data(cfg)
    net = full["net_path"]
    out_train = emulate(net, splits.train.inputs)
    out_val = emulate(net, splits.val.inputs)
    out_test = np.asarray(emulate(net, splits.test.inputs))
    labels = splits.test.labels
    T = out_test.shape[-1]
    cum = np.cumsum(out_test, axis=-1)
    curve = [float((cum[..., t].argmax(1) == labels).mean()) for t in range(T)]
    model, _ = load_checkpoint(full["checkpoint"])
    syn_t = step_synops(model, read_netx(net), splits.test.inputs)          # (N, T)
    syn_cum = np.cumsum(syn_t, axis=1)
    trunc_synops = syn_cum.mean(0).tolist()                                 # stop all at t
    cal, val_sweep = choose_epsilon(out_train, splits.train.labels, out_val, splits.val.labels,
                                    EPSILONS, tolerance=TOLERANCE)
    preds, steps = offline_cutoff(out_test, cal.beta)
    lava = run_cutoff(net, splits.test.inputs, beta=cal.beta, progress=False)
    same = bool((lava.predictions == preds).all() and (lava.steps == steps).all())
    acc = float((lava.predictions == labels).mean())
    mean_steps = float(lava.steps.mean())
    cut_synops = float(syn_cum[np.arange(len(steps)), np.asarray(steps) - 1].mean())
    sweep = []
    for eps in EPSILONS:
        p, s = offline_cutoff(out_test, calibrate(out_train, splits.train.labels, eps).beta)
        sweep.append({"epsilon": eps, "accuracy": float((p == labels).mean()),
                      "mean_steps": float(s.mean()),
                      "synops": float(syn_cum[np.arange(len(s)), np.asarray(s) - 1].mean())})
    Ts = sorted(fixed)
    accs = [fixed[t]["accuracy"] for t in Ts]
    synops = [fixed[t]["synops"] for t in Ts]
    order = np.argsort(synops)
    oct_steps = optimal_cutoff_steps(out_test, labels)
    settled = oct_steps <= T
    return {"seed": seed, "epsilon": cal.epsilon, "trained": {
                str(t): {"accuracy": fixed[t]["accuracy"], "synops": fixed[t]["synops"],
                         "emulator_equals_torch": fixed[t]["emulator_equals_torch"],
                         "params": choices[t]} for t in Ts},
            "fixed_T_accuracy": curve[-1], "truncated_curve": curve,
            "truncated_synops": trunc_synops, "cutoff_accuracy": acc, "mean_steps": mean_steps,
            "cutoff_synops": cut_synops, "synops_full_T": float(syn_cum[:, -1].mean()),
            "trained_at_mean_steps": interpolate(Ts, accs, mean_steps),
            "trained_at_cutoff_synops": interpolate([synops[i] for i in order],
                                                    [accs[i] for i in order], cut_synops),
            "truncated_at_mean_steps": fixed_t_at(curve, mean_steps),
            "lava": {"samples": int(len(labels)), "equals_offline_rule": same,
                     "steps_per_second": round(float(lava.steps_per_second), 1)},
            "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
            "val_sweep": val_sweep, "test_sweep_not_used_for_selection": sweep,
            "calibration_samples": int(len(splits.train)),
            "validation_samples": int(len(splits.val)), "test_samples": int(len(labels)),
            "seconds": round(time.time() - t0, 1)}


def summarize(rows: list) -> dict:
    mean_ci = harness.mean_ci
    seeds = [r for r in rows if r.get("kind") == "seed"]
    if not seeds:
        return {}
    Ts = sorted(int(t) for t in seeds[0]["trained"])
    return {
        "seeds": [r["seed"] for r in seeds],
        "trained": {str(t): {"accuracy": mean_ci([r["trained"][str(t)]["accuracy"]
                                                  for r in seeds]),
                             "synops": mean_ci([r["trained"][str(t)]["synops"] for r in seeds])}
                    for t in Ts},
        "epsilon": mean_ci([r["epsilon"] for r in seeds]),
        "cutoff_accuracy": mean_ci([r["cutoff_accuracy"] for r in seeds]),
        "mean_steps": mean_ci([r["mean_steps"] for r in seeds]),
        "steps_ratio": mean_ci([T_FULL / r["mean_steps"] for r in seeds]),
        "cutoff_synops": mean_ci([r["cutoff_synops"] for r in seeds]),
        "synops_full_T": mean_ci([r["synops_full_T"] for r in seeds]),
        "fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] for r in seeds]),
        "trained_at_mean_steps": mean_ci([r["trained_at_mean_steps"] for r in seeds]),
        "trained_at_cutoff_synops": mean_ci([r["trained_at_cutoff_synops"] for r in seeds]),
        "truncated_at_mean_steps": mean_ci([r["truncated_at_mean_steps"] for r in seeds]),
        "cutoff_minus_trained_at_mean_steps": mean_ci(
            [r["cutoff_accuracy"] - r["trained_at_mean_steps"] for r in seeds]),
        "cutoff_minus_trained_at_synops": mean_ci(
            [r["cutoff_accuracy"] - r["trained_at_cutoff_synops"] for r in seeds]),
        "cutoff_minus_truncated_at_mean_steps": mean_ci(
            [r["cutoff_accuracy"] - r["truncated_at_mean_steps"] for r in seeds]),
        "cutoff_minus_full_T": mean_ci([r["cutoff_accuracy"] - r["fixed_T_accuracy"]
                                        for r in seeds]),
        "cutoff_minus_trained": {str(t): mean_ci([r["cutoff_accuracy"] -
                                                  r["trained"][str(t)]["accuracy"]
                                                  for r in seeds]) for t in Ts},
        "lava_equals_offline_rule": all(r["lava"]["equals_offline_rule"] for r in seeds),
        "emulator_equals_torch": all(x["emulator_equals_torch"] for r in seeds
                                     for x in r["trained"].values()),
    }


def _word(d: dict) -> str:
    s = harness.sign(d)
    return {1: "yes", -1: "no, the opposite", 0: "not shown", None: "undecided (one seed)"}[s]


def verdicts(s: dict) -> dict:
    if not s or s["cutoff_accuracy"]["n"] < 2:
        return {}
    out = {}
    for key, claim in (
            ("cutoff_minus_trained_at_mean_steps",
             "the cutoff beats networks trained for fewer steps, at equal mean steps"),
            ("cutoff_minus_trained_at_synops",
             "the cutoff beats networks trained for fewer steps, at equal synaptic operations"),
            ("cutoff_minus_truncated_at_mean_steps",
             "the cutoff beats stopping the T=16 network early at equal mean steps "
             "(the weaker baseline)")):
        d = s[key]
        out[claim] = f"{_word(d)}: {ci(d, 100, '+.1f')} pts"
    d = s["cutoff_minus_full_T"]
    out["accuracy cost against all 16 steps"] = (
        f"{ci(d, 100, '+.1f')} pts in {s['mean_steps']['mean']:.2f} of {T_FULL} mean steps "
        f"({T_FULL / s['mean_steps']['mean']:.2f}x fewer, the ratio of the means; "
        f"{s['cutoff_synops']['mean'] / s['synops_full_T']['mean']:.2f}x the synaptic "
        "operations)")
    return out


def plot(rows: list, s: dict, path: str, task: str = "digits") -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    seeds = [r for r in rows if r.get("kind") == "seed"]
    Ts = sorted(int(t) for t in s["trained"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, xkey in zip(axes, ("steps", "synops")):
        xs = (Ts if xkey == "steps" else [s["trained"][str(t)]["synops"]["mean"] for t in Ts])
        ax.errorbar(xs, [s["trained"][str(t)]["accuracy"]["mean"] for t in Ts],
                    yerr=[s["trained"][str(t)]["accuracy"]["std"] for t in Ts], marker="o",
                    capsize=3, label="trained at T (tuned per T)")
        tc = np.mean([r["truncated_curve"] for r in seeds], 0)
        tx = (np.arange(1, T_FULL + 1) if xkey == "steps"
              else np.mean([r["truncated_synops"] for r in seeds], 0))
        ax.plot(tx[2:], tc[2:], ls="--", color="gray", label="T=16 net stopped at t")
        sw = [[x for x in r["test_sweep_not_used_for_selection"]] for r in seeds]
        cx = [np.mean([w[i]["mean_steps" if xkey == "steps" else "synops"] for w in sw])
              for i in range(len(EPSILONS))]
        cy = [np.mean([w[i]["accuracy"] for w in sw]) for i in range(len(EPSILONS))]
        ax.plot(cx, cy, marker=".", color="C3", alpha=0.6, label="cutoff, epsilon sweep (test)")
        ax.errorbar([s["mean_steps" if xkey == "steps" else "cutoff_synops"]["mean"]],
                    [s["cutoff_accuracy"]["mean"]], yerr=[s["cutoff_accuracy"]["std"]],
                    marker="*", ms=12, color="C3", capsize=3,
                    label="cutoff, epsilon chosen on validation (Lava)")
        ax.set_xlabel("mean steps per sample" if xkey == "steps"
                      else "synaptic operations per sample")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{task}: the Top-K cutoff against networks trained for fewer steps")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    s = summarize(rows)
    v = verdicts(s)
    tunings = {str(r["T"]): r["tuning"] for r in rows if r.get("kind") == "tune"}
    seeds = [r for r in rows if r.get("kind") == "seed"]
    tables = []
    tune_t = Table("Tuning per T (one protocol; validation accuracy, mean over the splits)",
                   ["T", "points: lr / tau_grad -> validation accuracy", "chosen"])
    for T, tun in tunings.items():
        tune_t.rows.append([int(T), "; ".join(
            f"{p['params']['lr']}/{p['params']['tau_grad']} -> {p['mean']:.3f}"
            for p in tun["points"]), f"lr {tun['choice']['lr']}, tau_grad "
                                    f"{tun['choice']['tau_grad']}"])
    if s:
        main = Table("Trained at T against the cutoff (mean ± std over seeds; test split)",
                     ["network", "steps per sample", "synaptic ops per sample",
                      "test accuracy", "cutoff − this, pts [95 % CI]"])
        for t in sorted(int(x) for x in s["trained"]):
            tr = s["trained"][str(t)]
            main.rows.append([f"trained at T={t}", t, pm(tr["synops"], fmt=".0f"),
                              pm(tr["accuracy"]), ci(s["cutoff_minus_trained"][str(t)], 100,
                                                     "+.1f")])
        main.rows.append([f"T={T_FULL} with the cutoff (Lava)", pm(s["mean_steps"], fmt=".2f"),
                          pm(s["cutoff_synops"], fmt=".0f"), pm(s["cutoff_accuracy"]), ""])
        comp = Table("The cutoff against each baseline at equal cost (paired per seed)",
                     ["baseline", "its accuracy", "cutoff − baseline, pts [95 % CI]"])
        for key, base, name in (
                ("cutoff_minus_trained_at_mean_steps", "trained_at_mean_steps",
                 "trained at fewer T, interpolated at the cutoff's mean steps"),
                ("cutoff_minus_trained_at_synops", "trained_at_cutoff_synops",
                 "trained at fewer T, interpolated at the cutoff's synaptic ops"),
                ("cutoff_minus_truncated_at_mean_steps", "truncated_at_mean_steps",
                 "the T=16 net stopped at the cutoff's mean steps"),
                ("cutoff_minus_full_T", "fixed_T_accuracy", "the T=16 net, all 16 steps")):
            comp.rows.append([name, pm(s[base]), ci(s[key], 100, "+.1f")])
        tables += [main, comp]
    per_seed = Table("Per seed", ["seed", "epsilon", "cutoff acc (Lava)", "mean steps",
                                  "cutoff synops", "trained-at-T acc (T=" +
                                  "/".join(str(t) for t in size["Ts"]) + ")",
                                  "Lava == offline rule"])
    for r in seeds:
        per_seed.rows.append([r["seed"], r["epsilon"], r["cutoff_accuracy"],
                              f"{r['mean_steps']:.2f}", f"{r['cutoff_synops']:.0f}",
                              " / ".join(f"{r['trained'][str(t)]['accuracy']:.3f}"
                                         for t in size["Ts"]),
                              r["lava"]["equals_offline_rule"]])
    tables += [per_seed, tune_t]
    n_tune = sum(t["trainings"] for t in tunings.values())
    text = [
        f"Networks: {TASKS[args.task]['what'].replace('LIF', 'binary LIF')}; neuron {NEURON}; "
        f"cross-entropy on the output spike counts, Adam with a cosine schedule, batch "
        f"{TASKS[args.task]['config']['batch_size']}, {size['epochs']} epochs, "
        "the last epoch exported; 10 % of the training split held out (used only to choose "
        "epsilon).",
        f"Tuning (studies.harness.tune, per T): grid {size['grid']}; {harness.TUNE_RULE}.  "
        f"Budget: {n_tune} tuning trainings, then {len(seeds) * len(size['Ts'])} networks "
        f"({len(seeds)} seeds x T in {size['Ts']}).",
        f"Epsilon grid {list(EPSILONS)}, chosen on the validation split only (largest within "
        f"{100 * TOLERANCE:g} point of the validation fixed-T accuracy).  Cutoff accuracy and "
        "mean steps are the Lava cutoff controller's (lava-fixed, the whole test split in one "
        "run per seed); its decisions equal the offline rule on the emulator's outputs for "
        f"every seed: {s.get('lava_equals_offline_rule')}; the emulator equals the torch "
        f"quantized forward of every network on every test sample: "
        f"{s.get('emulator_equals_torch')}.",
        "Synaptic operations: per sample, every spike (input included) times its source's "
        "non-zero fan-out, over the steps the sample ran (the cutoff: its own steps).  "
        "*Interpolated at equal cost*: linear between the two neighbouring trained T (a mix "
        "of the two networks over the samples has exactly that mean cost and that expected "
        f"accuracy).  Plot: `{result_name(args.task)}.png`.",
        "**Verdicts.** " + " ".join(f"*{k}*: {x}." for k, x in v.items()),
        f"Wall time {wall / 60:.1f} min.",
    ]
    name = result_name(args.task)
    folder = os.path.join(args.out, name)
    os.makedirs(folder, exist_ok=True)
    if s:
        plot(rows, s, os.path.join(folder, f"{name}.png"), args.task)
    harness.write_result(name, study=study,
                         title="Top-K cutoff against networks trained for fewer steps: "
                               f"{args.task} LIF (every T tuned on validation)",
                         tables=tables,
                         data={"task": args.task, "network": TASKS[args.task]["what"],
                               "size": args.size, "sizes": size, "neuron": NEURON,
                               "epsilons": list(EPSILONS), "tolerance": TOLERANCE,
                               "tuning": tunings, "verdicts": v, "summary": s, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--task", choices=sorted(TASKS), default="digits",
                   help="digits (64-128-10 on rate-coded digits), events (conv net on the "
                        "synthetic DVS moving dot) or mnist1d (the mnist1d_conv front end on "
                        "MNIST-1D, space layout); default digits")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/cutoff/cutoff.{json,md,png} (digits) or "
                        "OUT/cutoff_TASK/cutoff_TASK.{json,md,png}")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    study = harness.Study("cutoff", argv)     # the revision and machine this run started from
    harness.start()
    size = dict(SIZES[args.size], name=args.size, task=args.task)
    if args.size == "full" and args.task != "digits":
        size["grid"] = harness.task_grid(args.task, size["grid"])   # the task's learning rates
    if args.seeds is not None:
        size["seeds"] = args.seeds
    choices = {}

    def run_cell(cell):
        kind, value = cell
        with harness.work_folder(args.work, "cutoff-") as work:
            if kind == "tune":
                t0 = time.time()
                cfg = base_config(value, size, args.task)
                rec = harness.tune(size["grid"], lambda prm, split: harness.validation_accuracy(
                    cfg, prm, split, work), size["splits"])
                choices[value] = rec["choice"]
                return {"kind": "tune", "T": value, "tuning": rec,
                        "seconds": round(time.time() - t0, 1)}
            return {"kind": "seed", **run_seed(value, choices, size, work)}

    def line(r):
        if r["kind"] == "tune":
            return (f"T={r['T']}: tuned {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"seed {r['seed']}: eps {r['epsilon']:g} | Lava cutoff acc "
                f"{r['cutoff_accuracy']:.3f} in {r['mean_steps']:.2f} steps, "
                f"{r['cutoff_synops']:.0f} synops (== offline rule: "
                f"{r['lava']['equals_offline_rule']}) | trained at T: "
                + ", ".join(f"T={t} {x['accuracy']:.3f}" for t, x in r["trained"].items())
                + f" | {r['seconds']} s")

    cells = [("tune", T) for T in size["Ts"]] + \
        [("seed", s) for s in range(args.seed, args.seed + size["seeds"])]
    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line)
    seeds = [r for r in rows if r["kind"] == "seed"]
    ok = all(r["lava"]["equals_offline_rule"] for r in seeds) and all(
        x["emulator_equals_torch"] for r in seeds for x in r["trained"].values())
    name = result_name(args.task)
    print(f"results: {os.path.join(args.out, name, name + '.md')}")
    print(f"cutoff: {'OK' if ok else 'FAILED'} ({len(seeds)} seeds; Lava controller == offline "
          f"rule on every test sample)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Study: binary vs ternary spikes, every arm tuned alike, accuracy against synaptic operations.

    python -m studies.ternary [--size small|full] [--task digits|events|mnist1d]
                              [--seeds N] [--Ts 2,4,8,16] [--out DIR]

Six arms on a task of :data:`studies.harness.TASKS` (default rate-coded digits, 64-H-10
LIF; ``events``: the conv net of the RCS study on the synthetic DVS moving dot;
``mnist1d``: the mnist1d_conv front end on MNIST-1D in space layout), cross-entropy on the
output spike counts, Adam with a cosine schedule, 15 epochs, the last epoch exported:

* ``binary``: spikes in {0, 1} (H = 128);
* ``binary_alpha``: binary spikes times a learnable per-layer amplitude (init 1), folded
  into the next layer's weights at export -- the control for "the amplitude acts as a
  gain", which the ternary arms with a learned amplitude also have;
* ``ternary``: spikes in {-1, 0, +1}, amplitude fixed at 1;
* ``ternary_alpha``: spikes {-a, 0, +a}, a learnable per layer (the paper's);
* ``binary_wide``: binary with every hidden layer twice as wide (digits: H = 256; conv
  nets: twice the channels) -- spends more synaptic operations the plain way;
* ``authors``: the paper's neuron: ternary, thresholds +-0.5, straight-through
  estimator (the window of clamp(v / (2 vth))), learnable amplitude.

Every arm is tuned by the one protocol of :func:`studies.harness.tune` at every T: a grid
of learning rate x surrogate width (``tau_grad`` of SLAYER's exponential surrogate, its
height following so the area stays fixed; the STE arm has no width knob, so its grid is
the learning rates alone), each point trained on two seeded 20 % hold-outs of the
training split and scored by the last epoch's validation accuracy; the test split is
never used for a choice.  The chosen recipe is then trained for every evaluation seed
on the whole training split.

Measured on the whole test split with the *folded* network (the network as exported; the
bit-exact emulator run of the exported file is checked equal on every test sample, Lava
fixed_pt on a few samples of the first seed): accuracy, spikes per sample per layer and
synaptic operations per sample (a spike of either sign costs one operation per outgoing
non-zero synapse; the input's spikes count into layer 1).  Per-seed paired differences
(same seed, same data, same T) get a 95 % t-interval; every claim gets a verdict from its
intervals; the plot shows accuracy against synaptic operations over T.

Writes ``<out>/<name>/<name>.{json,md,png}`` (default name ``ternary``), rewritten after
every tuning and every model (status ``partial`` until the end); ``--resume`` continues
a partial result of the same revision.  Paper: Guo et al., "Ternary Spike", AAAI 2024
(arXiv 2312.06372).  The walk-through: tutorials/03_ternary.py.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/ternary.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

#: the neuron every arm starts from (the arms change the spike, the amplitude, the
#: threshold / surrogate of the authors' neuron, or the width)
BASE_NEURON = {"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
               "voltage_decay": 0.1, "tau_grad": 0.03, "scale_grad": 3.0, "surrogate": "exp"}
HIDDEN = 128
ARMS = {
    "binary": {"neuron": {"spike": "binary"}},
    "binary_alpha": {"neuron": {"spike": "binary", "learn_amplitude": True}},
    "ternary": {"neuron": {"spike": "ternary", "learn_amplitude": False}},
    "ternary_alpha": {"neuron": {"spike": "ternary", "learn_amplitude": True}},
    "binary_wide": {"neuron": {"spike": "binary"}, "hidden": 2 * HIDDEN},
    "authors": {"neuron": {"spike": "ternary", "learn_amplitude": True, "threshold": 0.5,
                           "surrogate": "ste"}, "knobs": ("lr",)},
}
#: the tuning grid shared by every arm (an arm without a surrogate width keeps only ``lr``)
GRID = {"lr": [0.01, 0.03, 0.1], "tau_grad": [0.01, 0.03, 0.1]}
#: (a, b, claim): the paired comparisons a - b and the claim each one tests
COMPARISONS = [
    ("ternary", "binary", "ternary spikes (amplitude 1) beat binary at equal T"),
    ("ternary_alpha", "binary", "ternary spikes with a learned amplitude beat binary at equal T"),
    ("authors", "binary", "the authors' ternary neuron beats binary at equal T"),
    ("binary_alpha", "binary", "a learned amplitude alone (binary spikes) beats binary"),
    ("ternary_alpha", "binary_alpha", "ternary beats binary when both learn an amplitude"),
    ("ternary_alpha", "ternary", "the learned amplitude helps ternary spikes"),
    ("binary_wide", "binary", "twice the hidden neurons beat binary"),
    ("ternary_alpha", "binary_wide",
     "ternary (learned amplitude) beats a 2x-wide binary net at equal T"),
]
SIZES = {
    "small": {"Ts": [4], "seeds": 1, "lava_samples": 3, "train_limit": 200, "test_limit": 60,
              "epochs": 1, "grid": {"lr": [0.03], "tau_grad": [0.03]}, "splits": [1000]},
    "full": {"Ts": [4, 16, 2, 8], "seeds": 5, "lava_samples": 10, "train_limit": None,
             "test_limit": None, "epochs": 15, "grid": GRID,
             "splits": list(harness.TUNE_SPLITS)},
}


def base_config(arm: str, T: int, size: dict, seed: int = 0):
    """The untuned config of ``arm`` at ``T`` on ``size["task"]`` (default digits; the
    grid's knobs are applied on top)."""
    spec = ARMS[arm]
    task = size.get("task", "digits")
    return harness.task_config(task, T=T, size=size.get("name", "full"),
                               neuron={**BASE_NEURON, **spec["neuron"]},
                               epochs=size["epochs"], name=f"{task}_{arm}_T{T}", seed=seed,
                               width=spec.get("hidden", HIDDEN) // HIDDEN,
                               train_limit=size["train_limit"], test_limit=size["test_limit"],
                               optimizer={"type": "adam", "lr": 0.01, "schedule": "cosine"})


def arm_grid(arm: str, size: dict) -> dict:
    knobs = ARMS[arm].get("knobs")
    return {k: v for k, v in size["grid"].items() if knobs is None or k in knobs}


def fan_outs(spec) -> list:
    """Per layer with weights: (N_in,) outgoing non-zero synapses of each source neuron
    (the previous layer's neurons, or the input), flattened in (C, H, W) order."""
    import torch
    out = []
    for layer in spec.layers:
        w = layer.fields.get("weight")
        if w is None:
            continue
        mask = (np.asarray(w) != 0).astype(np.float32)
        if layer.type == "dense":
            out.append(mask.sum(0))
        elif layer.type == "conv":
            co, h, wd = layer.shape
            y = torch.ones(1, co, h, wd)
            x = torch.nn.functional.conv_transpose2d(
                y, torch.from_numpy(mask), stride=tuple(layer.fields["stride"]),
                padding=tuple(layer.fields["padding"]), dilation=tuple(layer.fields["dilation"]),
                groups=int(layer.fields["groups"]))
            cin, hin, win = layer.in_shape
            x = x[..., :hin, :win]
            if x.shape[-2:] != (hin, win):
                x = torch.nn.functional.pad(x, (0, win - x.shape[-1], 0, hin - x.shape[-2]))
            out.append(x[0].numpy().reshape(-1))
        else:
            raise ValueError(f"layer {layer.index}: no synaptic-operation count for {layer.type}")
    return out


def layer_costs(view, spec, inputs: np.ndarray) -> dict:
    """Spikes and synaptic operations per sample of every layer of the folded network.

    ``spikes``: [input, layer 1, ..., output] non-zero events per sample;
    ``synops``: per layer with weights, sum over its source's events of the source
    neuron's fan-out (non-zero synapses), per sample.
    """
    import torch
    fans = fan_outs(spec)
    view.eval()
    spikes = np.zeros(1 + len(fans))
    synops = np.zeros(len(fans))
    with torch.no_grad():
        for i in range(0, len(inputs), 256):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i:i + 256])).float()
            _, layers = view(x, return_layers=True)
            sources = [x] + list(layers)
            for k, s in enumerate(sources):
                active = (s != 0).reshape(s.shape[0], -1, s.shape[-1]).sum(-1).float().numpy()
                spikes[k] += active.sum()
                if k < len(fans):
                    if active.shape[1] != len(fans[k]):
                        raise ValueError(f"layer {k}: {active.shape[1]} source neurons, "
                                         f"{len(fans[k])} fan-outs")
                    synops[k] += float((active @ fans[k].astype(np.float64)).sum())
    n = len(inputs)
    return {"spikes": (spikes / n).tolist(), "synops": (synops / n).tolist()}


def tune_arm(arm: str, T: int, size: dict, work: str) -> dict:
    t0 = time.time()
    cfg = base_config(arm, T, size)
    rec = harness.tune(arm_grid(arm, size),
                       lambda params, split: harness.validation_accuracy(cfg, params, split, work),
                       size["splits"])
    return {"kind": "tune", "arm": arm, "T": T, "tuning": rec,
            "seconds": round(time.time() - t0, 1)}


def run_one(arm: str, T: int, seed: int, params: dict, size: dict, work: str,
            lava_samples: int) -> dict:
    from loihi_snn import emulate
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.runtime.stream import run_many
    from loihi_snn.train.checkpoint import export_view, load_checkpoint
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train
    from loihi_snn.train.verify import evaluate_model

    t0 = time.time()
    cfg = harness.final_config(base_config(arm, T, size), params, seed)
    res = train(cfg, os.path.join(work, f"{arm}_T{T}_s{seed}"), progress=False,
                verbose=False, lava=False)
    model, _ = load_checkpoint(res.checkpoint)
    view, output_scale = export_view(model)
    test = load_data(cfg).test
    ev = evaluate_model(view, test.inputs, output_scale=output_scale)
    acc = float((ev["predictions"] == test.labels).mean())
    emu = emulate(res.net_path, test.inputs)
    torch_out = ev["output"].astype(np.float64) * output_scale
    emu_equal = bool(np.array_equal(np.asarray(emu, np.float64), torch_out))
    lava = None
    if lava_samples:
        k = min(lava_samples, len(test))
        out = run_many(res.net_path, test.inputs[:k], progress=False)
        lava = {"samples": k, "equal_to_emulator": bool(np.array_equal(
            np.asarray(out, np.float64), np.asarray(emu[:k], np.float64)))}
    costs = layer_costs(view, read_netx(res.net_path), test.inputs)
    amps = [round(float(b.neuron.amplitude), 4) for b in model.blocks
            if getattr(getattr(b, "neuron", None), "amplitude", None) is not None]
    return {"kind": "eval", "arm": arm, "T": T, "seed": seed, "params": dict(params),
            "accuracy": acc, "emulator_equal_all_test": emu_equal, "lava": lava,
            "test_samples": len(test), "amplitudes": amps,
            "spikes_per_layer": costs["spikes"], "synops_per_layer": costs["synops"],
            "spikes_total": float(sum(costs["spikes"][1:])),
            "synops_total": float(sum(costs["synops"])), "seconds": round(time.time() - t0, 1)}


# ----------------------------------------------------------------------------- summary

def summarize(rows: list) -> dict:
    """Per T: arms' mean ± std and the paired differences with 95 % intervals."""
    mean_ci = harness.mean_ci
    evals = [r for r in rows if r["kind"] == "eval"]
    out = {}
    for T in sorted({r["T"] for r in evals}):
        by = {a: {r["seed"]: r for r in evals if r["T"] == T and r["arm"] == a} for a in ARMS}
        cell = {"arms": {}, "paired": {}}
        for a, rs in by.items():
            if not rs:
                continue
            vals = list(rs.values())
            cell["arms"][a] = {
                "seeds": len(vals),
                "accuracy": mean_ci([r["accuracy"] for r in vals]),
                "spikes_total": mean_ci([r["spikes_total"] for r in vals]),
                "synops_total": mean_ci([r["synops_total"] for r in vals]),
                "spikes_per_layer": np.mean([r["spikes_per_layer"] for r in vals], 0).tolist(),
                "synops_per_layer": np.mean([r["synops_per_layer"] for r in vals], 0).tolist(),
                "amplitudes": np.mean([r["amplitudes"] for r in vals], 0).tolist()
                if vals[0]["amplitudes"] else []}
        for a, b, _ in COMPARISONS:
            seeds, diffs = harness.paired(by[a], by[b],
                                          lambda x, y: x["accuracy"] - y["accuracy"])
            if not seeds:
                continue
            cell["paired"][f"{a}-{b}"] = {
                "seeds": len(seeds), "accuracy": mean_ci(diffs),
                "synops_ratio": mean_ci([by[a][s]["synops_total"] / by[b][s]["synops_total"]
                                         for s in seeds])}
        out[f"T{T}"] = cell
    return out


def pareto(summary: dict) -> list:
    """(arm, T) mean points not dominated by another (fewer or equal synaptic operations
    and higher or equal accuracy, one of them strictly)."""
    pts = [(a, int(key[1:]), s["synops_total"]["mean"], s["accuracy"]["mean"])
           for key, cell in summary.items() for a, s in cell["arms"].items()]
    front = []
    for a, T, c, acc in pts:
        if not any((c2 <= c and acc2 >= acc) and (c2 < c or acc2 > acc)
                   for _, _, c2, acc2 in pts):
            front.append({"arm": a, "T": T, "synops": c, "accuracy": acc})
    return sorted(front, key=lambda p: p["synops"])


def claims(summary: dict) -> dict:
    """One verdict per claim over every T: supported where the paired interval lies
    above 0, contradicted below, not shown where it includes 0."""
    out = {}
    for a, b, claim in COMPARISONS:
        parts, signs = [], []
        for key, cell in summary.items():
            d = cell["paired"].get(f"{a}-{b}")
            if d is None or d["accuracy"]["n"] < 2:
                continue
            signs.append(harness.sign(d["accuracy"]))
            parts.append(f"{key} {harness.interval(d['accuracy'], 100, '+.1f')} pts "
                         f"at {d['synops_ratio']['mean']:.2f}x the synaptic ops")
        if not signs:
            continue
        up, down = sum(s > 0 for s in signs), sum(s < 0 for s in signs)
        if up == len(signs):
            word = "supported at every T"
        elif down == len(signs):
            word = "contradicted at every T (the opposite holds)"
        elif up == 0 and down == 0:
            word = "not shown at any T (every interval includes 0)"
        else:
            word = (f"mixed: supported at {up}, contradicted at {down}, not shown at "
                    f"{len(signs) - up - down} of {len(signs)} T")
        out[claim] = f"{word} ({'; '.join(parts)})"
    return out


def plot(summary: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arm in ARMS:
        pts = sorted((int(k[1:]), c["arms"][arm]) for k, c in summary.items() if arm in c["arms"])
        if not pts:
            continue
        xs = [s["synops_total"]["mean"] for _, s in pts]
        ys = [s["accuracy"]["mean"] for _, s in pts]
        es = [s["accuracy"]["std"] for _, s in pts]
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=arm)
        for (T, _), x, y in zip(pts, xs, ys):
            ax.annotate(f"T={T}", (x, y), fontsize=7, textcoords="offset points",
                        xytext=(3, -9))
    ax.set_xscale("log")
    ax.set_xlabel("synaptic operations per sample (folded network, log)")
    ax.set_ylabel("test accuracy (mean ± std over seeds)")
    ax.set_title("Digits: binary vs ternary spikes, every arm tuned on validation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(rows: list, args, size: dict, status: str, wall: float, study) -> None:
    Table = harness.Table
    summary = summarize(rows)
    tunings = {f"{r['arm']}_T{r['T']}": r["tuning"] for r in rows if r["kind"] == "tune"}
    main = Table("Accuracy and cost per arm (folded network = Lava; mean ± std over seeds)",
                 ["T", "arm", "seeds", "chosen lr, tau_grad", "validation acc (tuning)",
                  "test accuracy", "spikes/sample (hidden + output)", "synaptic ops/sample",
                  "amplitudes (learned)"])
    paired = Table("Paired differences per seed (95 % t-interval)",
                   ["T", "a − b", "seeds", "Δ accuracy, pts [95 % CI]",
                    "synaptic ops ratio a/b [95 % CI]", "verdict"])
    tune_t = Table("Tuning: validation accuracy of every grid point (mean over the splits)",
                   ["T", "arm", "points: lr / tau_grad -> validation accuracy", "chosen"])
    layers = Table("Spikes and synaptic operations per layer (mean over seeds, per sample)",
                   ["T", "arm", "spikes: input / hidden / output",
                    "synaptic ops: into hidden / into output"], float_format=".1f")
    for key, cell in summary.items():
        T = int(key[1:])
        for a, s in cell["arms"].items():
            tun = tunings.get(f"{a}_T{T}", {})
            ch = tun.get("choice", {})
            main.rows.append([T, a, s["seeds"],
                              f"{ch.get('lr')}, {ch.get('tau_grad', 'STE')}",
                              tun.get("validation_accuracy"), harness.pm(s["accuracy"]),
                              harness.pm(s["spikes_total"], fmt=".0f"),
                              harness.pm(s["synops_total"], fmt=".0f"),
                              ", ".join(f"{v:.3f}" for v in s["amplitudes"]) or "-"])
            layers.rows.append([T, a, " / ".join(f"{v:.0f}" for v in s["spikes_per_layer"]),
                                " / ".join(f"{v:.0f}" for v in s["synops_per_layer"])])
        for comp, d in cell["paired"].items():
            sgn = harness.sign(d["accuracy"])
            v = {1: "a better", -1: "b better", 0: "not shown (includes 0)",
                 None: "one seed"}[sgn]
            paired.rows.append([T, comp.replace("-", " − "), d["seeds"],
                                harness.interval(d["accuracy"], 100, "+.1f"),
                                harness.interval(d["synops_ratio"], 1, ".2f"), v])
    for name, tun in tunings.items():
        arm, T = name.rsplit("_T", 1)
        pts = "; ".join(f"{p['params'].get('lr')}/{p['params'].get('tau_grad', 'STE')} -> "
                        f"{p['mean']:.3f}" for p in tun["points"])
        tune_t.rows.append([int(T), arm, pts, json.dumps(tun["choice"])])
    cl = claims(summary)
    front = pareto(summary)
    evals = [r for r in rows if r["kind"] == "eval"]
    n_tune = sum(t["trainings"] for t in tunings.values())
    text = [
        f"Arms: {', '.join(ARMS)} (see the module docstring).  Base neuron {BASE_NEURON}; "
        f"{harness.TASKS[args.task]['what']} (binary_wide: every hidden layer twice as "
        f"wide), {size['epochs']} epochs, "
        f"batch {harness.TASKS[args.task]['config']['batch_size']}, "
        "Adam with a cosine schedule, cross-entropy on the output spike counts, "
        "the last epoch exported.",
        f"Tuning (one protocol, studies.harness.tune): grid {json.dumps(size['grid'])} (the "
        f"authors' STE arm: lr only); {harness.TUNE_RULE}.  Splits (seeds) {size['splits']}.  "
        f"Budget: {n_tune} tuning trainings, then {len(evals)} evaluation models (seeds "
        f"{args.seed} .. {args.seed + size['seeds'] - 1}, whole training split, every arm of "
        "a seed sees the same data and initial seed).",
        "Accuracy is the folded network's (what the exported file computes) on the whole test "
        "split.  The bit-exact emulator's outputs equal it on every test sample for "
        f"{sum(r['emulator_equal_all_test'] for r in evals)} of {len(evals)} models; Lava "
        f"fixed_pt equals the emulator on the first {size['lava_samples']} test samples for "
        f"{sum(bool(r['lava'] and r['lava']['equal_to_emulator']) for r in evals)} of "
        f"{sum(r['lava'] is not None for r in evals)} models checked.",
        "Synaptic operations: every spike (either sign) of a source neuron costs one operation "
        "per outgoing synapse with a non-zero weight; the input's spikes count into layer 1.",
        "**Verdicts** (per claim, over T; 'not shown' where the 95 % interval includes 0). "
        + " ".join(f"*{k}*: {v}." for k, v in cl.items()),
        "**Accuracy against synaptic operations** (plot `" + args.name + ".png`): the "
        "(arm, T) points no other point beats at fewer or equal operations: "
        + "; ".join(f"{p['arm']} T={p['T']} ({p['synops']:.0f} ops, {p['accuracy']:.3f})"
                    for p in front) + ".",
        f"Wall time {wall / 60:.1f} min.",
    ]
    folder = os.path.join(args.out, args.name)
    os.makedirs(folder, exist_ok=True)
    if summary:
        plot(summary, os.path.join(folder, f"{args.name}.png"))
    harness.write_result(args.name, study=study,
                         title="Binary vs ternary spikes, every arm tuned on validation "
                               f"(Guo et al. 2024): {args.task}",
                         tables=[main, paired, tune_t, layers],
                         data={"task": args.task, "network": harness.TASKS[args.task]["what"],
                               "size": args.size, "sizes": size, "base_neuron": BASE_NEURON,
                               "arms": ARMS, "grid": size["grid"],
                               "comparisons": [list(c) for c in COMPARISONS], "claims": cl,
                               "pareto": front, "tuning": tunings, "summary": summary,
                               "rows": rows, "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def _resume_rows(path: str, revision) -> list:
    if not os.path.isfile(path):
        return []
    doc = json.loads(open(path, encoding="utf-8").read())
    old = (doc.get("provenance") or {}).get("git", {}).get("revision")
    if old != revision:
        raise SystemExit(f"--resume: {path} was written by revision {old}, this is {revision}")
    return list(doc["data"]["rows"])


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--Ts", default=None, help="comma-separated T values (default by size)")
    p.add_argument("--task", choices=sorted(harness.TASKS), default="digits",
                   help="digits (64-128-10 on rate-coded digits), events (conv net on the "
                        "synthetic DVS moving dot) or mnist1d (the mnist1d_conv front end on "
                        "MNIST-1D, space layout); default digits")
    p.add_argument("--name", default=None, help="result name (OUT/NAME/NAME.{json,md}; "
                   "default ternary for digits, ternary_TASK otherwise)")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/NAME/NAME.{json,md,png}")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of an existing partial result of this revision")
    args = p.parse_args(argv)
    study = harness.Study("ternary", argv)    # the revision and machine this run started from
    harness.start()
    size = dict(SIZES[args.size], name=args.size, task=args.task)
    if args.name is None:
        args.name = "ternary" if args.task == "digits" else f"ternary_{args.task}"
    if args.size == "full" and args.task != "digits":
        size["grid"] = harness.task_grid(args.task, size["grid"])   # the task's learning rates
    if args.seeds is not None:
        size["seeds"] = args.seeds
    if args.Ts is not None:
        size["Ts"] = [int(t) for t in args.Ts.split(",")]
    rows = (_resume_rows(os.path.join(args.out, args.name, f"{args.name}.json"),
                         study.started["git"]["revision"]) if args.resume else [])
    done = {(r["kind"], r["arm"], r["T"], r.get("seed")) for r in rows}
    choice = {(r["arm"], r["T"]): r["tuning"]["choice"] for r in rows if r["kind"] == "tune"}
    cells = []
    for T in size["Ts"]:
        for arm in ARMS:
            cells.append(("tune", arm, T, None))
        for seed in range(args.seed, args.seed + size["seeds"]):
            for arm in ARMS:
                cells.append(("eval", arm, T, seed))
    cells = [c for c in cells if c not in done]

    def run_cell(c):
        kind, arm, T, seed = c
        with harness.work_folder(args.work, "ternary-") as work:
            if kind == "tune":
                r = tune_arm(arm, T, size, work)
                choice[(arm, T)] = r["tuning"]["choice"]
                return r
            return run_one(arm, T, seed, choice[(arm, T)], size, work,
                           size["lava_samples"] if seed == args.seed else 0)

    def line(r):
        if r["kind"] == "tune":
            return (f"T={r['T']:<2d} {r['arm']:13s} tuned: {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"T={r['T']:<2d} {r['arm']:13s} seed {r['seed']} acc {r['accuracy']:.3f} "
                f"(emulator equal {r['emulator_equal_all_test']}, Lava "
                f"{r['lava'] and r['lava']['equal_to_emulator']}) spikes "
                f"{r['spikes_total']:.0f} synops {r['synops_total']:.0f} amps "
                f"{r['amplitudes']} {r['seconds']} s")

    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line, rows=rows)
    evals = [r for r in rows if r["kind"] == "eval"]
    ok = all(r["emulator_equal_all_test"] for r in evals) and all(
        r["lava"]["equal_to_emulator"] for r in evals if r["lava"])
    print(f"results: {os.path.join(args.out, args.name, args.name + '.md')}")
    print(f"ternary: {'OK' if ok else 'FAILED'} ({len(evals)} models; folded torch == emulator "
          f"on every test sample, Lava == emulator on the checked subsets)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

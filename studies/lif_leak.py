"""Study: a leak sweep for the memory claim of the LIF variants (leak trades memory away).

    python -m studies.lif_leak [--size small|full] [--out RESULTS_DIR]

The LIF-variants study (:mod:`studies.lif_variants`) tried one leak strength (voltage decay
0.1, so 0.9^52 = 0.004 of a cue survives its longest delay): its memory result is built in.
Here the voltage decay is swept over :data:`DECAYS` (0 = no leak, a pure integrate-and-fire
neuron) x reset (hard / soft / none) x recurrence (feed-forward / recurrent) on the same
cue-memory task (variable delay, T=64, the network of :mod:`studies.lif_variants`: 48
single-state LIF neurons, cross-entropy on the readout window's spike counts, Adam), and
each variant's learning rate is chosen by the one protocol of :func:`studies.harness.tune`
(two seeded 20 % hold-outs of the training samples, the last epoch's validation accuracy,
never the test samples).  Per variant and seed: test accuracy, accuracy on the short and
the long delays, spikes per sample; Lava fixed_pt equals the quantized forward on the first
test samples of the first seed.  Paired per seed against the same variant without leak,
with a 95 % t-interval.

Writes ``<out>/lif_leak/lif_leak.{json,md,png}``.
"""
from __future__ import annotations

import itertools
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file: find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

DECAYS = [0.0, 0.02, 0.05, 0.1, 0.2, 0.4]
RESETS = ["hard", "soft", "none"]
TASK = "lif_memory"
SIZES = {"small": {"train": 96, "test": 32, "epochs": 1, "hidden": 8, "T": None, "lava": 1,
                   "seeds": [0], "decays": [0.0, 0.1], "resets": ["soft"], "recurrent": [False],
                   "grid": {"lr": [3e-3]}, "splits": [1000]},
         "full": {"train": 2000, "test": 500, "epochs": 8, "hidden": 48, "T": 64, "lava": 8,
                  "seeds": [0, 1, 2], "decays": DECAYS, "resets": RESETS,
                  "recurrent": [False, True], "grid": {"lr": [1e-3, 3e-3, 1e-2]},
                  "splits": list(harness.TUNE_SPLITS)}}


def tag(decay: float, reset: str, recurrent: bool) -> str:
    return f"d{decay:g}-{reset}-{'rec' if recurrent else 'ff'}"


def build(decay, reset, recurrent, size, input_shape, num_classes):
    from loihi_snn.train.models import build_model

    from studies.lif_variants import NEURON, WEIGHT_SCALE
    arch = [{"type": "recurrent" if recurrent else "dense", "out": size["hidden"],
             "weight_scale": WEIGHT_SCALE}, {"type": "dense", "weight_scale": WEIGHT_SCALE}]
    neuron = {**NEURON, "voltage_decay": decay, "leak": decay > 0, "reset": reset}
    return build_model(arch, neuron, input_shape, num_classes)


def fit(model, ds, readout, epochs, seed, lr):
    import studies.lif_variants as L
    old = L.LR
    L.LR = lr                                  # lif_variants.train_net reads its module's LR
    try:
        L.train_net(model, ds, readout, epochs, seed)
    finally:
        L.LR = old


def data(seed: int, size: dict):
    from loihi_snn.train.datasets import load_dataset
    train = load_dataset(TASK, "train", T=size["T"], seed=seed, limit=size["train"])
    test = load_dataset(TASK, "test", T=size["T"], seed=seed, limit=size["test"])
    return train, test


def validation_score(variant, params, split, size) -> float:
    """Train on the training samples minus a seeded 20 % hold-out, score on the hold-out."""
    import types

    import torch

    from studies.lif_variants import accuracy
    train, _ = data(split, size)
    order = np.random.default_rng([split, 35]).permutation(len(train.labels))
    n_val = int(round(harness.TUNE_VAL_FRACTION * len(order)))
    vi, ti = np.sort(order[:n_val]), np.sort(order[n_val:])
    sub = types.SimpleNamespace(inputs=np.ascontiguousarray(train.inputs[ti]),
                                labels=np.ascontiguousarray(train.labels[ti]))
    readout = train.task_info["readout"]
    torch.manual_seed(split)
    model = build(*variant, size, train.input_shape, train.num_classes)
    fit(model, sub, readout, size["epochs"], split, params["lr"])
    return accuracy(model, train.inputs[vi], train.labels[vi], readout)[0]


def run_one(variant, seed, params, size, work, lava: int) -> dict:
    import torch

    from studies.lif_variants import accuracy, lava_check
    t0 = time.time()
    train, test = data(seed, size)
    readout = train.task_info["readout"]
    torch.manual_seed(seed)
    model = build(*variant, size, train.input_shape, train.num_classes)
    fit(model, train, readout, size["epochs"], seed, params["lr"])
    acc, spikes, pred = accuracy(model, test.inputs, test.labels, readout)
    d = test.task_info["delay"]
    mid = (test.task_info["min_delay"] + test.task_info["max_delay"]) / 2
    decay, reset, rec = variant
    row = {"kind": "eval", "tag": tag(*variant), "decay": decay, "reset": reset,
           "recurrent": rec, "seed": seed, "lr": params["lr"], "accuracy": acc,
           "accuracy_short_delay": float((pred == test.labels)[d <= mid].mean()),
           "accuracy_long_delay": float((pred == test.labels)[d > mid].mean()),
           "spikes_per_sample": spikes}
    if lava:
        row["lava"] = lava_check(model, os.path.join(work, f"{row['tag']}_{seed}.net"),
                                 test.inputs[:lava])
    row["seconds"] = round(time.time() - t0, 1)
    return row


def summarize(rows: list, size: dict) -> dict:
    mean_ci = harness.mean_ci
    ev = [r for r in rows if r["kind"] == "eval"]
    by = {(r["tag"], r["seed"]): r for r in ev}
    out = {}
    for reset, rec in itertools.product(size["resets"], size["recurrent"]):
        group = f"{reset}-{'rec' if rec else 'ff'}"
        cell = {}
        for decay in size["decays"]:
            t = tag(decay, reset, rec)
            rs = [r for r in ev if r["tag"] == t]
            if not rs:
                continue
            c = {"accuracy": mean_ci([r["accuracy"] for r in rs]),
                 "long_delay": mean_ci([r["accuracy_long_delay"] for r in rs]),
                 "short_delay": mean_ci([r["accuracy_short_delay"] for r in rs]),
                 "spikes": mean_ci([r["spikes_per_sample"] for r in rs])}
            base = tag(0.0, reset, rec)
            seeds = [r["seed"] for r in rs if (base, r["seed"]) in by]
            if decay > 0 and seeds:
                c["long_delay_vs_no_leak"] = mean_ci(
                    [by[(t, s)]["accuracy_long_delay"] - by[(base, s)]["accuracy_long_delay"]
                     for s in seeds])
            cell[f"{decay:g}"] = c
        out[group] = cell
    return out


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    s = summarize(rows, size)
    tunings = {r["tag"]: r["tuning"] for r in rows if r["kind"] == "tune"}
    main = Table("Long-delay accuracy per voltage decay (mean ± std over seeds; paired Δ "
                 "against no leak, 95 % t-interval)",
                 ["reset, recurrence", "decay", "chosen lr", "accuracy", "short delays",
                  "long delays", "Δ long delays vs decay 0", "interval", "spikes/sample"])
    verdict = {}
    for group, cell in s.items():
        below = []
        for dkey, c in cell.items():
            d = c.get("long_delay_vs_no_leak")
            sg = harness.sign(d) if d else None
            if sg == -1:
                below.append(dkey)
            reset, rec = group.split("-")
            t = tag(float(dkey), reset, rec == "rec")
            main.rows.append([group, dkey, tunings.get(t, {}).get("choice", {}).get("lr"),
                              harness.pm(c["accuracy"]), harness.pm(c["short_delay"]),
                              harness.pm(c["long_delay"]),
                              harness.interval(d, 1, "+.3f") if d else "",
                              {1: "above 0", -1: "below 0", 0: "includes 0",
                               None: ""}[sg], harness.pm(c["spikes"], fmt=".0f")])
        verdict[group] = (f"leak lowers long-delay accuracy at decay {', '.join(below)}"
                          if below else "no decay lowers long-delay accuracy (every interval "
                          "includes 0 or lies above)")
    n_tune = sum(t["trainings"] for t in tunings.values())
    ev = [r for r in rows if r["kind"] == "eval"]
    lava = [r["lava"] for r in ev if r.get("lava")]
    text = [
        f"Cue memory (variable delay, T={size['T']}), {size['train']} training / "
        f"{size['test']} test samples, {size['hidden']} single-state LIF neurons "
        f"(studies.lif_variants.NEURON with the swept voltage decay), {size['epochs']} epochs "
        f"of Adam; seeds {size['seeds']}.",
        f"Tuning (studies.harness.tune, per variant): grid {size['grid']}; "
        f"{harness.TUNE_RULE}.  Budget: {n_tune} tuning trainings, {len(ev)} evaluation nets.",
        f"Lava fixed_pt equals the quantized forward on {sum(x['equal'] for x in lava)} of "
        f"{sum(x['samples'] for x in lava)} checked test samples.",
        "**Verdicts** (per reset and recurrence): "
        + "; ".join(f"*{g}*: {v}" for g, v in verdict.items()) + ".",
        f"Wall time {wall / 60:.1f} min.",
    ]
    folder = os.path.join(args.out, "lif_leak")
    os.makedirs(folder, exist_ok=True)
    if s:
        plot(s, os.path.join(folder, "lif_leak.png"))
    harness.write_result("lif_leak", study=study,
                         title="LIF variants: a leak sweep on cue memory (learning rate tuned "
                               "per variant)", tables=[main],
                         data={"size": args.size, "sizes": size, "tuning": tunings,
                               "verdicts": verdict, "summary": s, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def plot(s: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for group, cell in s.items():
        ds = sorted(cell, key=float)
        ax.errorbar([float(d) for d in ds], [cell[d]["long_delay"]["mean"] for d in ds],
                    yerr=[cell[d]["long_delay"]["std"] for d in ds], marker="o", capsize=3,
                    ls="--" if group.endswith("ff") else "-", label=group)
    ax.set_xscale("symlog", linthresh=0.02)
    ax.set_xlabel("voltage decay per step (0 = no leak)")
    ax.set_ylabel("test accuracy on the long delays")
    ax.set_title("Cue memory: long-delay accuracy against the leak")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/lif_leak/lif_leak.{json,md,png}")
    p.add_argument("--work", default=None, help="folder for the exported networks "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    study = harness.Study("lif_leak", argv)
    harness.start()
    size = dict(SIZES[args.size])
    variants = list(itertools.product(size["decays"], size["resets"], size["recurrent"]))
    choice = {}
    cells = [("tune", v, None) for v in variants] + [
        ("eval", v, s) for s in size["seeds"] for v in variants]

    def run_cell(c):
        kind, v, seed = c
        with harness.work_folder(args.work, "lif-leak-") as work:
            if kind == "tune":
                t0 = time.time()
                rec = harness.tune(size["grid"], lambda prm, split: validation_score(
                    v, prm, split, size), size["splits"])
                choice[v] = rec["choice"]
                return {"kind": "tune", "tag": tag(*v), "tuning": rec,
                        "seconds": round(time.time() - t0, 1)}
            return run_one(v, seed, choice[v], size, work,
                           size["lava"] if seed == size["seeds"][0] else 0)

    def line(r):
        if r["kind"] == "tune":
            return (f"{r['tag']:16s} tuned {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"{r['tag']:16s} seed {r['seed']}: acc {r['accuracy']:.3f} long "
                f"{r['accuracy_long_delay']:.3f} short {r['accuracy_short_delay']:.3f} "
                f"Lava {r.get('lava')} ({r['seconds']} s)")

    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line)
    lava = [r["lava"] for r in rows if r["kind"] == "eval" and r.get("lava")]
    ok = all(x["equal"] == x["samples"] for x in lava)
    print(f"results: {os.path.join(args.out, 'lif_leak', 'lif_leak.md')}")
    print(f"lif_leak: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

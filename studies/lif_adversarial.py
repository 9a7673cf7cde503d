"""Study: LIF variants under adversarial input noise (FGSM, PGD) beside random noise.

    python -m studies.lif_adversarial [--size small|full] [--seeds N] [--out RESULTS_DIR]

The LIF-variants study (:mod:`studies.lif_variants`) measured robustness on the
``lif_patterns`` task with random noise only.  Here every variant -- voltage decay 0 and 0.1
x hard / soft / no reset x feed-forward / recurrent (48 hidden single-state LIF neurons, the
network of :mod:`studies.lif_variants`) -- is trained on ``lif_patterns`` with each
variant's learning rate chosen by the one protocol (:func:`studies.harness.tune`: two
seeded 20 % hold-outs of the training samples, the last epoch, never the test samples),
then attacked on the test samples.

The input is graded and integer-valued (the random Gaussian noise of the first study is
``round(x + N(0, sigma))``; Lava takes integers), so every attack here changes a budget
of ``k`` input entries (a fraction of all channel x step entries) by +-1:

* ``random``: ``k`` entries chosen at random, sign at random (the matched control);
* ``fgsm``: one gradient of the loss with respect to the input (the training forward:
  float dynamics, surrogate gradient), the ``k`` entries with the largest ``|gradient|``
  moved by ``sign(gradient)`` (the L0-budgeted, integer form of FGSM);
* ``pgd``: :data:`PGD_STEPS` steps, each recomputing the gradient at the current input and
  moving the ``k / steps`` not yet changed entries with the largest ``|gradient|``.

Accuracy is the quantized forward's (what Lava fixed_pt computes; checked on attacked
samples of the first seed).  Per variant and seed: clean accuracy, accuracy under each
attack and budget, the relative drop.  Paired per seed: leak - no leak (per reset and
recurrence), recurrent - feed-forward (per decay and reset) of the relative drop, and
adversarial - random at the same budget.

Writes ``<out>/lif_adversarial/lif_adversarial.{json,md,png}``.
"""
from __future__ import annotations

import os
import sys
import time
import types

import numpy as np

if __package__ in (None, ""):      # run as a file: find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

TASK = "lif_patterns"
ATTACKS = ("random", "fgsm", "pgd")
PGD_STEPS = 5
#: (voltage decay, reset, recurrent): the first study's four feed-forward variants first,
#: then no reset, then the recurrent ones
VARIANTS = [(0.0, "hard", False), (0.0, "soft", False), (0.1, "hard", False),
            (0.1, "soft", False), (0.0, "none", False), (0.1, "none", False),
            (0.0, "hard", True), (0.0, "soft", True), (0.1, "hard", True), (0.1, "soft", True),
            (0.0, "none", True), (0.1, "none", True)]
RESETS = ("hard", "soft", "none")
SIZES = {"small": {"train": 96, "test": 32, "epochs": 1, "hidden": 8, "lava": 1,
                   "seeds": 1, "variants": [(0.0, "soft", False), (0.1, "soft", False),
                                            (0.1, "soft", True)],
                   "budgets": [0.02], "grid": {"lr": [3e-3]}, "splits": [1000]},
         "full": {"train": 2000, "test": 500, "epochs": 8, "hidden": 48, "lava": 4,
                  "seeds": 5, "variants": VARIANTS, "budgets": [0.01, 0.03],
                  "grid": {"lr": [1e-3, 3e-3, 1e-2]}, "splits": list(harness.TUNE_SPLITS)}}


def tag(decay: float, reset: str, recurrent: bool = False) -> str:
    return f"d{decay:g}-{reset}-{'rec' if recurrent else 'ff'}"


def build(decay, reset, size, input_shape, num_classes, recurrent: bool = False):
    """The study's network: ``input_shape`` (channels,) -> ``size["hidden"]`` LIF neurons
    (dense or with a trained recurrent weight) -> ``num_classes``; voltage decay ``decay``
    (0: no leak), ``reset`` hard / soft / none."""
    from loihi_snn.train.models import build_model

    from studies.lif_variants import NEURON, WEIGHT_SCALE
    arch = [{"type": "recurrent" if recurrent else "dense", "out": size["hidden"],
             "weight_scale": WEIGHT_SCALE},
            {"type": "dense", "weight_scale": WEIGHT_SCALE}]
    neuron = {**NEURON, "voltage_decay": decay, "leak": decay > 0, "reset": reset}
    return build_model(arch, neuron, input_shape, num_classes)


def _model(variant, size, ds):
    """:func:`build` for ``variant`` = (decay, reset, recurrent) on data set ``ds``."""
    decay, reset, recurrent = variant
    return build(decay, reset, size, ds.input_shape, ds.num_classes, recurrent=recurrent)


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
    return (load_dataset(TASK, "train", seed=seed, limit=size["train"]),
            load_dataset(TASK, "test", seed=seed, limit=size["test"]))


def validation_score(variant, params, split, size) -> float:
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
    model = _model(variant, size, train)
    fit(model, sub, readout, size["epochs"], split, params["lr"])
    return accuracy(model, train.inputs[vi], train.labels[vi], readout)[0]


def input_gradient(model, x: np.ndarray, labels: np.ndarray, readout: int) -> np.ndarray:
    """d loss / d input of the training forward (float dynamics, surrogate gradient)."""
    import torch

    from studies.lif_variants import counts
    model.train()
    xt = torch.from_numpy(np.ascontiguousarray(x, np.float32)).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(counts(model(xt), readout),
                                             torch.from_numpy(labels).long(), reduction="sum")
    (g,) = torch.autograd.grad(loss, xt)
    model.eval()
    return g.numpy()


def attack(model, x, labels, readout, kind: str, budget: float, rng) -> np.ndarray:
    """``x`` with ``k = round(budget * entries)`` entries per sample moved by +-1."""
    x = np.asarray(x, np.float32)
    n = x.shape[0]
    flat = x.reshape(n, -1).copy()
    k = max(1, int(round(budget * flat.shape[1])))
    rows = np.arange(n)[:, None]
    if kind == "random":
        idx = np.argsort(rng.random(flat.shape), axis=1)[:, :k]
        flat[rows, idx] += rng.choice(np.array([-1.0, 1.0], np.float32), size=(n, k))
        return flat.reshape(x.shape)
    steps = 1 if kind == "fgsm" else PGD_STEPS
    changed = np.zeros(flat.shape, bool)
    per = [k // steps + (1 if i < k % steps else 0) for i in range(steps)]
    for m in per:
        if m == 0:
            continue
        g = input_gradient(model, flat.reshape(x.shape), labels, readout).reshape(n, -1)
        score = np.where(changed, -np.inf, np.abs(g))
        idx = np.argsort(-score, axis=1)[:, :m]
        flat[rows, idx] += np.where(g[rows, idx] >= 0, 1.0, -1.0).astype(np.float32)
        changed[rows, idx] = True
    return flat.reshape(x.shape)


def run_one(variant, seed, params, size, work, lava: int) -> dict:
    import torch

    from studies.lif_variants import accuracy, lava_check
    t0 = time.time()
    train, test = data(seed, size)
    readout = train.task_info["readout"]
    torch.manual_seed(seed)
    model = _model(variant, size, train)
    fit(model, train, readout, size["epochs"], seed, params["lr"])
    acc, spikes, _ = accuracy(model, test.inputs, test.labels, readout)
    decay, reset, recurrent = variant
    row = {"kind": "eval", "tag": tag(*variant), "decay": decay, "reset": reset,
           "recurrent": recurrent, "seed": seed,
           "lr": params["lr"], "accuracy": acc, "spikes_per_sample": spikes, "attacks": {}}
    worst = None
    for budget in size["budgets"]:
        for kind in ATTACKS:
            rng = np.random.default_rng([seed, 77, int(budget * 1000)])
            xa = attack(model, test.inputs, test.labels, readout, kind, budget, rng)
            a, _, _ = accuracy(model, xa, test.labels, readout)
            row["attacks"][f"{kind} {budget:g}"] = {
                "accuracy": a, "relative_drop": (acc - a) / acc if acc > 0 else None}
            worst = xa
    if lava:
        row["lava"] = lava_check(model, os.path.join(work, f"{row['tag']}_{seed}.net"),
                                 worst[:lava])
        row["lava"]["inputs"] = f"pgd {size['budgets'][-1]:g} (attacked test samples)"
    row["seconds"] = round(time.time() - t0, 1)
    return row


# ----------------------------------------------------------------------------- summary

def summarize(rows, size) -> dict:
    evals = [r for r in rows if r["kind"] == "eval"]
    by = {}
    for r in evals:
        by.setdefault(r["tag"], {})[r["seed"]] = r
    keys = [f"{k} {b:g}" for b in size["budgets"] for k in ATTACKS]
    s = {"variants": {}, "leak_minus_no_leak": {}, "recurrent_minus_ff": {},
         "adversarial_minus_random": {}}
    for t, runs in by.items():
        s["variants"][t] = {"accuracy": harness.mean_ci([r["accuracy"] for r in runs.values()]),
                            **{k: harness.mean_ci([r["attacks"][k]["relative_drop"]
                                                   for r in runs.values()]) for k in keys}}
        for b in size["budgets"]:
            for kind in ("fgsm", "pgd"):
                _, d = harness.paired(runs, runs, lambda x, y: (
                    x["attacks"][f"{kind} {b:g}"]["relative_drop"]
                    - y["attacks"][f"random {b:g}"]["relative_drop"]))
                s["adversarial_minus_random"].setdefault(t, {})[f"{kind} {b:g}"] = \
                    harness.mean_ci(d)
    def diff(a, b):
        out = {"accuracy": harness.mean_ci(
            harness.paired(a, b, lambda x, y: x["accuracy"] - y["accuracy"])[1])}
        for k in keys:
            _, d = harness.paired(a, b, lambda x, y: x["attacks"][k]["relative_drop"]
                                  - y["attacks"][k]["relative_drop"])
            out[k] = harness.mean_ci(d)
        return out

    for rec in (False, True):
        for reset in RESETS:
            a, b = by.get(tag(0.1, reset, rec)), by.get(tag(0.0, reset, rec))
            if a and b:
                s["leak_minus_no_leak"][f"{reset}-{'rec' if rec else 'ff'}"] = diff(a, b)
    for decay in (0.0, 0.1):
        for reset in RESETS:
            a, b = by.get(tag(decay, reset, True)), by.get(tag(decay, reset, False))
            if a and b:
                s["recurrent_minus_ff"][f"d{decay:g}-{reset}"] = diff(a, b)
    lav = [r["lava"] for r in evals if "lava" in r]
    s["lava"] = {"samples": sum(x["samples"] for x in lav), "equal": sum(x["equal"] for x in lav)}
    return s


def _word(d) -> str:
    return {1: "yes", -1: "no, the opposite", 0: "not shown",
            None: "undecided (one seed)"}[harness.sign(d)]


def verdicts(s, size) -> dict:
    out = {}
    b = size["budgets"][-1]
    def lowers(x):
        return _word({**x, "mean": -x["mean"], "ci95": [-x["ci95"][1], -x["ci95"][0]]})

    for group, d in s["leak_minus_no_leak"].items():
        reset, _, ff = group.partition("-")
        for kind in ATTACKS:
            x = d.get(f"{kind} {b:g}")
            if x:
                out[f"leak (decay 0.1) lowers the relative drop under {kind} {b:g}, "
                    f"{reset} reset, {'recurrent' if ff == 'rec' else 'feed-forward'}"] = (
                    f"{lowers(x)}: leak - no leak {harness.interval(x, 1, '+.3f')}")
    for group, d in s["recurrent_minus_ff"].items():
        x = d.get(f"pgd {b:g}")
        if x:
            out[f"recurrence lowers the relative drop under pgd {b:g}, {group}"] = (
                f"{lowers(x)}: recurrent - feed-forward {harness.interval(x, 1, '+.3f')}")
    for t, d in s["adversarial_minus_random"].items():
        x = d.get(f"pgd {b:g}")
        if x:
            out[f"PGD hurts more than random noise at the same budget, {t}"] = (
                f"{_word(x)}: pgd - random {harness.interval(x, 1, '+.3f')}")
    return out


def plot(s, size, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tags = list(s["variants"])
    width = max(5.5, 0.75 * len(tags))
    fig, axes = plt.subplots(1, len(size["budgets"]), figsize=(width * len(size["budgets"]), 4.4),
                             squeeze=False)
    for ax, b in zip(axes[0], size["budgets"]):
        w = 0.8 / len(ATTACKS)
        for j, kind in enumerate(ATTACKS):
            ms = [s["variants"][t][f"{kind} {b:g}"] for t in tags]
            ax.bar(np.arange(len(tags)) + (j - 1) * w, [m["mean"] for m in ms], w,
                   yerr=[[m["mean"] - m["ci95"][0] if m["n"] > 1 else 0 for m in ms],
                         [m["ci95"][1] - m["mean"] if m["n"] > 1 else 0 for m in ms]],
                   capsize=2, label=kind)
        ax.set_xticks(range(len(tags)), tags, fontsize=8, rotation=45, ha="right")
        ax.set_ylabel("relative accuracy drop (mean, 95 % CI)")
        ax.set_title(f"budget {b:g} of the input entries moved by +-1", fontsize=9)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.suptitle("LIF variants on lif_patterns: random vs FGSM vs PGD (lr tuned per variant)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    evals = [r for r in rows if r["kind"] == "eval"]
    tunings = {r["tag"]: r["tuning"] for r in rows if r["kind"] == "tune"}
    s = summarize(rows, size) if evals else {}
    v = verdicts(s, size) if evals else {}
    keys = [f"{k} {b:g}" for b in size["budgets"] for k in ATTACKS]
    tables = []
    if evals:
        t1 = Table("Clean accuracy and relative drop per attack (mean [95 % CI] over seeds)",
                   ["variant", "lr", "clean accuracy"] + keys)
        for t, x in s["variants"].items():
            t1.rows.append([t, tunings.get(t, {}).get("choice", {}).get("lr"),
                            harness.interval(x["accuracy"], 1, ".3f")]
                           + [harness.interval(x[k], 1, "+.3f") for k in keys])
        t2 = Table("Leak (decay 0.1) - no leak, paired per seed: relative drop",
                   ["reset, recurrence", "clean accuracy"] + keys)
        for group, d in s["leak_minus_no_leak"].items():
            t2.rows.append([group, harness.interval(d["accuracy"], 1, "+.3f")]
                           + [harness.interval(d[k], 1, "+.3f") for k in keys])
        t3 = Table("Adversarial - random at the same budget, paired per seed: relative drop",
                   ["variant"] + [f"{k} {b:g}" for b in size["budgets"] for k in ("fgsm", "pgd")])
        for t, d in s["adversarial_minus_random"].items():
            t3.rows.append([t] + [harness.interval(d[f"{k} {b:g}"], 1, "+.3f")
                                  for b in size["budgets"] for k in ("fgsm", "pgd")])
        t4 = Table("Recurrent - feed-forward, paired per seed: relative drop",
                   ["decay, reset", "clean accuracy"] + keys)
        for group, d in s["recurrent_minus_ff"].items():
            t4.rows.append([group, harness.interval(d["accuracy"], 1, "+.3f")]
                           + [harness.interval(d[k], 1, "+.3f") for k in keys])
        tables += [t1, t2, t3, t4]
    tt = Table("Tuning per variant (validation accuracy, mean over the splits)",
               ["variant", "points: lr -> validation accuracy", "chosen"])
    for t, tun in tunings.items():
        tt.rows.append([t, "; ".join(f"{p['params']['lr']} -> {p['mean']:.3f}"
                                     for p in tun["points"]), tun["choice"]["lr"]])
    tables.append(tt)
    n_tune = sum(t["trainings"] for t in tunings.values())
    text = [
        f"Task {TASK} (4 classes, 16 channels, fixed random spike patterns with mild training "
        f"noise), {size['train']} training / {size['test']} test samples, 48 hidden "
        f"single-state LIF neurons (the network of studies.lif_variants), dense or recurrent, "
        f"{size['epochs']} epochs; variants (decay, reset, recurrent) "
        f"{[tuple(v) for v in size['variants']]}.",
        f"Tuning (studies.harness.tune, per variant): grid {size['grid']}; "
        f"{harness.TUNE_RULE}.  Budget: {n_tune} tuning trainings, then {len(evals)} networks "
        f"({size['seeds']} seeds).",
        f"Attacks: a budget of {size['budgets']} of the channel x step entries per sample moved "
        "by +-1 (integer graded input): random (positions and signs), FGSM (one input "
        f"gradient of the training forward, the largest |gradient| entries), PGD "
        f"({PGD_STEPS} gradient steps, each moving the next share of entries).  Gradients: "
        "the float training forward with SLAYER's surrogate; accuracies: the quantized "
        "forward (what Lava fixed_pt computes).  Relative drop = (clean - attacked) / clean.",
        f"Lava fixed_pt equals the quantized forward on {s.get('lava', {}).get('equal')} of "
        f"{s.get('lava', {}).get('samples')} attacked test samples (PGD at the largest budget, "
        "the first seed of every variant).  Plot: `lif_adversarial.png`.",
        "**Verdicts.** " + " ".join(f"*{k}*: {x}." for k, x in v.items()),
        f"Wall time {wall / 60:.1f} min.",
    ]
    folder = os.path.join(args.out, "lif_adversarial")
    os.makedirs(folder, exist_ok=True)
    if evals and status == "complete":
        plot(s, size, os.path.join(folder, "lif_adversarial.png"))
    harness.write_result("lif_adversarial", study=study,
                         title="LIF variants under adversarial input noise (FGSM, PGD) beside "
                               "random noise, every variant's learning rate tuned",
                         tables=tables,
                         data={"size": args.size, "sizes": size, "tuning": tunings,
                               "verdicts": v, "summary": s, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/lif_adversarial/lif_adversarial.{json,md,png}")
    p.add_argument("--work", default=None, help="folder for the exported networks")
    args = p.parse_args(argv)
    study = harness.Study("lif_adversarial", argv)
    harness.start()
    size = dict(SIZES[args.size])
    if args.seeds is not None:
        size["seeds"] = args.seeds
    choices = {}

    def run_cell(cell):
        kind, variant, seed = cell
        with harness.work_folder(args.work, "lif-adv-") as work:
            t0 = time.time()
            if kind == "tune":
                rec = harness.tune(size["grid"], lambda prm, split: validation_score(
                    variant, prm, split, size), size["splits"])
                choices[variant] = rec["choice"]
                return {"kind": "tune", "tag": tag(*variant), "tuning": rec,
                        "seconds": round(time.time() - t0, 1)}
            return run_one(variant, seed, choices[variant], size, work,
                           size["lava"] if seed == 0 else 0)

    def line(r):
        if r["kind"] == "tune":
            return (f"{r['tag']}: tuned {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"{r['tag']} seed {r['seed']}: clean {r['accuracy']:.3f} | " + ", ".join(
            f"{k} {x['accuracy']:.3f}" for k, x in r["attacks"].items()) + f" | {r['seconds']} s")

    cells = []
    for v in size["variants"]:
        v = tuple(v) if len(v) == 3 else (*v, False)
        cells += [("tune", v, None)] + [("eval", v, s)
                                               for s in range(size["seeds"])]
    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line)
    lav = summarize(rows, size)["lava"]
    ok = lav["equal"] == lav["samples"]
    print(f"results: {os.path.join(args.out, 'lif_adversarial', 'lif_adversarial.md')}")
    print(f"lif_adversarial: {'OK' if ok else 'FAILED'} (Lava {lav['equal']}/{lav['samples']})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Study: does RCS make the cutoff stop sooner where the evidence arrives early? (digits)

    python -m studies.rcs_digits [--size small|full] [--seeds N] [--out RESULTS_DIR]

The events study (:mod:`studies.rcs`) tests RCS where the evidence arrives late (its
oracle cutoff sits near step 7 of 16), so stopping sooner is hardly possible.  Here the
input is static and present from the first step: scikit-learn's digits in direct code
(each pixel's intensity x :data:`INPUT_SCALE`, rounded, a graded input at every step),
64-128-10 binary LIF, T=16, cross-entropy on the output spike counts.  Arms: no RCS, and
RCS at each weight of :data:`WEIGHTS` on the hidden layer only (the authors' setting: their
classifier does not spike) and on every layer including the output.

Every arm is tuned by the one protocol of :func:`studies.harness.tune` (learning rate x
surrogate width, two seeded 20 % hold-outs of the training split, the last epoch's
validation accuracy, never the test split), then trained for every seed (10 % of the
training split held out, used only to choose epsilon; the last epoch exported).  Per
model (:func:`studies.rcs.measure`): the bit-exact emulator's outputs; the cutoff
calibrated on the training samples for each epsilon; the test split's accuracy and mean
steps at each *fixed* epsilon (the primary comparison: equal epsilon, so RCS's effect is
not mixed with the choice of epsilon) and at the epsilon chosen on validation; the Lava
cutoff controller on the first test samples (must decide like the offline rule); the
early/late similarity RCS raises.  Paired differences against the no-RCS arm per seed
get a 95 % t-interval.

Writes ``<out>/rcs_digits/rcs_digits.{json,md}`` (:func:`studies.harness.write_result`).
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file: find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

pm, ci = harness.pm, harness.interval

T_STEPS = 16
INPUT_SCALE = 4
WEIGHTS = [0.003, 0.03]
#: fixed epsilons of the primary comparison (the calibration grid is studies.rcs.EPSILONS)
PRIMARY_EPSILONS = (0.0, 0.02, 0.05)
NEURON = {"type": "lif", "spike": "binary", "reset": "hard", "threshold": 1.0,
          "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.03, "scale_grad": 3.0,
          "surrogate": "exp"}
GRID = {"lr": [0.01, 0.03, 0.1], "tau_grad": [0.01, 0.03, 0.1]}
SIZES = {"small": {"weights": [0.03], "seeds": 1, "train_limit": 200, "test_limit": 60,
                   "epochs": 1, "lava_samples": 8, "grid": {"lr": [0.03], "tau_grad": [0.03]},
                   "splits": [1000]},
         "full": {"weights": WEIGHTS, "seeds": 5, "train_limit": None, "test_limit": None,
                  "epochs": 15, "lava_samples": 100, "grid": GRID,
                  "splits": list(harness.TUNE_SPLITS)}}


def arms(weights: list) -> dict:
    """name -> (RCS weight, hidden_only)."""
    out = {"none": (0.0, True)}
    for w in weights:
        out[f"hidden_{w:g}"] = (w, True)
        out[f"all_{w:g}"] = (w, False)
    return out


def base_config(weight: float, size: dict):
    from loihi_snn.train.config import TrainConfig
    return TrainConfig(name=f"digits_direct_rcs{weight:g}".replace(".", "p"), dataset="digits",
                       encoding="direct", input_scale=INPUT_SCALE, T=T_STEPS,
                       train_limit=size["train_limit"], test_limit=size["test_limit"],
                       val_fraction=0.1, select="last", neuron=dict(NEURON),
                       architecture=[{"type": "dense", "out": 128, "weight_scale": 1},
                                     {"type": "dense"}],
                       loss={"type": "cross_entropy", "scale": 1.0},
                       optimizer={"type": "adam", "lr": 0.03, "schedule": "cosine"},
                       epochs=size["epochs"], batch_size=32, seed=0, device="cpu",
                       rcs_weight=weight)


def use_rcs(hidden_only: bool) -> None:
    """Register the RCS regulariser the next trainings use (hidden layers only or all)."""
    from loihi_snn.train import rcs
    from loihi_snn.train.regularizers import REGULARIZERS
    REGULARIZERS["rcs"] = rcs.make_regularizer(hidden_only=hidden_only)


def tune_arm(name: str, spec: tuple, size: dict, work: str) -> dict:
    t0 = time.time()
    weight, hidden_only = spec
    use_rcs(hidden_only)
    cfg = base_config(weight, size)
    rec = harness.tune(size["grid"],
                       lambda p, split: harness.validation_accuracy(cfg, p, split, work),
                       size["splits"])
    return {"kind": "tune", "arm": name, "tuning": rec, "seconds": round(time.time() - t0, 1)}


def run_one(name: str, spec: tuple, seed: int, params: dict, size: dict, work: str) -> dict:
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train

    from studies.rcs import measure
    t0 = time.time()
    weight, hidden_only = spec
    use_rcs(hidden_only)
    cfg = harness.final_config(base_config(weight, size), params, seed).replace(val_fraction=0.1)
    res = train(cfg, os.path.join(work, f"{name}_s{seed}"), progress=False, verbose=False,
                lava=False)
    row = {"kind": "eval", "arm": name, "weight": weight, "hidden_only": hidden_only,
           "seed": seed, "params": dict(params),
           **measure(res.net_path, res.checkpoint, load_data(cfg), size["lava_samples"])}
    row["seconds"] = round(time.time() - t0, 1)
    return row


def _at(row: dict, eps: float) -> dict:
    return next(x for x in row["test_sweep"] if x["epsilon"] == eps)


def summarize(rows: list, names: list) -> dict:
    mean_ci = harness.mean_ci
    evals = [r for r in rows if r["kind"] == "eval"]
    base = {r["seed"]: r for r in evals if r["arm"] == "none"}
    out = {}
    for name in names:
        rs = [r for r in evals if r["arm"] == name]
        if not rs:
            continue
        pr = [r for r in rs if r["seed"] in base]
        s = {"seeds": len(rs),
             "fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] for r in rs]),
             "epsilon": mean_ci([r["epsilon"] for r in rs]),
             "cutoff_accuracy": mean_ci([r["cutoff_accuracy"] for r in rs]),
             "mean_steps": mean_ci([r["mean_steps"] for r in rs]),
             "oct_mean_steps": mean_ci([r["oct_mean_steps_settled"] for r in rs]),
             "cs_hidden": mean_ci([r["cs_per_layer"][0] for r in rs]),
             "cs_output": mean_ci([r["cs_per_layer"][-1] for r in rs]),
             "lava_equals_offline_rule": all(r["lava"]["equals_offline_rule"] for r in rs),
             "at_epsilon": {}}
        for eps in PRIMARY_EPSILONS:
            s["at_epsilon"][f"{eps:g}"] = {
                "accuracy": mean_ci([_at(r, eps)["accuracy"] for r in rs]),
                "mean_steps": mean_ci([_at(r, eps)["mean_steps"] for r in rs])}
        if name != "none" and pr:
            b = base
            s["paired"] = {
                "mean_steps": mean_ci([r["mean_steps"] - b[r["seed"]]["mean_steps"] for r in pr]),
                "cutoff_accuracy": mean_ci([r["cutoff_accuracy"] - b[r["seed"]]["cutoff_accuracy"]
                                            for r in pr]),
                "fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] -
                                             b[r["seed"]]["fixed_T_accuracy"] for r in pr]),
                "cs_hidden": mean_ci([r["cs_per_layer"][0] - b[r["seed"]]["cs_per_layer"][0]
                                      for r in pr]),
                "at_epsilon": {f"{eps:g}": {
                    "mean_steps": mean_ci([_at(r, eps)["mean_steps"] -
                                           _at(b[r["seed"]], eps)["mean_steps"] for r in pr]),
                    "accuracy": mean_ci([_at(r, eps)["accuracy"] -
                                         _at(b[r["seed"]], eps)["accuracy"] for r in pr])}
                    for eps in PRIMARY_EPSILONS}}
        out[name] = s
    return out


def verdicts(summary: dict) -> dict:
    """Per RCS arm: fewer steps at equal epsilon (interval below 0) without losing more
    than 1 point (accuracy interval above -1 point), at each fixed epsilon."""
    out = {}
    for name, s in summary.items():
        p = s.get("paired")
        if not p or p["mean_steps"]["n"] < 2:
            continue
        parts, wins = [], 0
        for eps, d in p["at_epsilon"].items():
            fewer = d["mean_steps"]["ci95"][1] < 0
            lossless = d["accuracy"]["ci95"][0] > -0.01
            wins += fewer and lossless
            parts.append(f"eps {eps}: Δ steps {ci(d['mean_steps'])}, Δ acc "
                         f"{ci(d['accuracy'], 100, '+.1f')} pts")
        word = (f"fewer steps without loss at {wins} of {len(p['at_epsilon'])} fixed epsilons"
                if wins else "not shown: no fixed epsilon gives fewer steps without loss")
        out[f"RCS {name} makes the cutoff stop sooner"] = f"{word} ({'; '.join(parts)})"
    return out


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    names = list(arms(size["weights"]))
    s = summarize(rows, names)
    v = verdicts(s)
    tunings = {r["arm"]: r["tuning"] for r in rows if r["kind"] == "tune"}
    main = Table("Per arm (mean ± std over seeds; test split; epsilon chosen on validation)",
                 ["arm (RCS weight, layers)", "seeds", "chosen lr, tau_grad",
                  "fixed-T acc", "epsilon", "cutoff acc", "mean steps", "OCT (oracle)",
                  "cs hidden", "cs output"])
    fixed = Table("At each fixed epsilon (primary; paired Δ against no RCS, 95 % CI)",
                  ["arm", "epsilon", "cutoff acc", "mean steps", "Δ mean steps",
                   "Δ cutoff acc, pts"])
    for name, x in s.items():
        ch = tunings.get(name, {}).get("choice", {})
        main.rows.append([name, x["seeds"], f"{ch.get('lr')}, {ch.get('tau_grad')}",
                          pm(x["fixed_T_accuracy"]), pm(x["epsilon"]), pm(x["cutoff_accuracy"]),
                          pm(x["mean_steps"], fmt=".2f"), pm(x["oct_mean_steps"], fmt=".2f"),
                          pm(x["cs_hidden"]), pm(x["cs_output"])])
        for eps, e in x["at_epsilon"].items():
            d = (x.get("paired") or {}).get("at_epsilon", {}).get(eps)
            fixed.rows.append([name, eps, pm(e["accuracy"]), pm(e["mean_steps"], fmt=".2f"),
                               ci(d["mean_steps"]) if d else "",
                               ci(d["accuracy"], 100, "+.1f") if d else ""])
    tune_t = Table("Tuning per arm (validation accuracy, mean over the splits)",
                   ["arm", "points: lr / tau_grad -> validation accuracy", "chosen"])
    for name, tun in tunings.items():
        tune_t.rows.append([name, "; ".join(f"{p['params']['lr']}/{p['params']['tau_grad']} "
                                            f"-> {p['mean']:.3f}" for p in tun["points"]),
                            f"{tun['choice']}"])
    evals = [r for r in rows if r["kind"] == "eval"]
    n_tune = sum(t["trainings"] for t in tunings.values())
    text = [
        f"Digits in direct code (intensity x {INPUT_SCALE}, rounded: graded input 0..{INPUT_SCALE} "
        f"at every step), 64-128-10 binary LIF {NEURON}, T={T_STEPS}, cross-entropy on the "
        f"output spike counts, Adam with a cosine schedule, batch 32, {size['epochs']} epochs, "
        "the last epoch exported; RCS (max over the qualifying samples, r_d over the last "
        "30 % of the steps) on the hidden layer only (hidden_*) or on every layer (all_*).",
        f"Tuning (studies.harness.tune, per arm): grid {size['grid']}; {harness.TUNE_RULE}.  "
        f"Budget: {n_tune} tuning trainings, {len(evals)} evaluation models.",
        "Cutoff: thresholds calibrated on the training samples (the 10 % validation hold-out "
        "excluded); test figures from the offline rule on the bit-exact emulator's outputs; "
        f"the Lava cutoff controller on the first {size['lava_samples']} test samples decides "
        f"identically for {sum(r['lava']['equals_offline_rule'] for r in evals)} of "
        f"{len(evals)} models.",
        "**Verdicts** (paired against no RCS, per fixed epsilon). "
        + " ".join(f"*{k}*: {x}." for k, x in v.items()),
        f"Wall time {wall / 60:.1f} min.",
    ]
    harness.write_result("rcs_digits", study=study,
                         title="RCS against the Top-K cutoff where the evidence is early: "
                               "digits, direct code, T=16",
                         tables=[main, fixed, tune_t],
                         data={"size": args.size, "sizes": size, "neuron": NEURON,
                               "input_scale": INPUT_SCALE, "arms": arms(size["weights"]),
                               "tuning": tunings, "verdicts": v, "summary": s, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/rcs_digits/rcs_digits.{json,md}")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    study = harness.Study("rcs_digits", argv)
    harness.start()
    size = dict(SIZES[args.size])
    if args.seeds is not None:
        size["seeds"] = args.seeds
    specs = arms(size["weights"])
    choice = {}
    cells = [("tune", n, None) for n in specs] + [
        ("eval", n, s) for s in range(args.seed, args.seed + size["seeds"]) for n in specs]

    def run_cell(c):
        kind, name, seed = c
        with harness.work_folder(args.work, "rcs-digits-") as work:
            if kind == "tune":
                r = tune_arm(name, specs[name], size, work)
                choice[name] = r["tuning"]["choice"]
                return r
            return run_one(name, specs[name], seed, choice[name], size, work)

    def line(r):
        if r["kind"] == "tune":
            return (f"{r['arm']:12s} tuned {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"{r['arm']:12s} seed {r['seed']}: fixed-T {r['fixed_T_accuracy']:.3f} | eps "
                f"{r['epsilon']:g}: cutoff {r['cutoff_accuracy']:.3f} in {r['mean_steps']:.2f} "
                f"steps (Lava == rule: {r['lava']['equals_offline_rule']}) | cs "
                + "/".join(f"{c:.3f}" for c in r["cs_per_layer"]) + f" | {r['seconds']} s")

    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line)
    evals = [r for r in rows if r["kind"] == "eval"]
    ok = all(r["lava"]["equals_offline_rule"] for r in evals)
    print(f"results: {os.path.join(args.out, 'rcs_digits', 'rcs_digits.md')}")
    print(f"rcs_digits: {'OK' if ok else 'FAILED'} ({len(evals)} models; Lava controller == "
          "offline rule on the checked samples)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

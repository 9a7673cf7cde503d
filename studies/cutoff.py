"""Study: what the Top-K cutoff buys over simply running fewer steps (run on Lava).

    python -m studies.cutoff [--size small|full] [--seeds N] [--out RESULTS_DIR]

For every seed: train a 64-128-10 binary LIF network on rate-coded digits (T=16,
cross-entropy on the output spike counts, the tuned neuron of the digits presets; best
epoch on a 10 % validation hold-out), export it, and

1. run the training, validation and test splits on the bit-exact emulator;
2. calibrate the per-step thresholds on the training samples (validation excluded) for
   an epsilon grid and choose epsilon on the validation split only
   (:func:`loihi_snn.core.cutoff.choose_epsilon`: the largest epsilon whose validation
   accuracy is within 1 point of the validation fixed-T accuracy);
3. run the whole test split through the Lava cutoff controller (lava-fixed, one run)
   with the chosen thresholds; its decisions must equal the offline rule on the
   emulator's outputs;
4. compare with fixed-T inference on the same test outputs: the fixed-T accuracy at the
   cutoff's mean steps (interpolated between the two neighbouring whole T: running a
   fraction of the samples for floor and the rest for ceil steps has exactly that mean
   and that expected accuracy) and the smallest fixed T that reaches the cutoff's
   accuracy.

Writes ``<out>/cutoff/cutoff.{json,md}`` (:func:`studies.harness.write_result`).
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

T_STEPS = 16
EPSILONS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
TOLERANCE = 0.01
SIZES = {"small": {"train_limit": 300, "test_limit": 60, "epochs": 2, "seeds": 1},
         "full": {"train_limit": None, "test_limit": None, "epochs": 15, "seeds": 8}}
# the tuned binary LIF of the committed digits presets (families.DEFAULT_NEURON_PARAMS at
# the time of this study), written out so that later preset changes do not move it
NEURON = {"type": "lif", "spike": "binary", "reset": "hard", "threshold": 1.25,
          "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3.0}


def config_for(size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    return TrainConfig(name="digits_lif_ce", dataset="digits", encoding="rate", T=T_STEPS,
                       train_limit=size["train_limit"], test_limit=size["test_limit"],
                       val_fraction=0.1, neuron=dict(NEURON),
                       architecture=[{"type": "dense", "out": 128}, {"type": "dense"}],
                       loss={"type": "cross_entropy", "scale": 1.0},
                       optimizer={"type": "adam", "lr": 0.01}, epochs=size["epochs"],
                       batch_size=32, seed=seed, device="cpu")


def fixed_t_at(curve: list, steps: float) -> float:
    """Fixed-T accuracy at a (fractional) mean number of steps: linear between the
    accuracies at floor(steps) and ceil(steps) (``curve[t - 1]`` = accuracy at t)."""
    lo = max(1, min(len(curve), math.floor(steps)))
    hi = max(1, min(len(curve), math.ceil(steps)))
    if lo == hi:
        return float(curve[lo - 1])
    f = steps - lo
    return float((1 - f) * curve[lo - 1] + f * curve[hi - 1])


def smallest_fixed_t(curve: list, accuracy: float):
    """The smallest t whose fixed-T accuracy reaches ``accuracy`` (None: no t does)."""
    for t, acc in enumerate(curve, start=1):
        if acc >= accuracy - 1e-12:
            return t
    return None


def run_seed(seed: int, size: dict, work: str) -> dict:
    from loihi_snn import emulate
    from loihi_snn.core.cutoff import (calibrate, choose_epsilon, offline_cutoff,
                                       optimal_cutoff_steps)
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train

    t0 = time.time()
    cfg = config_for(size, seed)
    res = train(cfg, os.path.join(work, f"seed{seed}"), progress=False, verbose=False,
                lava=False)
    splits = load_data(cfg)
    out_train = emulate(res.net_path, splits.train.inputs)
    out_val = emulate(res.net_path, splits.val.inputs)
    out_test = emulate(res.net_path, splits.test.inputs)
    labels = splits.test.labels
    T = out_test.shape[-1]
    cum = np.cumsum(out_test, axis=-1)
    curve = [float((cum[..., t].argmax(1) == labels).mean()) for t in range(T)]
    cal, val_sweep = choose_epsilon(out_train, splits.train.labels, out_val, splits.val.labels,
                                    EPSILONS, tolerance=TOLERANCE)
    preds, steps = offline_cutoff(out_test, cal.beta)
    lava = run_cutoff(res.net_path, splits.test.inputs, beta=cal.beta, progress=False)
    same = bool((lava.predictions == preds).all() and (lava.steps == steps).all())
    acc = float((lava.predictions == labels).mean())
    mean_steps = float(lava.steps.mean())
    test_sweep = []
    for eps in EPSILONS:
        p, s = offline_cutoff(out_test, calibrate(out_train, splits.train.labels, eps).beta)
        test_sweep.append({"epsilon": eps, "accuracy": float((p == labels).mean()),
                           "mean_steps": float(s.mean())})
    oct_steps = optimal_cutoff_steps(out_test, labels)
    settled = oct_steps <= T
    return {"seed": seed, "best_epoch": res.best_epoch, "epsilon": cal.epsilon,
            "beta": [None if not np.isfinite(b) else float(b) for b in cal.beta],
            "fixed_T_accuracy": curve[-1], "fixed_t_curve": curve,
            "cutoff_accuracy": acc, "mean_steps": mean_steps, "speedup": T / mean_steps,
            "fixed_T_at_mean_steps": fixed_t_at(curve, mean_steps),
            "smallest_fixed_T_same_accuracy": smallest_fixed_t(curve, acc),
            "lava": {"samples": int(len(labels)), "equals_offline_rule": same,
                     "steps_per_second": round(float(lava.steps_per_second), 1),
                     "wall_seconds": round(float(lava.wall_seconds), 2)},
            "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
            "oct_settled_fraction": float(settled.mean()),
            "val_sweep": val_sweep, "test_sweep_not_used_for_selection": test_sweep,
            "calibration_samples": int(len(splits.train)),
            "validation_samples": int(len(splits.val)), "test_samples": int(len(labels)),
            "seconds": round(time.time() - t0, 1)}


def summarize(rows: list) -> dict:
    mean_ci = harness.mean_ci
    smallest = [r["smallest_fixed_T_same_accuracy"] for r in rows]
    return {
        "seeds": [r["seed"] for r in rows],
        "fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] for r in rows]),
        "epsilon": mean_ci([r["epsilon"] for r in rows]),
        "cutoff_accuracy": mean_ci([r["cutoff_accuracy"] for r in rows]),
        "mean_steps": mean_ci([r["mean_steps"] for r in rows]),
        "speedup": mean_ci([r["speedup"] for r in rows]),
        "fixed_T_at_mean_steps": mean_ci([r["fixed_T_at_mean_steps"] for r in rows]),
        "cutoff_minus_fixed_T_at_mean_steps": mean_ci(
            [r["cutoff_accuracy"] - r["fixed_T_at_mean_steps"] for r in rows]),
        "cutoff_minus_fixed_T_full": mean_ci([r["cutoff_accuracy"] - r["fixed_T_accuracy"]
                                              for r in rows]),
        "smallest_fixed_T_same_accuracy": mean_ci([s if s is not None else np.nan
                                                   for s in smallest]),
        "smallest_fixed_T_reached": [sum(s is not None for s in smallest), len(smallest)],
        "steps_saved_vs_smallest_fixed_T": mean_ci(
            [s - r["mean_steps"] for s, r in zip(smallest, rows) if s is not None]),
        "oct_mean_steps": mean_ci([r["oct_mean_steps_settled"] for r in rows]),
        "lava_steps_per_second": mean_ci([r["lava"]["steps_per_second"] for r in rows]),
        "lava_equals_offline_rule": all(r["lava"]["equals_offline_rule"] for r in rows),
    }


def verdicts(s: dict) -> dict:
    d = s["cutoff_minus_fixed_T_at_mean_steps"]
    out = {}
    if d["n"] >= 2:
        lo, hi = d["ci95"]
        word = ("yes" if lo > 0 else "no, fixed T is better" if hi < 0 else "not shown")
        out["the cutoff beats fixed T at equal mean steps"] = (
            f"{word}: {100 * d['mean']:+.1f} pts (95 % CI {100 * lo:+.1f} .. {100 * hi:+.1f})")
        g = s["steps_saved_vs_smallest_fixed_T"]
        if g["n"] >= 2:
            out["steps saved against the smallest fixed T of equal accuracy"] = (
                f"{g['mean']:.2f} steps per sample (95 % CI {g['ci95'][0]:.2f} .. "
                f"{g['ci95'][1]:.2f}; {s['smallest_fixed_T_reached'][0]} of "
                f"{s['smallest_fixed_T_reached'][1]} seeds reach the cutoff's accuracy at "
                f"some T <= {T_STEPS})")
        c = s["cutoff_minus_fixed_T_full"]
        out["accuracy cost against all T steps"] = (
            f"{100 * c['mean']:+.1f} pts (95 % CI {100 * c['ci95'][0]:+.1f} .. "
            f"{100 * c['ci95'][1]:+.1f}) for {s['speedup']['mean']:.2f}x fewer steps")
    return out


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    s = summarize(rows)
    v = verdicts(s)
    main = Table("Cutoff vs fixed T on the test split (mean ± std over seeds)",
                 ["seeds", "fixed-T acc (T=16)", "epsilon (chosen on validation)",
                  "cutoff acc (Lava)", "mean steps (Lava)", "fewer steps than T",
                  "fixed-T acc at equal mean steps", "smallest fixed T with the same acc",
                  "OCT (oracle)"])
    reached = s["smallest_fixed_T_reached"]
    main.rows.append([len(rows), pm(s["fixed_T_accuracy"]), pm(s["epsilon"]),
                      pm(s["cutoff_accuracy"]), pm(s["mean_steps"], fmt=".2f"),
                      pm(s["speedup"], fmt=".2f") + "x", pm(s["fixed_T_at_mean_steps"]),
                      pm(s["smallest_fixed_T_same_accuracy"], fmt=".1f")
                      + ("" if reached[0] == reached[1] else f" ({reached[0]} of {reached[1]})"),
                      pm(s["oct_mean_steps"], fmt=".2f")])
    per_seed = Table("Per seed", ["seed", "epsilon", "fixed-T acc", "cutoff acc (Lava)",
                                  "mean steps (Lava)", "fixed-T acc at equal mean steps",
                                  "smallest fixed T with the same acc",
                                  "Lava == offline rule", "Lava steps/s"])
    for r in rows:
        per_seed.rows.append([r["seed"], r["epsilon"], r["fixed_T_accuracy"], r["cutoff_accuracy"],
                              f"{r['mean_steps']:.2f}", r["fixed_T_at_mean_steps"],
                              r["smallest_fixed_T_same_accuracy"] or "never",
                              r["lava"]["equals_offline_rule"],
                              f"{r['lava']['steps_per_second']:.0f}"])
    curve = Table("Fixed-T accuracy per t (mean over seeds): stop every sample at t",
                  ["t"] + [str(t) for t in range(1, T_STEPS + 1)])
    curve.rows.append(["accuracy"] + [float(x) for x in np.mean([r["fixed_t_curve"]
                                                                   for r in rows], 0)])
    text = [
        f"Network: 64-128-10 binary LIF {NEURON}, rate-coded digits, T={T_STEPS}, "
        f"cross-entropy on the output spike counts, Adam lr 0.01, batch 32, {size['epochs']} "
        f"epochs (best on validation).  Per seed: "
        f"{rows[0]['calibration_samples']} calibration / {rows[0]['validation_samples']} "
        f"validation / {rows[0]['test_samples']} test digits.",
        f"Epsilon grid {list(EPSILONS)}; chosen on the validation split only (largest epsilon "
        f"within {100 * TOLERANCE:g} point of the validation fixed-T accuracy).  Cutoff "
        "accuracy and mean steps are the Lava cutoff controller's (lava-fixed, the whole test "
        "split in one run per seed); its decisions equal the offline rule on the emulator's "
        f"outputs for every seed: {s['lava_equals_offline_rule']}.",
        "*fixed-T acc at equal mean steps*: the fixed-T accuracy interpolated between "
        "floor and ceil of the cutoff's mean steps (what running each sample for floor or "
        "ceil steps, mixed to the same mean, achieves).  *smallest fixed T with the same "
        "acc*: the fewest steps t at which stopping every sample reaches the cutoff's accuracy.",
        "**Verdicts.** " + " ".join(f"{k}: {x}." for k, x in v.items()),
        f"Wall time {wall / 60:.1f} min.",
    ]
    harness.write_result("cutoff", study=study, title="Top-K cutoff against fixed T: digits "
                         "LIF, T=16 (epsilon chosen on validation)", tables=[main, per_seed, curve],
                         data={"size": args.size, "sizes": size, "neuron": NEURON,
                               "epsilons": list(EPSILONS), "tolerance": TOLERANCE, "verdicts": v,
                               "summary": s, "rows": rows, "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/cutoff/cutoff.{json,md}")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    study = harness.Study("cutoff", argv)     # the revision and machine this run started from
    harness.start()
    size = dict(SIZES[args.size])
    if args.seeds is not None:
        size["seeds"] = args.seeds

    def line(r):
        return (f"seed {r['seed']}: eps {r['epsilon']:g} | fixed-T acc {r['fixed_T_accuracy']:.3f} "
                f"| Lava cutoff acc {r['cutoff_accuracy']:.3f} in {r['mean_steps']:.2f} steps "
                f"(== offline rule: {r['lava']['equals_offline_rule']}) | fixed T at equal steps "
                f"{r['fixed_T_at_mean_steps']:.3f} | smallest fixed T with that acc "
                f"{r['smallest_fixed_T_same_accuracy']} | {r['seconds']} s")

    with harness.work_folder(args.work, "cutoff-") as work:
        rows = study.run(range(args.seed, args.seed + size["seeds"]),
                         lambda seed: run_seed(seed, size, work),
                         lambda rows, status, wall: write(rows, args, size, status, wall, study),
                         line)
    ok = all(r["lava"]["equals_offline_rule"] for r in rows)
    print(f"results: {os.path.join(args.out, 'cutoff', 'cutoff.md')}")
    print(f"cutoff: {'OK' if ok else 'FAILED'} ({len(rows)} seeds; Lava controller == offline "
          f"rule on every test sample)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Tutorial 5: early exit with the Top-K cutoff, calibrated per step, run on Lava.

    python tutorials/05_cutoff.py [--net NET.net] [--size small|full] [--out DIR]

1. Records the network's output spikes on training digits (one Lava run, reset between
   samples) and calibrates the per-step thresholds beta_t for several tolerances eps.
2. Sweeps eps offline on the test outputs: accuracy against mean steps, beside
   fixed-T accuracy (stopping every sample at t) and the oracle OCT.
3. Runs the chosen eps on Lava with the cutoff controller (one run for the whole test
   set) and checks that its decisions equal the offline rule.
4. Stores the chosen calibration in a copy of the network (``/cutoff`` group).

Default network: ``netx_models/digits_cuba/digits_cuba.net`` (rate-coded digits, T=16).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_NET = os.path.join(ROOT, "netx_models", "digits_cuba", "digits_cuba.net")
SIZES = {"small": {"train": 120, "test": 60, "eps": [0.0, 0.05, 0.2]},
         "full": {"train": 1438, "test": 359, "eps": [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2]}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--net", default=DEFAULT_NET, help="NetX network trained on digits "
                   "(default: the shipped digits_cuba model)")
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="small: a few samples (CI); full: whole digits splits")
    p.add_argument("--T", type=int, default=16, help="steps per sample (the model's T)")
    p.add_argument("--encoding", default="rate", help="digits encoding used in training")
    p.add_argument("--seed", type=int, default=0, help="encoding seed (default 0)")
    p.add_argument("--epsilon", type=float, default=0.05,
                   help="tolerance run on Lava with the controller (default 0.05)")
    p.add_argument("--out", default=os.path.join(ROOT, "tutorials", "results"),
                   help="where to write cutoff.md, cutoff.json and cutoff.png")
    args = p.parse_args(argv)

    from loihi_snn.core.cutoff import calibrate, offline_cutoff, optimal_cutoff_steps
    from loihi_snn.netx.calibration import store_calibration
    from loihi_snn.core.lavadl import ensure_lava_runtime
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff
    from loihi_snn.sim.runtime.stream import run_many
    from loihi_snn.train.datasets import load_dataset

    ensure_lava_runtime()
    size = SIZES[args.size]
    if not os.path.exists(args.net):
        p.error(f"network not found: {args.net}")
    os.makedirs(args.out, exist_ok=True)
    train = load_dataset("digits", "train", T=args.T, encoding=args.encoding, seed=args.seed,
                         limit=size["train"])
    test = load_dataset("digits", "test", T=args.T, encoding=args.encoding, seed=args.seed,
                        limit=size["test"])
    t0 = time.time()
    print(f"[1/4] output spikes on {len(train)} training and {len(test)} test digits (Lava)")
    out_train = run_many(args.net, train.inputs)
    out_test = run_many(args.net, test.inputs)
    T = out_test.shape[-1]

    print("[2/4] calibration and the eps sweep (offline rule on the Lava outputs)")
    cum = np.cumsum(out_test, axis=-1)
    fixed_t = [float((cum[..., t].argmax(1) == test.labels).mean()) for t in range(T)]
    oct_steps = optimal_cutoff_steps(out_test, test.labels)
    settled = oct_steps <= T
    rows = []
    for eps in size["eps"]:
        cal = calibrate(out_train, train.labels, epsilon=eps)
        preds, steps = offline_cutoff(out_test, cal.beta)
        rows.append({"epsilon": eps, "accuracy": float((preds == test.labels).mean()),
                     "mean_steps": float(steps.mean()), "speedup": T / float(steps.mean())})
        print(f"  eps={eps:<5} accuracy {rows[-1]['accuracy']:.3f}  mean steps "
              f"{rows[-1]['mean_steps']:.2f} ({rows[-1]['speedup']:.2f}x fewer than T={T})")

    print(f"[3/4] eps={args.epsilon} on Lava with the cutoff controller (one run)")
    cal = calibrate(out_train, train.labels, epsilon=args.epsilon)
    lava = run_cutoff(args.net, test.inputs, beta=cal.beta)
    preds, steps = offline_cutoff(out_test, cal.beta)
    same = bool((lava.predictions == preds).all() and (lava.steps == steps).all())
    lava_acc = float((lava.predictions == test.labels).mean())
    print(f"  Lava: accuracy {lava_acc:.3f}, mean steps {lava.mean_steps:.2f} "
          f"(fixed T={T}: {fixed_t[-1]:.3f}); equals the offline rule: {same}; "
          f"{lava.steps_per_second:.0f} steps/s")

    calibrated = os.path.join(args.out, "digits_cuba_cutoff.net")
    shutil.copyfile(args.net, calibrated)
    store_calibration(calibrated, cal, dataset="digits", encoding=args.encoding, T=T)
    print(f"[4/4] calibrated network written to {calibrated}")

    report = {"command": " ".join([os.path.basename(sys.argv[0])] + list(argv or sys.argv[1:])),
              "net": os.path.relpath(args.net, ROOT), "size": args.size, "seed": args.seed,
              "T": T, "train_samples": len(train), "test_samples": len(test),
              "fixed_T_accuracy": fixed_t, "oct_mean_steps_settled": float(oct_steps[settled].mean())
              if settled.any() else None, "oct_settled_fraction": float(settled.mean()),
              "sweep": rows, "lava": {"epsilon": args.epsilon, "accuracy": lava_acc,
                                      "mean_steps": lava.mean_steps,
                                      "equals_offline_rule": same,
                                      "steps_per_second": lava.steps_per_second},
              "wall_seconds": round(time.time() - t0, 1)}
    with open(os.path.join(args.out, "cutoff.json"), "w") as f:
        json.dump(report, f, indent=2)
    _plot(os.path.join(args.out, "cutoff.png"), rows, fixed_t, oct_steps, settled, test.labels)
    _markdown(os.path.join(args.out, "cutoff.md"), report)
    print(f"results: {args.out}/cutoff.md, cutoff.json, cutoff.png")
    return 0


def _plot(path, rows, fixed_t, oct_steps, settled, labels):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    T = len(fixed_t)
    ax.plot(np.arange(1, T + 1), fixed_t, "o-", ms=3, label="fixed T (stop every sample at t)")
    ax.plot([r["mean_steps"] for r in rows], [r["accuracy"] for r in rows], "s-",
            label="Top-K cutoff, eps sweep")
    for r in rows:
        ax.annotate(f"{r['epsilon']:g}", (r["mean_steps"], r["accuracy"]), fontsize=7,
                    xytext=(3, -8), textcoords="offset points")
    if settled.any():
        ax.axvline(float(oct_steps[settled].mean()), color="gray", ls="--",
                   label="OCT (oracle), mean over settled samples")
    ax.set_xlabel("mean steps per sample")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _markdown(path, r):
    lines = [f"# Cutoff on {r['net']}", "",
             f"Command: `python tutorials/{r['command']}` (size {r['size']}, seed {r['seed']}, "
             f"T={r['T']}, {r['train_samples']} calibration / {r['test_samples']} test samples).",
             "", "| eps | accuracy | mean steps | fewer steps than T |", "|---|---|---|---|"]
    for row in r["sweep"]:
        lines.append(f"| {row['epsilon']} | {row['accuracy']:.3f} | {row['mean_steps']:.2f} | "
                     f"{row['speedup']:.2f}x |")
    lines += ["", f"Fixed T={r['T']} accuracy: {r['fixed_T_accuracy'][-1]:.3f}.  OCT (oracle): "
              f"mean {r['oct_mean_steps_settled']} steps over the {r['oct_settled_fraction']:.1%} "
              f"of samples that settle on the right class.",
              "", f"On Lava with the controller (eps={r['lava']['epsilon']}): accuracy "
              f"{r['lava']['accuracy']:.3f}, mean steps {r['lava']['mean_steps']:.2f}, "
              f"decisions equal to the offline rule: {r['lava']['equals_offline_rule']}, "
              f"{r['lava']['steps_per_second']:.0f} steps/s.", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())

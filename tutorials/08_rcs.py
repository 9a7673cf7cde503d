"""Tutorial 8: does training with the RCS regulariser make the Top-K cutoff stop sooner?

    python tutorials/08_rcs.py [--size small|medium|full] [--seed S] [--out DIR]

For each seed, trains LIF networks on the same rate-coded digits (T=16) with the same
seed, epochs and optimiser -- one without RCS (weight 0) and one per RCS weight --
exports each to NetX, calibrates the per-step cutoff thresholds on the whole training
split (outputs from the bit-exact emulator) and measures on the test split:

* fixed-T accuracy (every sample runs all T steps);
* the Top-K cutoff at the main tolerance eps, run on Lava with the cutoff controller
  (one Lava run for the whole test set): accuracy, mean steps per sample, and whether
  its decisions equal the offline rule on the emulator's outputs;
* an eps sweep with the offline rule (emulator outputs): accuracy against mean steps;
* the oracle OCT (first step from which a sample stays right), and the mean cosine
  similarity cs between each layer's early and late representation (what RCS raises).

Seeds 0.. S-1 (``--seeds``, default by size) are run and reported as mean +- std, and
the per-seed difference in mean steps against the weight-0 network of the same seed.
Writes ``rcs.md``, ``rcs.json`` and ``rcs.png`` (accuracy vs mean steps over the eps
sweep, one curve per RCS weight) to ``--out``.

Sizes: ``small`` (CI, < 1 min): 240 training / 60 test digits, 2 epochs, one weight;
``medium`` (2 seeds x weights 0, 0.1, 1; 6 epochs; ~15 min on 2 CPU cores) and
``full`` (3 seeds x weights 0, 0.001, 0.1, 1; 10 epochs; ~35 min) use the whole
digits splits.
RCS: Wu et al., "Optimising Event-Driven SNN with Regularisation and Cutoff" (2025);
see docs ALGORITHMS.md section 4 and ``loihi_snn/train/rcs.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T_STEPS = 16
SIZES = {
    "small": {"train_limit": 240, "test_limit": 60, "hidden": 32, "epochs": 2,
              "weights": [1.0], "seeds": 1, "eps": [0.0, 0.05, 0.1], "main_eps": 0.05},
    "medium": {"train_limit": None, "test_limit": None, "hidden": 128, "epochs": 6,
               "weights": [0.1, 1.0], "seeds": 2,
               "eps": [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2], "main_eps": 0.03},
    "full": {"train_limit": None, "test_limit": None, "hidden": 128, "epochs": 10,
             "weights": [0.001, 0.1, 1.0], "seeds": 3,
             "eps": [0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2], "main_eps": 0.03},
}
NEURON = {"type": "lif", "threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03}


LOSSES = {"spike_rate": {"type": "spike_rate", "true_rate": 0.4, "false_rate": 0.02},
          "cross_entropy": {"type": "cross_entropy", "scale": 1.0}}


def config_for(weight: float, size: dict, seed: int, loss: str = "spike_rate"):
    from loihi_snn.train.config import TrainConfig
    return TrainConfig(
        name=f"digits_lif_rcs{weight:g}".replace(".", "p"), dataset="digits", encoding="rate",
        T=T_STEPS, train_limit=size["train_limit"], test_limit=size["test_limit"],
        val_fraction=0.1,
        architecture=[{"type": "dense", "out": size["hidden"]}, {"type": "dense"}],
        neuron=dict(NEURON), optimizer={"type": "adam", "lr": 0.01},
        epochs=size["epochs"], batch_size=32, seed=seed, device="cpu", rcs_weight=weight,
        loss=dict(LOSSES[loss]))


def layer_similarity(checkpoint: str, inputs: np.ndarray) -> list:
    """Mean over samples of cs = mean_t cos(r(t), r_d) per spiking layer (float forward)."""
    import torch

    from loihi_snn.train import rcs
    from loihi_snn.train.checkpoint import load_checkpoint
    model, _ = load_checkpoint(checkpoint)
    model.train()                       # float forward with voltage recording
    rcs.enable_recording(model.blocks)
    with torch.no_grad():
        model(torch.from_numpy(inputs).float())
    out = []
    for s, v, th in rcs.collect(model.blocks):
        N, T = s.shape[0], s.shape[-1]
        r = s.reshape(N, -1, T) + torch.relu(v.reshape(N, -1, T) / th)
        r_d = r[..., -rcs.tail_length(T):].mean(dim=-1, keepdim=True)
        out.append(float(rcs.cosine(r, r_d).mean()))
    return out


def evaluate_model(res, weight, seed, size, train, test, eps_list, main_eps) -> dict:
    from loihi_snn import emulate
    from loihi_snn.core.cutoff import calibrate, offline_cutoff, optimal_cutoff_steps
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff

    out_train = emulate(res.net_path, train.inputs)
    out_test = emulate(res.net_path, test.inputs)
    T = out_test.shape[-1]
    cum = np.cumsum(out_test, axis=-1)
    fixed_t = [float((cum[..., t].argmax(1) == test.labels).mean()) for t in range(T)]
    oct_steps = optimal_cutoff_steps(out_test, test.labels)
    settled = oct_steps <= T
    sweep = []
    for eps in eps_list:
        cal = calibrate(out_train, train.labels, epsilon=eps)
        preds, steps = offline_cutoff(out_test, cal.beta)
        sweep.append({"epsilon": eps, "accuracy": float((preds == test.labels).mean()),
                      "mean_steps": float(steps.mean())})
    cal = calibrate(out_train, train.labels, epsilon=main_eps)
    preds, steps = offline_cutoff(out_test, cal.beta)
    lava = run_cutoff(res.net_path, test.inputs, beta=cal.beta, progress=False)
    same = bool((lava.predictions == preds).all() and (lava.steps == steps).all())
    card = res.card.get("results", res.card)
    return {
        "weight": weight, "seed": seed, "net": res.net_path,
        "best_epoch": res.best_epoch, "train_seconds": round(res.wall_seconds, 1),
        "torch_accuracy": card["torch"]["test_accuracy"],
        "fixed_T_accuracy": fixed_t[-1], "fixed_t_curve": fixed_t,
        "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
        "oct_settled_fraction": float(settled.mean()),
        "cs_per_layer": layer_similarity(res.checkpoint, test.inputs),
        "output_spikes_per_sample": float(out_test.sum() / len(out_test)),
        "beta": [None if not np.isfinite(b) else float(b) for b in cal.beta],
        "sweep": sweep,
        "lava": {"epsilon": main_eps, "accuracy": float((lava.predictions == test.labels).mean()),
                 "mean_steps": lava.mean_steps, "equals_offline_rule": same,
                 "steps_per_second": round(lava.steps_per_second, 1)},
    }


def steps_at_accuracy(sweep: list, target: float) -> float:
    """Fewest mean steps over the eps sweep among points with accuracy >= target (nan: none)."""
    ok = [r["mean_steps"] for r in sweep if r["accuracy"] >= target - 1e-12]
    return float(min(ok)) if ok else float("nan")


def summarize(rows: list, weights: list) -> list:
    """Per weight: mean and std over seeds, and paired differences against weight 0."""
    base = {r["seed"]: r for r in rows if r["weight"] == 0.0}
    out = []
    for w in [0.0] + list(weights):
        rs = [r for r in rows if r["weight"] == w]
        if not rs:
            continue

        def ms(vals):
            vals = np.asarray([v for v in vals if v is not None and np.isfinite(v)], float)
            if not len(vals):
                return [float("nan"), float("nan")]
            return [float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0]
        matched = [steps_at_accuracy(r["sweep"], base[r["seed"]]["lava"]["accuracy"])
                   for r in rs if r["seed"] in base]
        out.append({
            "weight": w, "seeds": [r["seed"] for r in rs],
            "fixed_T_accuracy": ms([r["fixed_T_accuracy"] for r in rs]),
            "cutoff_accuracy": ms([r["lava"]["accuracy"] for r in rs]),
            "mean_steps": ms([r["lava"]["mean_steps"] for r in rs]),
            "delta_steps_vs_0": ms([r["lava"]["mean_steps"] - base[r["seed"]]["lava"]["mean_steps"]
                                    for r in rs if r["seed"] in base]),
            "delta_accuracy_vs_0": ms([r["lava"]["accuracy"] - base[r["seed"]]["lava"]["accuracy"]
                                       for r in rs if r["seed"] in base]),
            "steps_at_baseline_accuracy": ms(matched),
            "baseline_accuracy_reached": [int(np.isfinite(matched).sum()), len(matched)],
            "oct_mean_steps": ms([r["oct_mean_steps_settled"] for r in rs]),
            "cs_output_layer": ms([r["cs_per_layer"][-1] for r in rs]),
            "output_spikes_per_sample": ms([r["output_spikes_per_sample"] for r in rs]),
            "fixed_t_curve": np.mean([r["fixed_t_curve"] for r in rs], axis=0).tolist(),
            "cs_hidden_layer": ms([r["cs_per_layer"][0] for r in rs]),
            "equals_offline_rule": all(r["lava"]["equals_offline_rule"] for r in rs),
            "sweep": [{"epsilon": e,
                       "accuracy": ms([r["sweep"][i]["accuracy"] for r in rs]),
                       "mean_steps": ms([r["sweep"][i]["mean_steps"] for r in rs])}
                      for i, e in enumerate(r["epsilon"] for r in rs[0]["sweep"])],
        })
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="small: seconds (CI); medium: ~15 min; full: the committed study "
                        "(~35 min on a 2-core CPU)")
    p.add_argument("--seed", type=int, default=0,
                   help="first training seed (seeds SEED .. SEED+seeds-1; default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--weights", default=None,
                   help="comma-separated RCS weights besides 0 (default by size)")
    p.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    p.add_argument("--reduction", choices=("max", "mean"), default="max",
                   help="RCS over the qualifying samples: max (paper, default) or mean")
    p.add_argument("--reference", choices=("tail", "all"), default="tail",
                   help="r_d: mean of r over the last 30%% of the steps (default) or over all "
                        "T (the authors' snncutoff code)")
    p.add_argument("--hidden-only", action="store_true",
                   help="leave the output layer out of RCS")
    p.add_argument("--name", default="rcs",
                   help="stem of the result files (default rcs: rcs.md, rcs.json, rcs.png)")
    p.add_argument("--loss", choices=tuple(LOSSES), default="spike_rate",
                   help="task loss: SLAYER's spike_rate (default) or cross_entropy on the "
                        "output spike counts (what the RCS authors' weights were set beside)")
    p.add_argument("--out", default=os.path.join(ROOT, "tutorials", "results"),
                   help="directory for rcs.{md,json,png} and the trained models (models/rcs/)")
    args = p.parse_args(argv)

    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()            # before torch / tqdm create a multiprocessing context
    from loihi_snn.train import rcs
    from loihi_snn.train.datasets import load_dataset
    from loihi_snn.train.loop import train
    from loihi_snn.train.regularizers import REGULARIZERS

    variant = {"reduction": args.reduction, "reference": args.reference,
               "hidden_only": args.hidden_only}
    REGULARIZERS["rcs"] = rcs.make_regularizer(**variant)

    size = dict(SIZES[args.size])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    if args.weights is not None:
        size["weights"] = [float(w) for w in args.weights.split(",") if w.strip()]
    if args.seeds is not None:
        size["seeds"] = args.seeds
    seeds = list(range(args.seed, args.seed + size["seeds"]))
    os.makedirs(args.out, exist_ok=True)
    t_all = time.time()
    rows = []
    for seed in seeds:
        # calibration: the whole training split (the trainer's validation hold-out included)
        train_set = load_dataset("digits", "train", T=T_STEPS, encoding="rate", seed=seed,
                                 limit=size["train_limit"])
        test_set = load_dataset("digits", "test", T=T_STEPS, encoding="rate", seed=seed,
                                limit=size["test_limit"])
        for w in [0.0] + size["weights"]:
            t0 = time.time()
            cfg = config_for(w, size, seed, args.loss)
            res = train(cfg, os.path.join(args.out, "models", args.name, f"seed{seed}_w{w:g}"),
                        progress=False, verbose=False, lava=False)
            row = evaluate_model(res, w, seed, size, train_set, test_set, size["eps"],
                                 size["main_eps"])
            row["net"] = os.path.relpath(row["net"], args.out)
            row["seconds"] = round(time.time() - t0, 1)
            rows.append(row)
            print(f"seed {seed} weight {w:<5g} fixed-T acc {row['fixed_T_accuracy']:.3f} | "
                  f"Lava cutoff (eps {size['main_eps']}): acc {row['lava']['accuracy']:.3f}, "
                  f"mean steps {row['lava']['mean_steps']:.2f} | OCT "
                  f"{row['oct_mean_steps_settled'] or float('nan'):.2f} | cs "
                  + "/".join(f"{c:.3f}" for c in row["cs_per_layer"])
                  + f" | {row['seconds']} s", flush=True)
    summary = summarize(rows, size["weights"])
    report = {
        "command": "python tutorials/08_rcs.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "size": args.size, "seeds": seeds, "epochs": size["epochs"], "hidden": size["hidden"],
        "T": T_STEPS, "weights": size["weights"], "main_epsilon": size["main_eps"],
        "train_limit": size["train_limit"], "test_limit": size["test_limit"],
        "test_samples": len(test_set), "calibration_samples": len(train_set),
        "neuron": NEURON,
        "rcs": {"regularizer": "loihi_snn.train.rcs.make_regularizer", **variant},
        "loss": args.loss,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores (shared), torch CPU",
        "wall_seconds": round(time.time() - t_all, 1), "summary": summary, "rows": rows}
    stem = os.path.join(args.out, args.name)
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=2)
    _markdown(stem + ".md", report)
    _plot(stem + ".png", report)
    base = summary[0]
    best = min(summary[1:], key=lambda s: s["mean_steps"][0]) if len(summary) > 1 else base
    ok = (len(rows) == len(seeds) * (1 + len(size["weights"])) and
          all(r["lava"]["equals_offline_rule"] for r in rows))
    print(f"results: {stem}.md, .json, .png ({report['wall_seconds']} s)")
    print(f"rcs: {'OK' if ok else 'FAILED'}: mean steps without RCS {base['mean_steps'][0]:.2f}, "
          f"with RCS (weight {best['weight']:g}) {best['mean_steps'][0]:.2f}; accuracy "
          f"{base['cutoff_accuracy'][0]:.3f} vs {best['cutoff_accuracy'][0]:.3f}")
    return 0 if ok else 1


def _pm(v, fmt=".3f"):
    sd = fmt.lstrip("+")
    return f"{v[0]:{fmt}}" if v[1] == 0 or not np.isfinite(v[1]) else f"{v[0]:{fmt}} ± {v[1]:{sd}}"


def _reached(s):
    k, n = s.get("baseline_accuracy_reached", [1, 1])
    if k == 0:
        return f"never (0 of {n} seeds)"
    text = _pm(s["steps_at_baseline_accuracy"], ".2f")
    return text if k == n else f"{text} ({k} of {n} seeds)"


def _loss_name(r) -> str:
    return ("cross-entropy loss on the output spike counts"
            if r.get("loss") == "cross_entropy" else "spike-rate loss")


def _markdown(path, r):
    n = len(r["seeds"])
    v = r["rcs"]
    lines = [
        "# RCS regulariser against the cutoff: digits, LIF, T=16", "",
        f"Command: `{r['command']}`; seeds {', '.join(map(str, r['seeds']))}; {r['epochs']} "
        f"epochs; 64-{r['hidden']}-10 LIF ({', '.join(f'{k} {v}' for k, v in r['neuron'].items() if k != 'type')}); "
        f"rate code, T={r['T']}; Adam lr 0.01, batch 32, {_loss_name(r)}; "
        f"{r['calibration_samples']} calibration (training split) / {r['test_samples']} test digits; "
        f"machine: {r['machine']}; wall time {r['wall_seconds']:.0f} s "
        f"({r['wall_seconds'] / 60:.1f} min).", "",
        f"Each seed trains every model on the same encoded data with the same seed and "
        f"epochs; the weight-0 model is the baseline.  Cutoff columns: the Lava cutoff "
        f"controller (one Lava run over the test set, lava-fixed) at eps = "
        f"{r['main_epsilon']}, thresholds calibrated on the training split with the 100-bin "
        f"rule on the bit-exact emulator's outputs.  Values are mean ± std over "
        f"{n} seed{'s' if n > 1 else ''}; Δ columns are per-seed differences against the "
        f"baseline of the same seed.  RCS as in `loihi_snn/train/rcs.py`: r_d over "
        f"{'the last 30 % of the steps' if v['reference'] == 'tail' else 'all T steps'}, "
        f"{v['reduction']} over the qualifying samples, "
        f"{'hidden layer only' if v['hidden_only'] else 'hidden and output layer'}; weight x "
        f"RCS added to the {_loss_name(r)}.", "",
        "| RCS weight | fixed-T acc | cutoff acc (Lava) | mean steps (Lava) | Δ steps vs 0 | "
        "Δ acc vs 0 | steps at baseline's cutoff acc (eps sweep) | OCT (oracle) | cs output | "
        "cs hidden | output spikes/sample |",
        "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in r["summary"]:
        lines.append(
            f"| {s['weight']:g} | {_pm(s['fixed_T_accuracy'])} | {_pm(s['cutoff_accuracy'])} | "
            f"{_pm(s['mean_steps'], '.2f')} | {_pm(s['delta_steps_vs_0'], '+.2f')} | "
            f"{_pm(s['delta_accuracy_vs_0'], '+.3f')} | {_reached(s)} | "
            f"{_pm(s['oct_mean_steps'], '.2f')} | {_pm(s['cs_output_layer'])} | "
            f"{_pm(s['cs_hidden_layer'])} | {_pm(s['output_spikes_per_sample'], '.1f')} |")
    lines += ["", "Lava decisions equal the offline rule on the emulator's outputs for every "
              f"model: {all(s['equals_offline_rule'] for s in r['summary'])}.", "",
              "*steps at baseline's cutoff acc*: the fewest mean steps over the eps sweep "
              "(offline rule, emulator outputs) among the points whose accuracy is at least "
              "the baseline's Lava cutoff accuracy of the same seed (mean over the seeds that "
              "reach it).  "
              "*OCT*: mean over the test samples that settle on the right class.  *cs*: "
              "mean over test samples and steps of cos(r(t), r_d), r = s + ReLU(u/V_th), r_d "
              "the mean of the last 30 % of the steps (float forward) -- what RCS raises.", "",
              "## eps sweep (offline rule on the emulator's outputs, mean over seeds)", "",
              "| RCS weight | " + " | ".join(f"eps {row['epsilon']:g}" for row in r["summary"][0]["sweep"])
              + " |", "|---|" + "---|" * len(r["summary"][0]["sweep"])]
    for s in r["summary"]:
        lines.append(f"| {s['weight']:g} | " + " | ".join(
            f"{row['accuracy'][0]:.3f} @ {row['mean_steps'][0]:.2f}" for row in s["sweep"]) + " |")
    lines += ["", "Cells: accuracy @ mean steps.", "", "## per seed", "",
              "| seed | RCS weight | fixed-T acc | Lava cutoff acc | Lava mean steps | OCT | best epoch |",
              "|---|---|---|---|---|---|---|"]
    for row in r["rows"]:
        lines.append(f"| {row['seed']} | {row['weight']:g} | {row['fixed_T_accuracy']:.3f} | "
                     f"{row['lava']['accuracy']:.3f} | {row['lava']['mean_steps']:.2f} | "
                     f"{row['oct_mean_steps_settled'] or float('nan'):.2f} | {row['best_epoch']} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _plot(path, r):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, s in enumerate(r["summary"]):
        xs = [row["mean_steps"][0] for row in s["sweep"]]
        ys = [row["accuracy"][0] for row in s["sweep"]]
        ax.plot(xs, ys, "o-", color=f"C{i}", ms=4, label=f"RCS weight {s['weight']:g}")
        for row, x, y in zip(s["sweep"], xs, ys):
            ax.annotate(f"{row['epsilon']:g}", (x, y), fontsize=6, xytext=(2, -7),
                        textcoords="offset points", color=f"C{i}")
        ax.plot([s["mean_steps"][0]], [s["cutoff_accuracy"][0]], "*", color=f"C{i}", ms=11,
                mec="k", mew=0.5)
        ax.plot(np.arange(1, r["T"] + 1), s["fixed_t_curve"], ":", color=f"C{i}", lw=1,
                label="dotted: every sample stopped at t (same colour)" if i == 0 else None)
    ax.set_xlabel("mean steps per sample (T = %d)" % r["T"])
    ax.set_xlim(0.5, r["T"] + 0.5)
    lo = min(min(row["accuracy"][0] for row in s["sweep"]) for s in r["summary"])
    ax.set_ylim(max(0.0, lo - 0.15), 1.0)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Top-K cutoff, eps sweep (labels); star: Lava run at eps {r['main_epsilon']}"
                 f"\nmean over seeds {', '.join(map(str, r['seeds']))}", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

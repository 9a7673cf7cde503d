"""Tutorial 2: which LIF components matter? leak x reset x recurrence on MNIST-1D.

    python tutorials/02_lif_variants.py [--size small|full] [--seed S] [--out DIR]

Trains all 2 x 3 x 2 = 12 combinations of
  leak (on: voltage decays; off: integrate-and-fire),
  reset (hard: to 0; soft: subtract threshold; none),
  recurrence (a trained recurrent weight on the hidden layer, or feed-forward)
at equal size and T on MNIST-1D fed one value per step (the data set is generated
locally), then reports for each: accuracy in torch (SLAYER quantized forward) and on
Lava fixed point, spikes per sample, and accuracy under Gaussian input noise (run
bit-exactly on the exported network).  Writes ``lif_variants.md``, ``.json`` and
``.png`` to ``--out``; the README quotes the table.  Paper: Yin et al. 2024
(arXiv 2403.16674) -- leak trades memory for robustness, reset matters for
efficiency, recurrence adds capacity at a cost of robustness.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {
    "small": {"train_limit": 64, "test_limit": 16, "epochs": 1, "hidden": 8,
              "lava_limit": 2, "noise": [0.5]},
    "medium": {"train_limit": 2000, "test_limit": 500, "epochs": 6, "hidden": 32,
               "lava_limit": 50, "noise": [0.5, 1.0]},
    "full": {"train_limit": 4000, "test_limit": 1000, "epochs": 15, "hidden": 64,
             "lava_limit": 200, "noise": [0.25, 0.5, 1.0]},
}
INPUT_SCALE = 4


def config_for(leak: bool, reset: str, recurrent: bool, size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    tag = f"{'leak' if leak else 'noleak'}-{reset}-{'rec' if recurrent else 'ff'}"
    hidden = size["hidden"]
    return tag, TrainConfig(
        name=f"lif_{tag.replace('-', '_')}", dataset="mnist1d", encoding="direct", T=40,
        input_scale=INPUT_SCALE, train_limit=size["train_limit"], test_limit=size["test_limit"],
        val_fraction=0.1,
        architecture=[{"type": "dense", "out": hidden, "weight_scale": 2},
                      {"type": "recurrent" if recurrent else "dense", "out": hidden,
                       "weight_scale": 2},
                      {"type": "dense", "weight_scale": 2}],
        neuron={"type": "lif", "reset": reset, "leak": leak, "threshold": 1.0,
                "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.5, "scale_grad": 1.0},
        loss={"type": "spike_rate", "true_rate": 0.3, "false_rate": 0.02},
        optimizer={"type": "adam", "lr": 0.01},
        epochs=size["epochs"], batch_size=32, seed=seed, device="cpu",
        lava_limit=size["lava_limit"])


def noisy_accuracy(model, test, sigma: float, seed: int) -> float:
    """Accuracy with N(0, sigma * std(x)) added to the (unscaled) input.

    Runs the torch quantized forward, which is spike-for-spike what Lava fixed_pt
    computes (tests/parity/test_lif_variants.py; each model card records the agreement)."""
    from loihi_snn.train.verify import evaluate_model
    rng = np.random.default_rng(seed)
    x = test.inputs.astype(np.float64)
    noisy = x + rng.normal(0.0, sigma * x.std(), size=x.shape)
    X = np.round(noisy * INPUT_SCALE).astype(np.float32)
    return float((evaluate_model(model, X)["predictions"] == test.labels).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="small: seconds per model (CI); full: the committed study")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    p.add_argument("--only", default=None, help="comma-separated tags to run (e.g. leak-hard-ff)")
    p.add_argument("--out", default=os.path.join(ROOT, "tutorials", "results"),
                   help="directory for lif_variants.{md,json,png} and the trained models")
    args = p.parse_args(argv)

    from loihi_snn.core.lavadl import ensure_lava_runtime
    from loihi_snn.train.datasets import load_dataset
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.loop import train

    ensure_lava_runtime()
    size = dict(SIZES[args.size])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    os.makedirs(args.out, exist_ok=True)
    combos = list(itertools.product([True, False], ["hard", "soft", "none"], [False, True]))
    rows = []
    t_all = time.time()
    for leak, reset, recurrent in combos:
        tag, cfg = config_for(leak, reset, recurrent, size, args.seed)
        if args.only and tag not in args.only.split(","):
            continue
        t0 = time.time()
        res = train(cfg, os.path.join(args.out, "models", tag), progress=False, verbose=False)
        card = res.card.get("results", res.card)   # card layout: results may be nested
        test = load_dataset("mnist1d", "test", T=40, encoding="direct", seed=args.seed,
                            limit=size["test_limit"])
        model, _ = load_checkpoint(res.checkpoint)
        noise = {str(s): noisy_accuracy(model, test, s, args.seed) for s in size["noise"]}
        row = {"tag": tag, "leak": leak, "reset": reset, "recurrent": recurrent,
               "torch_accuracy": card["torch"]["test_accuracy"],
               "lava_accuracy": card["lava"].get("accuracy"),
               "lava_samples": card["lava"].get("samples"),
               "lava_prediction_agreement": card["lava"].get("agreement"),
               "lava_identical_output_spikes": card["lava"].get("identical_output_spikes"),
               "spikes_per_sample": card["spikes_per_sample"]["total"],
               "noise_accuracy": noise, "seconds": round(time.time() - t0, 1)}
        rows.append(row)
        print(f"{tag:18s} torch {row['torch_accuracy']:.3f}  lava {row['lava_accuracy']}  "
              f"spikes/sample {row['spikes_per_sample']:.0f}  noise "
              + " ".join(f"{k}:{v:.3f}" for k, v in noise.items()) + f"  ({row['seconds']} s)")
    report = {"command": "python tutorials/02_lif_variants.py " + " ".join(argv or sys.argv[1:]),
              "size": args.size, "seed": args.seed, "epochs": size["epochs"],
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "wall_seconds": round(time.time() - t_all, 1), "rows": rows}
    with open(os.path.join(args.out, "lif_variants.json"), "w") as f:
        json.dump(report, f, indent=2)
    _markdown(os.path.join(args.out, "lif_variants.md"), report, size)
    _plot(os.path.join(args.out, "lif_variants.png"), rows)
    print(f"results: {args.out}/lif_variants.md")
    return 0


def _markdown(path, r, size):
    noise_keys = list(r["rows"][0]["noise_accuracy"]) if r["rows"] else []
    head = "| leak | reset | recurrent | torch acc | Lava acc | spikes/sample | " + \
        " | ".join(f"acc, noise {k}" for k in noise_keys) + " |"
    lines = ["# LIF variants on MNIST-1D", "",
             f"Command: `{r['command']}`; seed {r['seed']}, {r['epochs']} epochs, "
             f"{size['train_limit']} training / {size['test_limit']} test sequences "
             f"(Lava on the first {size['lava_limit']}), hidden {size['hidden']}, T=40, "
             f"machine: {r['machine']}, {r['wall_seconds']} s.", "",
             f"Noise: Gaussian with std = level x std(input), added before the x{INPUT_SCALE} "
             "graded input scaling; accuracy of the quantized forward (spike-for-spike equal "
             "to Lava fixed_pt).  Lava accuracy: the first Lava samples only.", "",
             head, "|" + "---|" * (6 + len(noise_keys))]
    for row in r["rows"]:
        lines.append(f"| {'on' if row['leak'] else 'off'} | {row['reset']} | "
                     f"{'yes' if row['recurrent'] else 'no'} | {row['torch_accuracy']:.3f} | "
                     f"{row['lava_accuracy']:.3f} | {row['spikes_per_sample']:.0f} | "
                     + " | ".join(f"{row['noise_accuracy'][k]:.3f}" for k in noise_keys) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def _plot(path, rows):
    if not rows:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    labels = [r["tag"] for r in rows]
    x = np.arange(len(rows))
    axes[0].bar(x, [r["torch_accuracy"] for r in rows], color=["C0" if r["leak"] else "C1" for r in rows])
    axes[0].set_xticks(x, labels, rotation=70, fontsize=7)
    axes[0].set_ylabel("test accuracy (clean)")
    key = list(rows[0]["noise_accuracy"])[-1]
    axes[1].scatter([r["spikes_per_sample"] for r in rows], [r["noise_accuracy"][key] for r in rows],
                    c=["C0" if r["leak"] else "C1" for r in rows])
    for r in rows:
        axes[1].annotate(r["tag"], (r["spikes_per_sample"], r["noise_accuracy"][key]), fontsize=6)
    axes[1].set_xlabel("spikes per sample")
    axes[1].set_ylabel(f"accuracy, noise {key}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

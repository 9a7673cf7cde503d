"""End-to-end demo: train on digits with SLAYER, export to NetX, run on Lava, compare.

    python -m loihi_snn.demo [--out DIR] [--epochs N] [--lava-samples N] [--seed S]

Steps: scikit-learn's bundled 8x8 digits, rate-encoded over T steps -> a two-layer
CUBA network trained with lava-dl SLAYER (CPU is fine) -> exported atomically to
``DIR/digits_cuba.net`` -> the test samples streamed through one Lava fixed-point
run -> accuracy and spikes per sample for torch (SLAYER quantized eval forward)
and Lava side by side, plus plots (spike raster, per-layer firing rates, accuracy
against the number of steps).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np


def _build(hidden: int):
    import torch

    from loihi_snn.lavadl import lava_dl
    slayer = lava_dl().slayer
    neuron = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
              "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
    return torch.nn.ModuleList([
        slayer.block.cuba.Dense(neuron, 64, hidden, weight_scale=2, weight_norm=True),
        slayer.block.cuba.Dense(neuron, hidden, 10, weight_scale=2, weight_norm=True),
    ])


def _forward(blocks, x, hidden_out=None):
    for i, b in enumerate(blocks):
        x = b(x)
        if hidden_out is not None:
            hidden_out.append(x)
    return x


def train(args) -> tuple:
    """Train the SLAYER network; returns (blocks, test inputs, test labels, history)."""
    import torch
    from tqdm.auto import tqdm

    from loihi_snn.lavadl import lava_dl
    slayer = lava_dl().slayer

    from loihi_snn.train.datasets import load_dataset

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    train_ds = load_dataset("digits", "train", T=args.T, encoding="rate", seed=args.seed)
    test_ds = load_dataset("digits", "test", T=args.T, encoding="rate", seed=args.seed)
    blocks = _build(args.hidden)
    opt = torch.optim.Adam(blocks.parameters(), lr=args.lr)
    loss_fn = slayer.loss.SpikeRate(true_rate=0.4, false_rate=0.02, reduction="sum")
    loader = torch.utils.data.DataLoader(train_ds, batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(args.seed))
    history = []
    show = sys.stderr.isatty()
    for epoch in range(args.epochs):
        blocks.train()
        correct = total = 0
        loss_sum = 0.0
        it = tqdm(loader, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False, disable=not show)
        for x, y in it:
            out = _forward(blocks, x.float())
            loss = loss_fn(out, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            pred = out.sum(-1).argmax(1)
            correct += int((pred == y).sum())
            total += len(y)
            loss_sum += float(loss) * len(y)
            it.set_postfix(loss=f"{loss_sum / total:.3f}", acc=f"{correct / total:.3f}")
        history.append({"epoch": epoch + 1, "loss": loss_sum / total, "train_acc": correct / total})
        print(f"epoch {epoch + 1:2d}: loss {loss_sum / total:.4f}  train accuracy {correct / total:.3f}")
    return blocks, test_ds, history


def evaluate_torch(blocks, X: np.ndarray):
    """SLAYER eval (quantized) forward: output spikes (N, 10, T) and hidden spikes."""
    import torch
    blocks.eval()
    hidden = []
    with torch.no_grad():
        out = _forward(blocks, torch.from_numpy(X).float(), hidden)
    return out.numpy(), [h.numpy() for h in hidden]


def plots(out_dir, lava_out, labels, torch_hidden, T) -> list:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    # 1) spike raster of one sample: hidden and output layer
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
    for ax, spikes, name in zip(axes, (torch_hidden[0][0], lava_out[0]), ("hidden (torch)", "output (Lava)")):
        n, t = np.nonzero(spikes)
        ax.plot(t, n, "|", ms=4)
        ax.set_ylabel(name)
    axes[-1].set_xlabel("time step")
    axes[0].set_title(f"spike raster, test sample 0 (label {labels[0]})")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "raster.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    # 2) per-layer firing rates
    rates = [float(h.mean()) for h in torch_hidden]
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar([f"layer {i}" for i in range(len(rates))], rates)
    ax.set_ylabel("spikes / neuron / step")
    ax.set_title("firing rate per layer")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "firing_rates.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    # 3) accuracy vs steps (Lava output counted up to step t)
    counts = np.cumsum(lava_out, axis=-1)
    acc = [(counts[..., t].argmax(1) == labels).mean() for t in range(T)]
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(np.arange(1, T + 1), acc, marker="o")
    ax.set_xlabel("steps")
    ax.set_ylabel("accuracy (Lava)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.set_title("accuracy against inference steps")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "accuracy_vs_steps.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m loihi_snn.demo", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output directory (default demo_out)")
    p.add_argument("--epochs", type=int, default=15, help="training epochs (default 15)")
    p.add_argument("--T", type=int, default=16, help="time steps per sample (default 16)")
    p.add_argument("--hidden", type=int, default=128, help="hidden neurons (default 128)")
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate (default 0.01)")
    p.add_argument("--lava-samples", type=int, default=None,
                   help="test samples to run on Lava (default: the whole test set)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = p.parse_args(argv)

    from loihi_snn.lavadl import ensure_lava_runtime
    from loihi_snn.netx.export import export_blocks
    from loihi_snn.runtime.stream import run_many

    ensure_lava_runtime()
    warnings.filterwarnings("ignore", message=".*weight_norm is deprecated.*")

    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    print(f"[1/4] training a 64-{args.hidden}-10 CUBA network on digits "
          f"(rate code, T={args.T}, {args.epochs} epochs, seed {args.seed})")
    blocks, test_ds, history = train(args)
    t_train = time.time() - t0

    X, labels = test_ds.inputs, test_ds.labels
    if args.lava_samples is not None:
        X, labels = X[:args.lava_samples], labels[:args.lava_samples]
    torch_out, torch_hidden = evaluate_torch(blocks, X)
    net_path = os.path.join(args.out, "digits_cuba.net")
    export_blocks(blocks, net_path)
    print(f"[2/4] exported to {net_path}")

    print(f"[3/4] running {len(X)} test samples on Lava (fixed_pt, one run)")
    t1 = time.time()
    lava_out = run_many(net_path, X)
    t_lava = time.time() - t1

    torch_pred = torch_out.sum(-1).argmax(1)
    lava_pred = lava_out.sum(-1).argmax(1)
    report = {
        "samples": int(len(X)), "T": args.T, "epochs": args.epochs, "seed": args.seed,
        "torch_accuracy": float((torch_pred == labels).mean()),
        "lava_accuracy": float((lava_pred == labels).mean()),
        "prediction_agreement": float((torch_pred == lava_pred).mean()),
        "identical_output_spikes": bool(np.array_equal(torch_out, lava_out)),
        "torch_spikes_per_sample": float(sum(h.sum() for h in torch_hidden) / len(X)),
        "lava_output_spikes_per_sample": float(lava_out.sum() / len(X)),
        "torch_output_spikes_per_sample": float(torch_out.sum() / len(X)),
        "train_seconds": round(t_train, 1), "lava_seconds": round(t_lava, 1),
        "lava_steps_per_second": round(len(X) * (args.T + 3) / t_lava, 1),
        "history": history,
    }
    files = plots(args.out, lava_out, labels, torch_hidden, args.T)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print("[4/4] report")
    print(f"{'':28s}{'torch (SLAYER)':>16s}{'Lava fixed_pt':>16s}")
    print(f"{'accuracy':28s}{report['torch_accuracy']:>16.3f}{report['lava_accuracy']:>16.3f}")
    print(f"{'output spikes / sample':28s}{report['torch_output_spikes_per_sample']:>16.2f}"
          f"{report['lava_output_spikes_per_sample']:>16.2f}")
    print(f"{'steps per sample':28s}{args.T:>16d}{args.T:>16d}")
    print(f"identical output spikes: {report['identical_output_spikes']}; "
          f"prediction agreement {report['prediction_agreement']:.3f}")
    print(f"train {t_train:.1f} s; Lava {t_lava:.1f} s ({report['lava_steps_per_second']} steps/s)")
    print("plots: " + ", ".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Tutorial 3: binary vs ternary spikes (learnable amplitude, folded at export).

    python tutorials/03_ternary.py [--size small|medium|full] [--seed S] [--out DIR]

Trains the same architecture with binary LIF neurons and with ternary neurons
({-1, 0, +1} spikes, a learnable per-layer amplitude folded into the next layer's
weights at export) on digits (rate code) and MNIST-1D (direct code), then reports
accuracy in torch (quantized forward) and on Lava fixed point, spikes per sample, and
synaptic operations per sample (every spike -- of either sign -- costs one operation
per outgoing synapse).  Writes ``ternary.md`` and ``ternary.json`` to ``--out``.
Paper: Guo et al., AAAI 2024 (arXiv 2312.06372).
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
SIZES = {
    "small": {"digits": {"train_limit": 96, "test_limit": 24, "epochs": 1, "lava_limit": 3},
              "mnist1d": {"train_limit": 64, "test_limit": 16, "epochs": 1, "lava_limit": 2}},
    "medium": {"digits": {"train_limit": None, "test_limit": None, "epochs": 10, "lava_limit": 120},
               "mnist1d": {"train_limit": 2000, "test_limit": 500, "epochs": 5, "lava_limit": 40}},
    "full": {"digits": {"train_limit": None, "test_limit": None, "epochs": 20, "lava_limit": None},
             "mnist1d": {"train_limit": 4000, "test_limit": 1000, "epochs": 15, "lava_limit": 200}},
}


def make_config(dataset: str, spike: str, size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    neuron = {"type": "lif", "spike": spike, "threshold": 1.0 if spike == "binary" else 0.5,
              "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.5, "scale_grad": 1.0}
    common = dict(neuron=neuron, seed=seed, device="cpu", val_fraction=0.1,
                  optimizer={"type": "adam", "lr": 0.01}, batch_size=32,
                  loss={"type": "spike_rate", "true_rate": 0.3, "false_rate": 0.02}, **size)
    if dataset == "digits":
        return TrainConfig(name=f"digits_{spike}", dataset="digits", encoding="rate", T=16,
                           architecture=[{"type": "dense", "out": 64, "weight_scale": 2},
                                         {"type": "dense", "weight_scale": 2}], **common)
    return TrainConfig(name=f"mnist1d_{spike}", dataset="mnist1d", encoding="direct", T=40,
                       input_scale=4,
                       architecture=[{"type": "dense", "out": 32, "weight_scale": 2},
                                     {"type": "dense", "out": 32, "weight_scale": 2},
                                     {"type": "dense", "weight_scale": 2}], **common)


def spike_costs(model, test):
    """(spikes per sample, synaptic operations per sample) of the quantized forward
    (== Lava fixed_pt).  Spikes of either sign count once; synaptic operations are
    |spikes| x fan-out summed over the input and every layer but the last.  ``test``
    comes from ``loihi_snn.train.data.load_data`` (inputs already scaled to integers)."""
    import torch
    X = test.inputs
    fan_outs = []
    for block in model.blocks:
        syn = getattr(block, "synapse", None) or getattr(block, "input_synapse", None)
        if syn is not None:
            fan_outs.append(int(syn.out_channels))
    ops = 0.0
    model.eval()
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(X)).float()
        _, layers = model(x, return_layers=True)
        spikes = sum(float((l != 0).sum()) for l in layers)
        sources = [(x != 0).float()] + [(l != 0).float() for l in layers[:-1]]
        for src, fan in zip(sources, fan_outs):
            ops += float(src.sum()) * fan
    return spikes / len(X), ops / len(X)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="medium")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--datasets", default="digits,mnist1d", help="comma-separated subset")
    p.add_argument("--out", default=os.path.join(ROOT, "tutorials", "results"))
    args = p.parse_args(argv)

    from loihi_snn.core.lavadl import ensure_lava_runtime
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train

    ensure_lava_runtime()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    t_all = time.time()
    for dataset in args.datasets.split(","):
        for spike in ("binary", "ternary"):
            cfg = make_config(dataset, spike, SIZES[args.size][dataset], args.seed)
            t0 = time.time()
            res = train(cfg, os.path.join(args.out, "models", f"{dataset}_{spike}"),
                        progress=False, verbose=False)
            card = res.card.get("results", res.card)
            model, _ = load_checkpoint(res.checkpoint)
            test = load_data(cfg).test
            amps = [round(float(b.neuron.amplitude), 3) for b in model.blocks
                    if getattr(getattr(b, "neuron", None), "amplitude", None) is not None]
            row = {"dataset": dataset, "spike": spike,
                   "torch_accuracy": card["torch"]["test_accuracy"],
                   "lava_accuracy": card["lava"].get("accuracy"),
                   "lava_samples": card["lava"].get("samples"),
                   "lava_identical_output_spikes": card["lava"].get("identical_output_spikes"),
                   "spikes_per_sample": 0.0, "synaptic_ops_per_sample": 0.0,
                   "amplitudes": amps, "seconds": round(time.time() - t0, 1)}
            row["spikes_per_sample"], row["synaptic_ops_per_sample"] = spike_costs(model, test)
            rows.append(row)
            print(f"{dataset:8s} {spike:8s} torch {row['torch_accuracy']:.3f} lava "
                  f"{row['lava_accuracy']:.3f} spikes {row['spikes_per_sample']:.0f} "
                  f"SOPs {row['synaptic_ops_per_sample']:.0f} amplitudes {amps}")
    report = {"command": "python tutorials/03_ternary.py " + " ".join(argv or sys.argv[1:]),
              "size": args.size, "seed": args.seed, "sizes": SIZES[args.size],
              "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "wall_seconds": round(time.time() - t_all, 1), "rows": rows}
    with open(os.path.join(args.out, "ternary.json"), "w") as f:
        json.dump(report, f, indent=2)
    lines = ["# Binary vs ternary spikes", "",
             f"Command: `{report['command']}`; seed {args.seed}; sizes {SIZES[args.size]}; "
             f"machine {report['machine']}; {report['wall_seconds']} s.", "",
             "| data | spikes | torch acc | Lava acc (samples) | spikes/sample | synaptic ops/sample | amplitudes |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['spike']} | {r['torch_accuracy']:.3f} | "
                     f"{r['lava_accuracy']:.3f} ({r['lava_samples']}) | {r['spikes_per_sample']:.0f} | "
                     f"{r['synaptic_ops_per_sample']:.0f} | {r['amplitudes']} |")
    with open(os.path.join(args.out, "ternary.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"results: {args.out}/ternary.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

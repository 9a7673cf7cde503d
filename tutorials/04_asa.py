"""Tutorial 4: ASA gating -- fewer spikes at equal accuracy? Trained and run on Lava.

    python tutorials/04_asa.py [--size small|full] [--seeds 0,1,2] [--out DIR]

Trains the same small conv network twice per data set and seed -- once with plain
conv layers and once with an ASA gate in every conv layer (loihi_snn.torch.blocks.ASAConv:
causal, per-sample Advance Spatial Attention on the membrane input, Yao et al., ICCV
2023, with the three defects of the public code fixed) -- on

* ``events``: the synthetic DVS moving-dot data set (generated at 2 x 8 x 8 to keep
  the run short, 4 directions, background noise, binary frames), and
* ``digits``: scikit-learn's 8 x 8 digits as rate-coded frames (layout ``image``,
  1 x 8 x 8, 10 classes),

with the package trainer (loihi_snn.train.loop), then reports for each model the
test accuracy of the SLAYER quantized forward (= Lava fixed point, spike for spike),
the accuracy on Lava fixed point for the first test samples (streamed through one
Lava run with loihi_snn.sim.runtime.stream.run_many) and the network-average spike
firing rate NASFR (loihi_snn.core.metrics.nasfr, all spiking layers; also the rate of the
conv layers alone).  Writes ``asa.md``, ``asa.json`` and ``asa.png`` to ``--out``
(default: tutorials/results for ``--size full``, a temporary directory for
``--size small``).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {
    "small": {"train_limit": 48, "test_limit": 16, "epochs": 1, "lava_limit": 2,
              "seeds": [0]},
    "full": {"train_limit": 320, "test_limit": 160, "epochs": 2, "lava_limit": 10,
             "seeds": [0, 1, 2]},
}
# weight scales (initialisation) per data set: the sparse event frames need larger ones
DATASETS = {
    "events": {"dataset": "events", "encoding": "binary", "T": 16,
               "dataset_options": {"height": 8, "width": 8}, "conv_scale": 3, "dense_scale": 2},
    "digits": {"dataset": "digits", "encoding": "rate", "T": 16,
               "dataset_options": {"layout": "image"}, "conv_scale": 1, "dense_scale": 1},
}
# surrogate: scale 3 x exp(-|v - vth| / 0.25); with gentler surrogates the first conv
# layer's gradient falls below Adam's eps (1e-8) and it does not train at all
NEURON = {"threshold": 1.0, "current_decay": 0.5, "voltage_decay": 0.1, "tau_grad": 0.25,
          "scale_grad": 3.0}
ASA_RATIO = 0.5
FAMILY = "lif-asa"


def config_for(data: str, asa: bool, size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    d = DATASETS[data]
    return TrainConfig(
        name=f"{data}_{'asa' if asa else 'plain'}_s{seed}", dataset=d["dataset"],
        encoding=d["encoding"], T=d["T"], dataset_options=dict(d["dataset_options"]),
        train_limit=size["train_limit"], test_limit=size["test_limit"], val_fraction=0.1,
        architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1,
                       "weight_scale": d["conv_scale"], "weight_norm": False},
                      {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                       "weight_scale": d["conv_scale"], "weight_norm": False},
                      {"type": "flatten"},
                      {"type": "dense", "weight_scale": d["dense_scale"], "weight_norm": False}],
        neuron=({"type": FAMILY, **NEURON, "asa_ratio": ASA_RATIO} if asa
                else {"type": "lif", **NEURON}),
        loss={"type": "cross_entropy", "scale": 1.0}, optimizer={"type": "adam", "lr": 0.01},
        epochs=size["epochs"], batch_size=16, seed=seed, device="cpu")


def measure(model, test, lava_path: str, lava_limit: int) -> dict:
    """Torch quantized accuracy + NASFR on the test split; Lava accuracy on a subset."""
    import torch

    from loihi_snn.core.metrics import layer_firing_rates, nasfr, spikes_per_sample
    from loihi_snn.sim.runtime.stream import run_many

    model.eval()
    outs, layers = [], None
    with torch.no_grad():
        for i in range(0, len(test), 64):
            out, ls = model(torch.from_numpy(test.inputs[i:i + 64]).float(), return_layers=True)
            outs.append(out.numpy())
            ls = [l.numpy().astype(np.int8) for l in ls]
            layers = ls if layers is None else [np.concatenate([a, b]) for a, b in zip(layers, ls)]
    output = np.concatenate(outs)
    pred = output.sum(-1).argmax(1)
    names = model.layer_names()
    conv = [l for n, l in zip(names, layers) if n.endswith(":conv")]
    n = min(lava_limit, len(test))
    lava = run_many(lava_path, test.inputs[:n])
    lava_pred = lava.reshape(output[:n].shape).sum(-1).argmax(1)
    return {"torch_accuracy": float((pred == test.labels).mean()),
            "nasfr": nasfr(layers), "conv_rate": nasfr(conv),
            "layer_rates": dict(zip(names, np.round(layer_firing_rates(layers), 5).tolist())),
            "spikes_per_sample": float(spikes_per_sample(layers).mean()),
            "lava_samples": n, "lava_accuracy": float((lava_pred == test.labels[:n]).mean()),
            "lava_identical_output": bool(np.array_equal(lava.reshape(output[:n].shape),
                                                         output[:n]))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="full",
                   help="small: about a minute (CI); full: the committed comparison")
    p.add_argument("--seeds", default=None,
                   help="comma-separated training seeds (default: small 0, full 0,1,2)")
    p.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help=f"comma-separated subset of {', '.join(DATASETS)}")
    p.add_argument("--out", default=None,
                   help="directory for asa.{md,json,png} (default: tutorials/results for "
                        "full, a temporary directory for small)")
    p.add_argument("--models", default=None,
                   help="directory for the trained models (checkpoint, .net, model card); "
                        "default: a temporary directory")
    args = p.parse_args(argv)

    from loihi_snn.core.lavadl import ensure_lava_runtime
    ensure_lava_runtime()
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_split
    from loihi_snn.train.loop import train

    size = dict(SIZES[args.size])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else size["seeds"]
    datasets = [d for d in args.datasets.split(",") if d]
    for d in datasets:
        if d not in DATASETS:
            p.error(f"unknown data set {d!r}; choose from {', '.join(DATASETS)}")
    out = args.out or (os.path.join(ROOT, "tutorials", "results") if args.size == "full"
                       else tempfile.mkdtemp(prefix="asa-"))
    os.makedirs(out, exist_ok=True)
    models = args.models or tempfile.mkdtemp(prefix="asa-models-")
    rows = []
    t_all = time.time()
    cpu0 = sum(os.times()[:4])
    for data in datasets:
        for seed in seeds:
            for asa in (False, True):
                cfg = config_for(data, asa, size, seed)
                t0 = time.time()
                res = train(cfg, os.path.join(models, cfg.name), progress=False,
                            verbose=False, lava=False)
                t_train = time.time() - t0
                model, _ = load_checkpoint(res.checkpoint)
                test = load_split(cfg.dataset, "test", T=cfg.T, encoding=cfg.encoding,
                                  seed=cfg.seed, limit=cfg.test_limit,
                                  options=cfg.dataset_options, input_scale=cfg.input_scale)
                row = {"dataset": data, "asa": asa, "seed": seed, "best_epoch": res.best_epoch,
                       **measure(model, test, res.net_path, size["lava_limit"]),
                       "train_seconds": round(t_train, 1),
                       "seconds": round(time.time() - t0, 1)}
                rows.append(row)
                print(f"{data:7s} {'ASA  ' if asa else 'plain'} seed {seed}: torch "
                      f"{row['torch_accuracy']:.3f}  Lava {row['lava_accuracy']:.3f} "
                      f"({row['lava_samples']}, identical {row['lava_identical_output']})  "
                      f"NASFR {row['nasfr']:.4f}  conv rate {row['conv_rate']:.4f}  "
                      f"({row['seconds']} s)", flush=True)
    report = {"command": "python tutorials/04_asa.py " + " ".join(sys.argv[1:] if argv is None
                                                                 else argv),
              "size": args.size, "seeds": seeds, "epochs": size["epochs"], "size_params": size,
              "neuron": NEURON, "asa_ratio": ASA_RATIO,
              "weight_scales": {k: (v["conv_scale"], v["dense_scale"]) for k, v in DATASETS.items()},
              "data": {k: {"encoding": v["encoding"], **v["dataset_options"]}
                       for k, v in DATASETS.items()},
              "cpu_seconds": round(sum(os.times()[:4]) - cpu0, 1),
              "load_average": round(os.getloadavg()[1], 1),
              "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                         f"cores, torch CPU",
              "wall_seconds": round(time.time() - t_all, 1), "rows": rows}
    with open(os.path.join(out, "asa.json"), "w") as f:
        json.dump(report, f, indent=2)
    _markdown(os.path.join(out, "asa.md"), report)
    _plot(os.path.join(out, "asa.png"), report)
    print(f"results: {out}/asa.md")
    print("asa: OK")
    return 0


def summary(rows, data: str, asa: bool) -> dict:
    """Mean and std over seeds of the headline numbers."""
    sel = [r for r in rows if r["dataset"] == data and r["asa"] == asa]
    out = {"n": len(sel)}
    for key in ("torch_accuracy", "lava_accuracy", "nasfr", "conv_rate", "spikes_per_sample"):
        v = np.array([r[key] for r in sel], dtype=float)
        out[key] = (float(v.mean()), float(v.std())) if len(v) else (float("nan"), 0.0)
    out["lava_samples"] = sum(r["lava_samples"] for r in sel)
    out["lava_identical"] = all(r["lava_identical_output"] for r in sel)
    return out


def _markdown(path: str, r: dict) -> None:
    s = r["size_params"]
    lines = ["# ASA gating vs plain conv layers", "",
             f"Command: `{r['command']}`; seeds {r['seeds']}, {r['epochs']} epochs, "
             f"{s['train_limit']} training samples (10 % held out to pick the epoch), "
             f"{s['test_limit']} test samples (Lava fixed point on the first "
             f"{s['lava_limit']} per model), machine: {r['machine']}, "
             f"{r['wall_seconds']} s wall / {r['cpu_seconds']} s CPU in all (5-min load "
             f"average at the end {r['load_average']}: the machine was shared).", "",
             "Network: conv8 (3x3) - conv16 (3x3, stride 2) - dense, LIF "
             f"neurons {r['neuron']}, initial weight scales {r['weight_scales']}, "
             "cross-entropy on spike counts, Adam lr 0.01, batch 16, T = 16; data: "
             f"{r['data']}; ASA: every conv layer gated, important ratio "
             f"{r['asa_ratio']}.  Accuracy: torch = SLAYER quantized forward (spike for "
             "spike what Lava fixed_pt runs); NASFR = spikes / (neurons x T), all spiking "
             "layers, weighted by neuron count; conv rate = the same over the conv layers "
             "(the ones ASA gates).  Mean +- std over seeds.", "",
             "| data set | model | torch acc | Lava acc (n) | Lava == torch | NASFR | conv rate "
             "| spikes/sample |",
             "|---|---|---|---|---|---|---|---|"]
    for data in dict.fromkeys(x["dataset"] for x in r["rows"]):
        for asa in (False, True):
            m = summary(r["rows"], data, asa)
            if not m["n"]:
                continue
            lines.append(
                f"| {data} | {'ASA' if asa else 'plain'} | {m['torch_accuracy'][0]:.3f} +- "
                f"{m['torch_accuracy'][1]:.3f} | {m['lava_accuracy'][0]:.3f} "
                f"({m['lava_samples']}) | {'yes' if m['lava_identical'] else 'NO'} | "
                f"{m['nasfr'][0]:.4f} +- {m['nasfr'][1]:.4f} | {m['conv_rate'][0]:.4f} | "
                f"{m['spikes_per_sample'][0]:.0f} |")
    lines.append("")
    for data in dict.fromkeys(x["dataset"] for x in r["rows"]):
        a, b = summary(r["rows"], data, False), summary(r["rows"], data, True)
        if a["n"] and b["n"]:
            change = 100.0 * (b["nasfr"][0] / a["nasfr"][0] - 1.0) if a["nasfr"][0] else float("nan")
            lines.append(f"- {data}: ASA changed NASFR by {change:+.0f} % and torch accuracy by "
                         f"{100 * (b['torch_accuracy'][0] - a['torch_accuracy'][0]):+.1f} points "
                         f"(seed std of accuracy {100 * a['torch_accuracy'][1]:.1f} / "
                         f"{100 * b['torch_accuracy'][1]:.1f} points).")
    lines += ["", "Per model:", "",
              "| data set | model | seed | best epoch | torch acc | Lava acc | NASFR | "
              "conv rate | s |", "|---|---|---|---|---|---|---|---|---|"]
    for x in r["rows"]:
        lines.append(f"| {x['dataset']} | {'ASA' if x['asa'] else 'plain'} | {x['seed']} | "
                     f"{x['best_epoch']} | {x['torch_accuracy']:.3f} | "
                     f"{x['lava_accuracy']:.3f} | {x['nasfr']:.4f} | {x['conv_rate']:.4f} | "
                     f"{x['seconds']} |")
    lines += ["", "Paper (Yao et al., ICCV 2023, README, accuracy % / NASFR): DVS128 Gesture "
              "91.3/0.176 -> 95.2/0.038 with ASA; their module pools over all T and the batch "
              "(not causal, not per sample), ours is causal and per sample and runs on Lava.",
              ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def _plot(path: str, r: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    datas = list(dict.fromkeys(x["dataset"] for x in r["rows"]))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    width = 0.38
    for ax, key, label in ((axes[0], "torch_accuracy", "test accuracy"),
                           (axes[1], "nasfr", "NASFR (spikes / neuron / step)")):
        for k, asa in enumerate((False, True)):
            ms = [summary(r["rows"], d, asa)[key] for d in datas]
            ax.bar(np.arange(len(datas)) + (k - 0.5) * width, [m[0] for m in ms], width,
                   yerr=[m[1] for m in ms], capsize=3, label="ASA" if asa else "plain")
            for i, d in enumerate(datas):
                pts = [x[key] for x in r["rows"] if x["dataset"] == d and x["asa"] == asa]
                ax.plot(np.full(len(pts), i + (k - 0.5) * width), pts, "k.", ms=4)
        ax.set_xticks(np.arange(len(datas)))
        ax.set_xticklabels(datas)
        ax.set_ylabel(label)
    axes[0].legend(loc="lower right")
    fig.suptitle(f"ASA vs plain conv layers (seeds {r['seeds']}, {r['epochs']} epochs)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())

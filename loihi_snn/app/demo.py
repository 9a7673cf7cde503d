"""End-to-end demo: train on digits, export to NetX, run on Lava with the cutoff, compare.

    python -m loihi_snn.app.demo [--out DIR] [--preset digits_lif] [--epochs N] [--epsilon E]
                             [--lava-samples N] [--seed S] [--export-dir DIR] [--record]

1. trains the ``digits_lif`` preset (scikit-learn's bundled 8x8 digits, rate code, T=16,
   64-128-10 LIF network: soft reset, single-state neuron, cross-entropy on the output
   spike counts; lava-dl SLAYER on the CPU) with :func:`loihi_snn.train.loop.train`,
   which exports the best epoch to NetX, calibrates the Top-K cutoff thresholds on the
   training split (tolerance ``--epsilon``) and stores them in the file;
2. copies the network and its model card to ``netx_models/demo/`` (git-ignored);
3. streams the test digits through one Lava fixed-point run at the full T and through
   one run with the cutoff controller process;
4. prints accuracy, mean steps and spikes per sample for torch (SLAYER's quantized
   forward, cutoff rule applied offline) and Lava side by side, what the deployment costs
   (NeuroBench's metrics of the fixed-point network, :mod:`loihi_snn.sim.metrics`: synaptic
   operations, sparsity, footprint, the Loihi 2 estimate; at T and with the cutoff),
   writes ``report.json`` and plots: a spike raster, per-layer firing rates, accuracy
   against steps and against synaptic operations;
5. with ``--record``, also writes the report as ``results/demo/demo.{json,md}`` (command,
   git revision, machine and load, date): the README's demo numbers come from there.

``--net NET.net`` runs only the deployment half on a network already trained, e.g. a
shipped one (``netx_models/digits_lif/digits_lif.net``): its evaluation split at the full T
and with the cutoff thresholds stored in the file, on ``--backend`` (default ``auto``:
Lava fixed_pt where Lava is installed, else the bit-exact emulator -- so it runs on any
supported Python, without Lava or lava-dl), and writes ``report.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import warnings
from typing import Any, Dict, List

import numpy as np

from loihi_snn.app.evaluation import evaluate, format_report, spikes_within
from loihi_snn.app.results import Table, provenance, write_result
from loihi_snn.core.cutoff import offline_cutoff, optimal_cutoff_steps
from loihi_snn.core.lavadl import ensure_lava_runtime
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.metrics import format_metrics, measure_activity, metrics_from_activity
from loihi_snn.train import cards
from loihi_snn.train.checkpoint import export_view, load_checkpoint
from loihi_snn.train.config import get_preset
from loihi_snn.train.data import load_split
from loihi_snn.train.loop import train
from loihi_snn.train.verify import evaluate_model

DEFAULT_EXPORT_DIR = os.path.join("netx_models", "demo")


def _config(args):
    cfg = get_preset(args.preset)
    changes: Dict[str, Any] = {"seed": args.seed, "epochs": args.epochs,
                               "cutoff_epsilon": args.epsilon, "device": "cpu",
                               "lava_limit": args.lava_samples}
    if args.hidden is not None:
        changes["architecture"] = [{"type": "dense", "out": args.hidden}, {"type": "dense"}]
    if args.train_limit is not None:
        changes["train_limit"] = args.train_limit
    return cfg.replace(**changes)


def plots(out_dir: str, torch_hidden: np.ndarray, torch_out: np.ndarray, labels: np.ndarray,
          rates: Dict[str, List[float]], curve: Dict[str, Any]) -> List[str]:
    """Spike raster of sample 0, firing rate per layer, accuracy against steps."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    files = []
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), sharex=True,
                             gridspec_kw={"height_ratios": [3, 1]})
    for ax, spikes, name in zip(axes, (torch_hidden, torch_out), ("hidden neuron", "output class")):
        n, t = np.nonzero(spikes)
        ax.plot(t + 1, n, "|", ms=4)
        ax.set_ylabel(name)
    axes[-1].set_xlabel("time step")
    axes[0].set_title(f"spike raster, test digit 0 (label {labels[0]}; torch = Lava spikes)")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "raster.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3))
    names = [f"layer {i}" for i in range(len(rates["full T"]))]
    x = np.arange(len(names))
    for k, (label, vals) in enumerate(rates.items()):
        ax.bar(x + 0.4 * k - 0.2, vals, 0.4, label=label)
    ax.set_xticks(x, names)
    ax.set_ylabel("spikes / neuron / step")
    ax.set_title("firing rate per layer (Lava)")
    ax.legend()
    fig.tight_layout()
    files.append(os.path.join(out_dir, "firing_rates.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    ops = curve.get("ops")
    fig, axes = plt.subplots(1, 2 if ops is not None else 1,
                             figsize=(10.5 if ops is not None else 5.5, 3.5), squeeze=False)
    ax = axes[0, 0]
    T = len(curve["fixed"])
    ax.plot(np.arange(1, T + 1), curve["fixed"], marker="o", ms=3, label="stop every sample at t")
    ax.plot([curve["cutoff_steps"]], [curve["cutoff_accuracy"]], "r*", ms=12,
            label=f"cutoff (eps {curve['epsilon']:g})")
    if curve.get("oct") is not None:
        ax.axvline(curve["oct"], color="gray", ls=":", label="OCT (oracle)")
    ax.set_xlabel("steps per sample (mean)")
    ax.set_ylabel("test accuracy (Lava)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("accuracy against inference steps")
    if ops is not None:
        # the same stopping points, priced in synaptic operations (NeuroBench's effective
        # ACs + MACs of the fixed-point network, loihi_snn.sim.metrics)
        ax = axes[0, 1]
        ax.plot(ops, curve["fixed"], marker="o", ms=3, label="stop every sample at t")
        ax.plot([curve["cutoff_ops"]], [curve["cutoff_accuracy"]], "r*", ms=12,
                label=f"cutoff (eps {curve['epsilon']:g})")
        ax.set_xlabel("synaptic operations per sample (effective, mean)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
        ax.set_title("accuracy against synaptic operations")
    fig.tight_layout()
    files.append(os.path.join(out_dir, "accuracy_vs_steps.png"))
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m loihi_snn.app.demo", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo_out", help="report and plots directory (default demo_out)")
    p.add_argument("--preset", default="digits_lif", help="training preset (default digits_lif)")
    p.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden neurons of a 64-H-10 network (default: the preset's)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="use only the first N training digits (default: all)")
    p.add_argument("--epsilon", type=float, default=None,
                   help="cutoff error tolerance for the calibration (default: the preset's; "
                        "digits_lif: 0, no training digit may change its answer)")
    p.add_argument("--lava-samples", type=int, default=None,
                   help="test samples to run on Lava (default: the whole test set)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--export-dir", default=DEFAULT_EXPORT_DIR,
                   help=f"copy the .net and its model card here (default {DEFAULT_EXPORT_DIR}; "
                        f"'' to skip)")
    p.add_argument("--record", action="store_true",
                   help="also write results/demo/demo.{json,md} (the README's demo numbers)")
    p.add_argument("--net", default=None, metavar="NET.net",
                   help="deployment half only, on this trained network (e.g. "
                        "netx_models/digits_lif/digits_lif.net): no training, no lava-dl")
    p.add_argument("--backend", default="auto",
                   help="with --net: where to run (default auto: Lava fixed_pt where Lava is "
                        "installed, else the bit-exact emulator)")
    p.add_argument("--limit", type=int, default=None,
                   help="with --net: only the first N samples of the split (default: all)")
    args = p.parse_args(argv)
    if args.net is not None:
        return deploy(args.net, args.out, backend=args.backend, limit=args.limit)
    started = provenance()

    ensure_lava_runtime()
    warnings.filterwarnings("ignore", message=".*weight_norm is deprecated.*")

    import torch

    os.makedirs(args.out, exist_ok=True)
    cfg = _config(args)
    t0 = time.time()
    print(f"[1/4] training {cfg.name} on {cfg.dataset} (T={cfg.T}, {cfg.epochs} epochs, seed "
          f"{cfg.seed}), export, cutoff calibration (eps {cfg.cutoff_epsilon}), Lava check",
          flush=True)
    result = train(cfg, os.path.join(args.out, "train"), command="python -m loihi_snn.app.demo "
                   + " ".join(argv if argv is not None else sys.argv[1:]))
    t_train = time.time() - t0
    card = result.card
    net_path = result.net_path
    if args.export_dir:
        os.makedirs(args.export_dir, exist_ok=True)
        for src in (net_path, os.path.join(result.out_dir, cards.CARD_MD)):
            shutil.copy2(src, os.path.join(args.export_dir, os.path.basename(src)))
        print(f"[2/4] exported {os.path.join(args.export_dir, os.path.basename(net_path))} "
              f"(+ {cards.CARD_MD})")
    else:
        print(f"[2/4] exported {net_path}")

    lava, lava_cut = card["lava"], card.get("cutoff", {}).get("lava", {})
    if "accuracy" not in lava or "accuracy" not in lava_cut:
        print(f"Lava run failed: {lava.get('skipped') or lava_cut.get('skipped')}", file=sys.stderr)
        return 1
    n = int(lava["samples"])
    print(f"[3/4] ran {n} test digits on Lava fixed_pt: full T ({lava['seconds']:.1f} s) and "
          f"with the cutoff controller ({lava_cut['seconds']:.1f} s, "
          f"{lava_cut['steps_per_second']:.0f} steps/s)")

    # torch side on the same samples: quantized forward of the network as exported, the
    # same rule applied offline
    model, _ = export_view(load_checkpoint(result.checkpoint)[0])
    test = load_split(cfg.dataset, "test", T=cfg.T, encoding=cfg.encoding, seed=cfg.seed,
                      limit=cfg.test_limit, options=cfg.dataset_options,
                      input_scale=cfg.input_scale)
    X, labels = test.inputs[:n], test.labels[:n]
    T = int(X.shape[-1])
    torch_eval = evaluate_model(model, X)
    torch_out = torch_eval["output"].astype(np.int64)
    beta = load_calibration(read_netx(net_path)).beta
    t_pred, t_steps = offline_cutoff(torch_out, beta)
    t_counts = torch_eval["layer_spikes_per_step"]
    # each sample's Lava steps: the card keeps a subset; the controller's decisions equal
    # the offline rule on the (bit-exact) emulator output, which the card checks
    l_out, l_counts, neurons = emulate(net_path, X, return_spike_counts=True)
    _, l_steps = offline_cutoff(l_out, beta)
    # what the deployment costs (NeuroBench's metrics on the fixed-point network), at T
    # and with the cutoff, from one more bit-exact run
    plan, activity = measure_activity(net_path, X)
    cost_T = metrics_from_activity(plan, activity)
    cost_cut = metrics_from_activity(plan, activity, l_steps)
    full = np.full(n, T)
    t_full, _ = spikes_within(t_counts, neurons, full)
    l_full, l_nasfr_full = spikes_within(l_counts, neurons, full)
    t_cut, _ = spikes_within(t_counts, neurons, t_steps)
    l_cut, l_nasfr_cut = spikes_within(l_counts, neurons, l_steps)
    oct_steps = optimal_cutoff_steps(torch_out, labels)
    settled = oct_steps <= T
    report = {
        "samples": n, "T": T, "epochs": cfg.epochs, "seed": cfg.seed, "epsilon": cfg.cutoff_epsilon,
        "net": net_path,
        "torch_accuracy": float(lava["torch_accuracy"]), "lava_accuracy": float(lava["accuracy"]),
        "identical_output_spikes": bool(lava["identical_output_spikes"]),
        "identical_layer_spike_counts": bool(np.array_equal(t_counts, l_counts)),
        "torch_cutoff_accuracy": float(np.mean(t_pred == labels)),
        "lava_cutoff_accuracy": float(lava_cut["accuracy"]),
        "torch_mean_steps": float(t_steps.mean()), "lava_mean_steps": float(lava_cut["mean_steps"]),
        "lava_cutoff_equals_offline_rule": bool(lava_cut["equals_offline_rule"]),
        "torch_spikes_per_sample": float(t_full.mean()), "lava_spikes_per_sample": float(l_full.mean()),
        "torch_cutoff_spikes_per_sample": float(t_cut.mean()),
        "lava_cutoff_spikes_per_sample": float(l_cut.mean()),
        "lava_nasfr": l_nasfr_full, "lava_cutoff_nasfr": l_nasfr_cut,
        "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
        "lava_steps_per_second": float(lava_cut["steps_per_second"]),
        "lava_synops_per_sample": cost_T.synaptic_operations["effective"],
        "lava_cutoff_synops_per_sample": cost_cut.synaptic_operations["effective"],
        "deployment": {"full_T": cost_T.to_dict(), "cutoff": cost_cut.to_dict()},
        "train_seconds": float(card["training"]["train_seconds"]),
        "train_export_verify_seconds": round(t_train, 1), "history": result.history,
    }
    cum = np.cumsum(torch_out, axis=-1)
    curve = {"fixed": [float(np.mean(cum[..., t].argmax(1) == labels)) for t in range(T)],
             "cutoff_steps": report["lava_mean_steps"],
             "cutoff_accuracy": report["lava_cutoff_accuracy"], "epsilon": cfg.cutoff_epsilon,
             "oct": report["oct_mean_steps_settled"],
             # mean effective operations per sample when every sample stops at t
             "ops": np.cumsum(activity.ops.sum(axis=0), axis=-1).mean(axis=0).tolist(),
             "cutoff_ops": report["lava_cutoff_synops_per_sample"]}
    rates = {"full T": (l_counts.sum(axis=(1, 2)) / (neurons * n * T)).tolist(),
             "cutoff": [float((l_counts[i] * (np.arange(1, T + 1)[None] <= l_steps[:, None])).sum()
                              / (neurons[i] * l_steps.sum())) for i in range(len(neurons))]}
    with torch.no_grad():
        _, layers = model(torch.from_numpy(X[:1]).float(), return_layers=True)
    files = plots(args.out, layers[0][0].reshape(-1, T).numpy(), torch_out[0], labels, rates, curve)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)

    print(f"[4/4] report ({n} test digits, T={T}, cutoff eps {cfg.cutoff_epsilon})")
    rows = [("accuracy, all T steps", f"{report['torch_accuracy']:.3f}", f"{report['lava_accuracy']:.3f}"),
            ("accuracy with the cutoff", f"{report['torch_cutoff_accuracy']:.3f}",
             f"{report['lava_cutoff_accuracy']:.3f}"),
            ("mean steps with the cutoff", f"{report['torch_mean_steps']:.2f}",
             f"{report['lava_mean_steps']:.2f}"),
            ("spikes / sample, all T", f"{report['torch_spikes_per_sample']:.1f}",
             f"{report['lava_spikes_per_sample']:.1f}"),
            ("spikes / sample, cutoff", f"{report['torch_cutoff_spikes_per_sample']:.1f}",
             f"{report['lava_cutoff_spikes_per_sample']:.1f}"),
            ("synaptic ops / sample, all T", "", f"{report['lava_synops_per_sample']:.0f}"),
            ("synaptic ops / sample, cutoff", "",
             f"{report['lava_cutoff_synops_per_sample']:.0f}")]
    print(f"  {'':30s}{'torch (SLAYER)':>16s}{'Lava fixed_pt':>16s}")
    for name, a, b in rows:
        print(f"  {name:30s}{a:>16s}{b:>16s}")
    print(f"  fewer steps with the cutoff: {T / report['lava_mean_steps']:.2f}x "
          f"(OCT oracle: {report['oct_mean_steps_settled']:.2f} steps)"
          if report["oct_mean_steps_settled"] else "")
    print(f"  identical output spikes: {report['identical_output_spikes']}; identical spike "
          f"counts in every layer: {report['identical_layer_spike_counts']}; Lava cutoff "
          f"decisions = offline rule: {report['lava_cutoff_equals_offline_rule']}")
    print(f"  training {report['train_seconds']:.1f} s (train + export + Lava checks {t_train:.0f} s); "
          f"Lava with the cutoff {report['lava_steps_per_second']:.0f} steps/s")
    print("  Lava spike counts come from the bit-exact emulator (equal to Lava fixed_pt).")
    print(format_metrics(cost_cut))
    print("plots: " + ", ".join(files))
    if args.record:
        _record(report, rows, started)
    return 0


def deploy(net: str, out: str, *, backend: str = "auto", limit=None) -> int:
    """The deployment half of the demo on a trained network: its evaluation split (the
    one its model card reports) at the full T and, when the file stores cutoff
    thresholds, with the cutoff; prints both and writes ``out/report.json``."""
    from loihi_snn.core.errors import LoihiSnnError
    try:
        full = evaluate(net, backend=backend, limit=limit)
        stored = load_calibration(read_netx(net)) is not None
        cut = evaluate(net, cutoff=True, backend=backend, limit=limit) if stored else None
    except LoihiSnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"[1/2] {format_report(full)}")
    if cut is not None:
        print(f"[2/2] {format_report(cut)}")
        print(f"  fewer steps with the cutoff: {full.T / cut.mean_steps:.2f}x; accuracy "
              f"{full.accuracy:.3f} at all T steps, {cut.accuracy:.3f} with the cutoff")
    else:
        print("[2/2] no cutoff thresholds stored in the file: full T only")
    os.makedirs(out, exist_ok=True)
    report = {"net": net, "backend": full.backend, "full_T": full.to_dict(),
              "cutoff": None if cut is None else cut.to_dict()}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=2)
    print(f"report: {os.path.join(out, 'report.json')}")
    return 0


def _record(report: Dict[str, Any], rows, started) -> None:
    """``results/demo/demo.{json,md}``: the report with its provenance."""
    table = Table(f"demo: {report['samples']} test digits, T={report['T']}, cutoff eps "
                  f"{report['epsilon']}", ["", "torch (SLAYER)", "Lava fixed_pt"],
                  [list(r) for r in rows])
    paths = write_result("demo", title="make demo: train digits_lif, export, Lava with the cutoff",
                         tables=[table], data={k: v for k, v in report.items() if k != "history"},
                         text=[f"Training {report['train_seconds']:.1f} s; train + export + "
                               f"Lava checks {report['train_export_verify_seconds']:.0f} s; "
                               f"{report['T'] / report['lava_mean_steps']:.2f}x fewer steps "
                               f"with the cutoff."], started=started)
    print("recorded: " + ", ".join(paths))


if __name__ == "__main__":
    sys.exit(main())

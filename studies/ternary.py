"""Study: binary vs ternary spikes at equal T, with and without a learned amplitude.

    python -m studies.ternary [--size small|full] [--seeds N] [--out RESULTS_DIR]

Three arms, identical in everything but the spike (same architecture, threshold 1.0,
decays, exponential surrogate of the same width and height -- at the one threshold of
a binary neuron and at each of the two thresholds +-1.0 of a ternary one --, optimiser,
cross-entropy loss, epochs, data and seed):

* ``binary``: spikes in {0, 1};
* ``ternary_a1``: spikes in {-1, 0, +1}, amplitude fixed at 1 (the authors' released code);
* ``ternary_learned``: spikes {-a, 0, +a} with a learnable per-layer amplitude a (init 1),
  folded into the next layer's weights at export (the paper).

Each arm is trained at T = 4 and T = 16 on two tasks -- rate-coded digits (64-128-10 LIF)
and the synthetic DVS moving-dot events (2x8x8, conv8-conv16(stride 2)-dense) --, for
every seed.  Measured on the whole test split with the *folded* network, i.e. the
network as exported (its SLAYER quantized forward; the bit-exact emulator run of the
exported file is checked equal on every test sample, and Lava fixed_pt on a subset):
accuracy, spikes per sample of every layer and synaptic operations per sample (a spike
of either sign costs one operation per outgoing synapse with a non-zero weight).
Per-seed paired differences against ``binary`` (and ternary_learned - ternary_a1) get a
95 % t-interval; the verdicts follow from the intervals.

Writes ``<out>/<name>/<name>.{json,md}`` (default name ``ternary``;
:func:`studies.harness.write_result`), rewritten after every run (status ``partial`` until
the end).  Paper: Guo et al., "Ternary Spike", AAAI 2024 (arXiv 2312.06372).  The
walk-through: tutorials/03_ternary.py.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/ternary.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

ARMS = {"binary": {"spike": "binary"},
        "ternary_a1": {"spike": "ternary", "learn_amplitude": False},
        "ternary_learned": {"spike": "ternary", "learn_amplitude": True}}
NEURONS = {
    # a wide surrogate that trains both spike kinds (the default)
    "study": {"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
              "voltage_decay": 0.1, "tau_grad": 0.5, "scale_grad": 1.0, "surrogate": "exp"},
    # the binary LIF tuned for digits (the committed digits presets' neuron), for a
    # binary baseline at its best
    "tuned": {"type": "lif", "reset": "hard", "threshold": 1.25, "current_decay": 0.25,
              "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3.0, "surrogate": "exp"},
    # the neuron of the events_asa preset (tuned for the events conv net), without ASA
    "events_tuned": {"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
                     "voltage_decay": 0.1, "tau_grad": 0.25, "scale_grad": 3.0,
                     "surrogate": "exp"},
}
NEURON = NEURONS["study"]
SIZES = {
    "small": {"Ts": [4], "seeds": 1, "lava_samples": 3,
              "digits": {"train_limit": 200, "test_limit": 60, "epochs": 1},
              "events": {"num_train": 120, "num_test": 40, "epochs": 1}},
    "full": {"Ts": [4, 16], "seeds": 10, "lava_samples": 20,
             "digits": {"train_limit": None, "test_limit": None, "epochs": 15},
             "events": {"num_train": 1500, "num_test": 500, "epochs": 12}},
}
EVENTS_OPTIONS = {"height": 8, "width": 8, "num_classes": 8}


def make_config(dataset: str, arm: str, T: int, size: dict, seed: int):
    from loihi_snn.train.config import TrainConfig
    neuron = {**NEURON, **ARMS[arm]}     # NEURON: set by main() from --neuron
    common = dict(neuron=neuron, seed=seed, device="cpu", val_fraction=0.1, T=T,
                  optimizer={"type": "adam", "lr": 0.01},
                  loss={"type": "cross_entropy", "scale": 1.0})
    if dataset == "digits":
        s = size["digits"]
        return TrainConfig(name=f"digits_{arm}_T{T}", dataset="digits", encoding="rate",
                           train_limit=s["train_limit"], test_limit=s["test_limit"],
                           epochs=s["epochs"], batch_size=32,
                           architecture=[{"type": "dense", "out": 128}, {"type": "dense"}],
                           **common)
    s = size["events"]
    return TrainConfig(
        name=f"events_{arm}_T{T}", dataset="events", encoding="binary",
        dataset_options={**EVENTS_OPTIONS, "num_train": s["num_train"], "num_test": s["num_test"]},
        epochs=s["epochs"], batch_size=16,
        architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1, "weight_scale": 3,
                       "weight_norm": False},
                      {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                       "weight_scale": 3, "weight_norm": False},
                      {"type": "flatten"},
                      {"type": "dense", "weight_scale": 2, "weight_norm": False}],
        **common)


def fan_outs(spec) -> list:
    """Per layer with weights: (N_in,) outgoing non-zero synapses of each source neuron
    (the previous layer's neurons, or the input), flattened in (C, H, W) order."""
    import torch
    out = []
    for layer in spec.layers:
        w = layer.fields.get("weight")
        if w is None:
            continue
        mask = (np.asarray(w) != 0).astype(np.float32)
        if layer.type == "dense":
            out.append(mask.sum(0))
        elif layer.type == "conv":
            co, h, wd = layer.shape
            y = torch.ones(1, co, h, wd)
            x = torch.nn.functional.conv_transpose2d(
                y, torch.from_numpy(mask), stride=tuple(layer.fields["stride"]),
                padding=tuple(layer.fields["padding"]), dilation=tuple(layer.fields["dilation"]),
                groups=int(layer.fields["groups"]))
            cin, hin, win = layer.in_shape
            x = x[..., :hin, :win]
            if x.shape[-2:] != (hin, win):
                x = torch.nn.functional.pad(x, (0, win - x.shape[-1], 0, hin - x.shape[-2]))
            out.append(x[0].numpy().reshape(-1))
        else:
            raise ValueError(f"layer {layer.index}: no synaptic-operation count for {layer.type}")
    return out


def layer_costs(view, spec, inputs: np.ndarray) -> dict:
    """Spikes and synaptic operations per sample of every layer of the folded network.

    ``spikes``: [input, layer 1, ..., output] non-zero events per sample;
    ``synops``: per layer with weights, sum over its source's events of the source
    neuron's fan-out (non-zero synapses), per sample.
    """
    import torch
    fans = fan_outs(spec)
    view.eval()
    spikes = np.zeros(1 + len(fans))
    synops = np.zeros(len(fans))
    with torch.no_grad():
        for i in range(0, len(inputs), 256):
            x = torch.from_numpy(np.ascontiguousarray(inputs[i:i + 256])).float()
            _, layers = view(x, return_layers=True)
            sources = [x] + list(layers)
            for k, s in enumerate(sources):
                active = (s != 0).reshape(s.shape[0], -1, s.shape[-1]).sum(-1).float().numpy()
                spikes[k] += active.sum()
                if k < len(fans):
                    if active.shape[1] != len(fans[k]):
                        raise ValueError(f"layer {k}: {active.shape[1]} source neurons, "
                                         f"{len(fans[k])} fan-outs")
                    synops[k] += float((active @ fans[k].astype(np.float64)).sum())
    n = len(inputs)
    return {"spikes": (spikes / n).tolist(), "synops": (synops / n).tolist()}


def run_one(dataset: str, arm: str, T: int, seed: int, size: dict, work: str,
            lava_samples: int) -> dict:
    from loihi_snn import emulate
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.runtime.stream import run_many
    from loihi_snn.train.checkpoint import export_view, load_checkpoint
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train
    from loihi_snn.train.verify import evaluate_model

    t0 = time.time()
    cfg = make_config(dataset, arm, T, size, seed)
    res = train(cfg, os.path.join(work, f"{dataset}_{arm}_T{T}_s{seed}"), progress=False,
                verbose=False, lava=False)
    model, _ = load_checkpoint(res.checkpoint)
    view, output_scale = export_view(model)
    test = load_data(cfg).test
    ev = evaluate_model(view, test.inputs, output_scale=output_scale)
    acc = float((ev["predictions"] == test.labels).mean())
    emu = emulate(res.net_path, test.inputs)
    torch_out = ev["output"].astype(np.float64) * output_scale
    emu_equal = bool(np.array_equal(np.asarray(emu, np.float64), torch_out))
    emu_acc = float((np.asarray(emu).sum(-1).argmax(1) == test.labels).mean())
    lava = None
    if lava_samples:
        k = min(lava_samples, len(test))
        out = run_many(res.net_path, test.inputs[:k], progress=False)
        lava = {"samples": k, "equal_to_emulator": bool(np.array_equal(
            np.asarray(out, np.float64), np.asarray(emu[:k], np.float64)))}
    costs = layer_costs(view, read_netx(res.net_path), test.inputs)
    amps = [round(float(b.neuron.amplitude), 4) for b in model.blocks
            if getattr(getattr(b, "neuron", None), "amplitude", None) is not None]
    return {"dataset": dataset, "arm": arm, "T": T, "seed": seed, "accuracy": acc,
            "emulator_accuracy": emu_acc, "emulator_equal_all_test": emu_equal,
            "lava": lava, "test_samples": len(test), "best_epoch": res.best_epoch,
            "amplitudes": amps, "spikes_per_layer": costs["spikes"],
            "synops_per_layer": costs["synops"], "spikes_total": float(sum(costs["spikes"][1:])),
            "synops_total": float(sum(costs["synops"])), "seconds": round(time.time() - t0, 1)}


def summarize(rows: list) -> dict:
    """Per (dataset, T): arms' mean ± std and the paired differences with 95 % intervals."""
    mean_ci = harness.mean_ci
    out = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        for T in sorted({r["T"] for r in rows if r["dataset"] == dataset}):
            by = {a: {r["seed"]: r for r in rows if r["dataset"] == dataset and r["T"] == T
                      and r["arm"] == a} for a in ARMS}
            key = f"{dataset}_T{T}"
            cell = {"arms": {}, "paired": {}}
            for a, rs in by.items():
                if not rs:
                    continue
                vals = list(rs.values())
                cell["arms"][a] = {
                    "seeds": len(vals),
                    "accuracy": mean_ci([r["accuracy"] for r in vals]),
                    "spikes_total": mean_ci([r["spikes_total"] for r in vals]),
                    "synops_total": mean_ci([r["synops_total"] for r in vals]),
                    "spikes_per_layer": np.mean([r["spikes_per_layer"] for r in vals], 0).tolist(),
                    "synops_per_layer": np.mean([r["synops_per_layer"] for r in vals], 0).tolist(),
                    "amplitudes": np.mean([r["amplitudes"] for r in vals], 0).tolist()
                    if vals[0]["amplitudes"] else []}
            for a, b in (("ternary_a1", "binary"), ("ternary_learned", "binary"),
                         ("ternary_learned", "ternary_a1")):
                seeds = sorted(set(by[a]) & set(by[b]))
                if not seeds:
                    continue
                cell["paired"][f"{a}-{b}"] = {
                    "seeds": len(seeds),
                    "accuracy": mean_ci([by[a][s]["accuracy"] - by[b][s]["accuracy"]
                                         for s in seeds]),
                    "synops_ratio": mean_ci([by[a][s]["synops_total"] / by[b][s]["synops_total"]
                                             for s in seeds]),
                    "hidden_spikes_ratio": mean_ci(
                        [sum(by[a][s]["spikes_per_layer"][1:-1]) /
                         sum(by[b][s]["spikes_per_layer"][1:-1]) for s in seeds])}
            out[key] = cell
    return out


def verdict(ci: dict, what: str) -> str:
    lo, hi = ci["ci95"]
    if ci["n"] < 2 or not np.isfinite(lo):
        return f"undecided ({ci['n']} seed)"
    if lo > 0:
        return (f"yes: {what} (+{100 * ci['mean']:.1f} pts, 95 % CI {100 * lo:+.1f} .. "
                f"{100 * hi:+.1f})")
    if hi < 0:
        return (f"no, the opposite: {100 * ci['mean']:+.1f} pts (95 % CI {100 * lo:+.1f} .. "
                f"{100 * hi:+.1f})")
    return (f"not shown: {100 * ci['mean']:+.1f} pts, 95 % CI {100 * lo:+.1f} .. {100 * hi:+.1f} "
            f"includes 0")


def _pm(ci: dict, scale: float = 1.0, fmt: str = ".3f") -> str:
    return harness.pm(ci, scale, fmt)


def _interval(ci: dict, scale: float = 1.0, fmt: str = "+.1f") -> str:
    return harness.interval(ci, scale, fmt)


def write(rows: list, args, size: dict, status: str, wall: float, study) -> None:
    Table = harness.Table
    summary = summarize(rows)
    main = Table("Accuracy and cost per arm (folded network = Lava; mean ± std over seeds)",
                 ["task", "T", "arm", "seeds", "test accuracy", "spikes/sample (all layers)",
                  "synaptic ops/sample", "amplitudes (learned)"])
    paired = Table("Paired differences per seed (95 % t-interval)",
                   ["task", "T", "comparison", "seeds", "Δ accuracy, pts [95 % CI]",
                    "synaptic ops ratio [95 % CI]", "hidden-layer spikes ratio [95 % CI]",
                    "verdict"])
    layers = Table("Spikes and synaptic operations per layer (mean over seeds, per sample)",
                   ["task", "T", "arm", "spikes: input / hidden... / output",
                    "synaptic ops: into layer 1 / ... / output"], float_format=".1f")
    verdicts = {}
    for key, cell in summary.items():
        dataset, T = key.rsplit("_T", 1)
        for a, s in cell["arms"].items():
            main.rows.append([dataset, int(T), a, s["seeds"], _pm(s["accuracy"]),
                              _pm(s["spikes_total"], fmt=".0f"), _pm(s["synops_total"], fmt=".0f"),
                              ", ".join(f"{v:.3f}" for v in s["amplitudes"]) or "-"])
            layers.rows.append([dataset, int(T), a,
                                " / ".join(f"{v:.0f}" for v in s["spikes_per_layer"]),
                                " / ".join(f"{v:.0f}" for v in s["synops_per_layer"])])
        for comp, d in cell["paired"].items():
            what = ("the learned amplitude helps" if comp == "ternary_learned-ternary_a1"
                    else "ternary beats binary")
            v = verdict(d["accuracy"], what)
            verdicts[f"{key}:{comp}"] = v
            paired.rows.append([dataset, int(T), comp.replace("-", " − "), d["seeds"],
                                _interval(d["accuracy"], 100),
                                _interval(d["synops_ratio"], 1, ".2f"),
                                _interval(d["hidden_spikes_ratio"], 1, ".2f"), v])
    claims = _claims(summary)
    text = [
        f"Arms differ only in the spike: {', '.join(ARMS)}; neuron {NEURON} (neuron setting "
        f"'{args.neuron}'; surrogate 'exp' = SLAYER's exponential at the threshold, for "
        f"ternary at both thresholds).  "
        + (f"Digits: 64-128-10, rate code, {size['digits']['epochs']} epochs, batch 32.  "
           if "digits" in args.datasets else "")
        + (f"Events: {EVENTS_OPTIONS['height']}x{EVENTS_OPTIONS['width']}x2 moving dot, "
           f"{EVENTS_OPTIONS['num_classes']} classes, {size['events']['num_train']} training / "
           f"{size['events']['num_test']} test samples, conv8-conv16(stride 2)-dense, "
           f"{size['events']['epochs']} epochs, batch 16.  " if "events" in args.datasets else "")
        + f"Adam lr 0.01, cross-entropy on output spike counts, best epoch on a 10 % validation "
        f"hold-out.  Seeds {args.seed} .. {args.seed + size['seeds'] - 1}; every arm of a seed "
        f"sees the same data.",
        "Accuracy is the folded network's (what the exported file computes) on the whole test "
        "split.  The bit-exact emulator's outputs equal it on every test sample for "
        f"{sum(r['emulator_equal_all_test'] for r in rows)} of {len(rows)} models; Lava "
        f"fixed_pt equals the emulator on the first {size['lava_samples']} test samples for "
        f"{sum(bool(r['lava'] and r['lava']['equal_to_emulator']) for r in rows)} of "
        f"{sum(r['lava'] is not None for r in rows)} models checked.",
        "Synaptic operations: every spike (either sign) of a source neuron costs one operation "
        "per outgoing synapse with a non-zero weight; the input's spikes count into layer 1.",
        "**Verdicts.** " + " ".join(f"{k}: {v}." for k, v in claims.items()),
        f"Wall time {wall / 60:.1f} min.",
    ]
    harness.write_result(args.name, study=study,
                         title="Binary vs ternary spikes at equal T (Guo et al. 2024)",
                         tables=[main, paired, layers],
                         data={"size": args.size, "sizes": size, "neuron": NEURON, "arms": ARMS,
                               "events_options": EVENTS_OPTIONS, "claims": claims,
                               "verdicts": verdicts, "summary": summary, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def _claims(summary: dict) -> dict:
    """One verdict per claim, over every (task, T) cell."""
    out = {}
    for claim, comp in (("ternary (learned amplitude) beats binary at equal T",
                         "ternary_learned-binary"),
                        ("ternary (amplitude 1) beats binary at equal T", "ternary_a1-binary"),
                        ("the learned amplitude helps", "ternary_learned-ternary_a1")):
        parts, signs = [], []
        for key, cell in summary.items():
            d = cell["paired"].get(comp)
            if d is None or d["accuracy"]["n"] < 2:
                continue
            lo, hi = d["accuracy"]["ci95"]
            signs.append(harness.sign(d["accuracy"]))
            parts.append(f"{key} {100 * d['accuracy']['mean']:+.1f} pts "
                         f"[{100 * lo:+.1f}, {100 * hi:+.1f}]")
        if not signs:
            continue
        word = ("supported in every cell" if all(s > 0 for s in signs) else
                "contradicted in every cell" if all(s < 0 for s in signs) else
                "not supported in any cell" if all(s <= 0 for s in signs) else
                f"supported in {sum(s > 0 for s in signs)} of {len(signs)} cells")
        out[claim] = f"{word} ({'; '.join(parts)})"
    return out


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--datasets", default="digits,events", help="comma-separated subset")
    p.add_argument("--neuron", choices=sorted(NEURONS), default="study",
                   help="neuron parameters shared by the arms (default study)")
    p.add_argument("--name", default="ternary", help="result name (OUT/NAME/NAME.{json,md})")
    p.add_argument("--Ts", default=None, help="comma-separated T values (default by size)")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/NAME/NAME.{json,md}")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    global NEURON
    NEURON = NEURONS[args.neuron]
    study = harness.Study("ternary", argv)    # the revision and machine this run started from
    harness.start()
    size = dict(SIZES[args.size])
    if args.seeds is not None:
        size["seeds"] = args.seeds
    if args.Ts is not None:
        size["Ts"] = [int(t) for t in args.Ts.split(",")]
    cells = [(seed, dataset, T, arm) for seed in range(args.seed, args.seed + size["seeds"])
             for dataset in args.datasets.split(",") for T in size["Ts"] for arm in ARMS]

    def line(r):
        return (f"seed {r['seed']} {r['dataset']:6s} T={r['T']:<2d} {r['arm']:15s} acc "
                f"{r['accuracy']:.3f} (emulator equal {r['emulator_equal_all_test']}, Lava "
                f"{r['lava'] and r['lava']['equal_to_emulator']}) spikes "
                f"{r['spikes_total']:.0f} synops {r['synops_total']:.0f} amps "
                f"{r['amplitudes']} {r['seconds']} s")

    with harness.work_folder(args.work, "ternary-") as work:
        rows = study.run(
            cells, lambda c: run_one(c[1], c[3], c[2], c[0], size, work,
                                     size["lava_samples"] if c[0] == args.seed else 0),
            lambda rows, status, wall: write(rows, args, size, status, wall, study), line)
    ok = all(r["emulator_equal_all_test"] for r in rows) and all(
        r["lava"]["equal_to_emulator"] for r in rows if r["lava"])
    print(f"results: {os.path.join(args.out, args.name, args.name + '.md')}")
    print(f"ternary: {'OK' if ok else 'FAILED'} ({len(rows)} models; folded torch == emulator "
          f"on every test sample, Lava == emulator on the checked subsets)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

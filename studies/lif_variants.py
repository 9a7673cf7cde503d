"""Study: which LIF components matter? leak x reset x recurrence on four probe tasks.

    python -m studies.lif_variants [--size small|full] [--seeds 0,1,2] [--out DIR]

Trains all 2 x 3 x 2 = 12 variants of the single-state LIF neuron of Yin et al. 2024
(arXiv 2403.16674; ``synapse="single"``: the synaptic input is integrated directly, so
leak off is a pure integrate-and-fire neuron)
  leak (on: voltage decays by ``voltage_decay`` per step; off: none),
  reset (hard: to 0; soft: subtract threshold; none),
  recurrence (a trained recurrent weight on the hidden layer, or feed-forward)
on four generated tasks (:mod:`loihi_snn.train.tasks`), each probing one claim:
  lif_memory    memory retention: accuracy after a short and a long delay (silent delay;
                ``--tasks lif_memory_distract``: distractor spikes during the delay);
  lif_patterns  robustness: relative accuracy drop under Gaussian value noise, spike
                deletion, spike insertion and temporal jitter;
  lif_stream    uninterrupted processing: accuracy and firing rate when the test samples
                are streamed back to back without resetting the network;
  lif_order     complex dynamics: the order of two cues.
For every network: accuracy of the quantized forward (spike for spike what Lava fixed_pt
computes), spikes per sample, and a Lava fixed_pt run of the exported network on the
first test samples (every output spike compared with torch; for lif_stream also a stream
without resets).  Writes ``lif_variants.json`` (rewritten after every network, so a cut
off study keeps what it measured), ``.md`` and ``.png`` to ``--out``, with the provenance
record of :mod:`loihi_snn.core.provenance` (``provenance``).  The walk-through:
tutorials/02_lif_variants.py.
"""
from __future__ import annotations

import itertools
import json
import os
import sys
import time

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/lif_variants.py)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

TASKS = ("lif_memory", "lif_patterns", "lif_stream", "lif_order")
# study task -> (data set, options); the extra tasks run only when named with --tasks
STUDY_TASKS = {**{t: (t, {}) for t in TASKS},
               "lif_memory_distract": ("lif_memory", {"distractor_rate": 0.03})}
# --size small: four variants that cover every level of every switch (CI)
SMALL_VARIANTS = ["leak-hard-ff", "leak-soft-rec", "noleak-none-ff", "noleak-soft-rec"]
SIZES = {
    "small": {"train": 96, "test": 32, "epochs": 1, "hidden": 8, "lava": 1, "stream": 8, "T": {},
              "variants": SMALL_VARIANTS,
              "seeds": [0], "tasks": TASKS, "levels": {"gaussian": [0.3], "delete": [0.3],
                                                       "insert": [0.05], "jitter": [1.0]}},
    "full": {"train": 2000, "test": 500, "epochs": 8, "hidden": 48, "lava": 8, "stream": 200,
             "T": {"lif_memory": 64, "lif_memory_distract": 64}, "variants": None,
             "seeds": [0, 1, 2], "tasks": TASKS,
             "levels": {"gaussian": [0.2, 0.4], "delete": [0.25, 0.5],
                        "insert": [0.03, 0.06], "jitter": [1.0, 2.0]}},
}
NEURON = {"type": "lif", "synapse": "single", "threshold": 1.0, "voltage_decay": 0.1,
          "tau_grad": 0.5, "scale_grad": 1.0}
WEIGHT_SCALE = 2
LR = 3e-3
BATCH = 64
VARIANTS = list(itertools.product([True, False], ["hard", "soft", "none"], [False, True]))


def tag_of(leak: bool, reset: str, recurrent: bool) -> str:
    return f"{'leak' if leak else 'noleak'}-{reset}-{'rec' if recurrent else 'ff'}"


def build(leak: bool, reset: str, recurrent: bool, hidden: int, input_shape, num_classes: int):
    from loihi_snn.train.models import build_model
    arch = [{"type": "recurrent" if recurrent else "dense", "out": hidden,
             "weight_scale": WEIGHT_SCALE},
            {"type": "dense", "weight_scale": WEIGHT_SCALE}]
    return build_model(arch, {**NEURON, "leak": leak, "reset": reset}, input_shape, num_classes)


def counts(out, readout: int):
    """Output spike counts over the last ``readout`` steps: (N, classes)."""
    return out[..., out.shape[-1] - readout:].sum(-1)


def train_net(model, ds, readout: int, epochs: int, seed: int):
    import torch
    torch.manual_seed(seed)
    x_all = torch.from_numpy(ds.inputs)
    y_all = torch.from_numpy(ds.labels)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(y_all))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            out = model(x_all[idx])
            loss = torch.nn.functional.cross_entropy(counts(out, readout), y_all[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()


def quantized(model, x: np.ndarray):
    """Quantized (eval) forward: output (N, classes, T) and hidden+output spikes per sample."""
    import torch
    model.eval()
    with torch.no_grad():
        out, layers = model(torch.from_numpy(np.ascontiguousarray(x, np.float32)),
                            return_layers=True)
    spikes = sum(l.reshape(l.shape[0], -1).sum(1) for l in layers)
    return out.numpy(), spikes.numpy()


def accuracy(model, x, labels, readout):
    out, spikes = quantized(model, x)
    pred = counts(out, readout).argmax(1)
    return float((pred == labels).mean()), float(spikes.mean()), pred


def lava_check(model, path: str, x: np.ndarray, stream_x=None):
    """Lava fixed_pt vs the quantized forward: samples compared, how many equal."""
    from loihi_snn.sim.runtime.run import run
    from loihi_snn.sim.runtime.stream import run_many
    from loihi_snn.torch.export import export_blocks
    export_blocks(list(model.blocks), path, input_shape=model.input_shape)
    expect, _ = quantized(model, x)
    got = run_many(path, x, backend="lava-fixed")
    equal = int(sum(np.array_equal(np.asarray(g), e) for g, e in zip(got, expect)))
    res = {"samples": len(x), "equal": equal}
    if stream_x is not None:          # one long sequence: the state is never reset
        expect_s, _ = quantized(model, stream_x)
        got_s = run(path, stream_x[0], backend="lava-fixed")
        res["stream_steps"] = int(stream_x.shape[-1])
        res["stream_equal"] = bool(np.array_equal(np.asarray(got_s), expect_s[0]))
    return res


def run_one(task: str, leak: bool, reset: str, recurrent: bool, seed: int, size: dict,
            workdir: str) -> dict:
    import torch
    from loihi_snn.train.datasets import load_dataset
    from loihi_snn.train.tasks import NOISE_KINDS, perturb, stream
    t0 = time.time()
    T = size["T"].get(task)
    name, options = STUDY_TASKS[task]
    train = load_dataset(name, "train", T=T, seed=seed, limit=size["train"], **options)
    test = load_dataset(name, "test", T=T, seed=seed, limit=size["test"], **options)
    readout = train.task_info["readout"]
    torch.manual_seed(seed)
    model = build(leak, reset, recurrent, size["hidden"], train.input_shape, train.num_classes)
    train_net(model, train, readout, size["epochs"], seed)
    acc, spikes, pred = accuracy(model, test.inputs, test.labels, readout)
    row = {"task": task, "tag": tag_of(leak, reset, recurrent), "leak": leak, "reset": reset,
           "recurrent": recurrent, "seed": seed, "accuracy": acc, "spikes_per_sample": spikes,
           "train_seconds": round(time.time() - t0, 1)}
    rng = np.random.default_rng([seed, 99])
    if task.startswith("lif_memory"):
        d = test.task_info["delay"]
        mid = (test.task_info["min_delay"] + test.task_info["max_delay"]) / 2
        row["accuracy_short_delay"] = float((pred == test.labels)[d <= mid].mean())
        row["accuracy_long_delay"] = float((pred == test.labels)[d > mid].mean())
    if task == "lif_patterns":
        row["noise"] = {}
        for kind in NOISE_KINDS:
            for level in size["levels"][kind]:
                a, _, _ = accuracy(model, perturb(test.inputs, kind, level, rng), test.labels,
                                   readout)
                row["noise"][f"{kind} {level}"] = {
                    "accuracy": a, "relative_drop": (acc - a) / acc if acc > 0 else None}
    stream_x = None
    if task == "lif_stream":
        n = min(size["stream"], len(test))
        stream_x = stream(test.inputs[:n])
        out, spikes_s = quantized(model, stream_x)
        T, lat = test.T, len(model.blocks)     # every block adds one step of latency
        # sample s's window: the steps its own fresh run can respond in (s*T + lat ..
        # (s+1)*T - 1), so the stream differs from isolated runs only by carried state
        per = out[0].reshape(out.shape[1], n, T).transpose(1, 0, 2)   # (n, classes, T)
        per[..., :lat] = 0
        s_pred = counts(per, readout).argmax(1)
        iso_acc, iso_spikes, _ = accuracy(model, test.inputs[:n], test.labels[:n], readout)
        row["stream"] = {"samples": n, "accuracy_isolated": iso_acc,
                         "accuracy_stream": float((s_pred == test.labels[:n]).mean()),
                         "spikes_per_sample_isolated": iso_spikes,
                         "spikes_per_sample_stream": float(spikes_s[0]) / n}
    lava_x = test.inputs[:size["lava"]]
    lava_stream = None if stream_x is None else stream_x[..., :size["lava"] * 4 * test.T]
    t1 = time.time()
    row["lava"] = lava_check(model, os.path.join(workdir, f"{task}_{row['tag']}_{seed}.net"),
                             lava_x, lava_stream)
    row["lava_seconds"] = round(time.time() - t1, 1)
    row["seconds"] = round(time.time() - t0, 1)
    return row


# ------------------------------------------------------------------ summaries

def _ms(values):
    v = np.asarray([x for x in values if x is not None], float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": int(len(v))} if len(v) else None


def _mean_drop(row):
    """Mean relative accuracy drop over every noise kind and level (None: accuracy 0)."""
    drops = [v["relative_drop"] for v in row["noise"].values()]
    return None if None in drops else float(np.mean(drops))


def summarize(rows):
    """Per (task, variant): mean and sample std over seeds of every metric."""
    out = {}
    for row in rows:
        out.setdefault(row["task"], {}).setdefault(row["tag"], []).append(row)
    summary = {}
    for task, by_tag in out.items():
        summary[task] = {}
        for tag, rs in by_tag.items():
            s = {"leak": rs[0]["leak"], "reset": rs[0]["reset"], "recurrent": rs[0]["recurrent"],
                 "seeds": [r["seed"] for r in rs],
                 "accuracy": _ms([r["accuracy"] for r in rs]),
                 "spikes_per_sample": _ms([r["spikes_per_sample"] for r in rs]),
                 "lava_equal": f"{sum(r['lava']['equal'] for r in rs)}/"
                               f"{sum(r['lava']['samples'] for r in rs)}"}
            if task.startswith("lif_memory"):
                s["accuracy_short_delay"] = _ms([r["accuracy_short_delay"] for r in rs])
                s["accuracy_long_delay"] = _ms([r["accuracy_long_delay"] for r in rs])
            if task == "lif_patterns":
                for key in rs[0]["noise"]:
                    s[f"drop {key}"] = _ms([r["noise"][key]["relative_drop"] for r in rs])
                s["mean_relative_drop"] = _ms([_mean_drop(r) for r in rs])
            if task == "lif_stream":
                for key in ("accuracy_isolated", "accuracy_stream", "spikes_per_sample_isolated",
                            "spikes_per_sample_stream"):
                    s[key] = _ms([r["stream"][key] for r in rs])
                s["lava_stream_equal"] = f"{sum(r['lava']['stream_equal'] for r in rs)}/{len(rs)}"
            summary[task][tag] = s
    return summary


def contrasts(rows):
    """Claim-level comparisons: mean over seeds and the other factors, per group."""
    def mean_of(task, key, pred):
        v = [key(r) for r in rows if r["task"] == task and pred(r)]
        return _ms(v)
    c = {}
    tasks = {r["task"] for r in rows}
    for task in tasks:
        c[task] = {"accuracy by leak": {str(l): mean_of(task, lambda r: r["accuracy"],
                                                        lambda r, l=l: r["leak"] == l)
                                        for l in (True, False)},
                   "accuracy by recurrence": {str(x): mean_of(task, lambda r: r["accuracy"],
                                                              lambda r, x=x: r["recurrent"] == x)
                                              for x in (True, False)},
                   "accuracy by reset": {m: mean_of(task, lambda r: r["accuracy"],
                                                    lambda r, m=m: r["reset"] == m)
                                         for m in ("hard", "soft", "none")},
                   "spikes by reset": {m: mean_of(task, lambda r: r["spikes_per_sample"],
                                                  lambda r, m=m: r["reset"] == m)
                                       for m in ("hard", "soft", "none")}}
        if task.startswith("lif_memory"):
            c[task]["long-delay accuracy by leak"] = {
                str(l): mean_of(task, lambda r: r["accuracy_long_delay"],
                                lambda r, l=l: r["leak"] == l) for l in (True, False)}
        if task == "lif_patterns":
            c[task]["mean relative drop by leak"] = {
                str(l): mean_of(task, _mean_drop, lambda r, l=l: r["leak"] == l) for l in (True, False)}
            c[task]["mean relative drop by recurrence"] = {
                str(x): mean_of(task, _mean_drop, lambda r, x=x: r["recurrent"] == x)
                for x in (True, False)}
        if task == "lif_stream":
            c[task]["stream accuracy by reset"] = {
                m: mean_of(task, lambda r: r["stream"]["accuracy_stream"],
                           lambda r, m=m: r["reset"] == m) for m in ("hard", "soft", "none")}
            c[task]["stream spikes/sample by reset"] = {
                m: mean_of(task, lambda r: r["stream"]["spikes_per_sample_stream"],
                           lambda r, m=m: r["reset"] == m) for m in ("hard", "soft", "none")}
    return c


def key_metric(task: str):
    """(name, function of a row) of the metric each task probes."""
    if task.startswith("lif_memory"):
        return "long-delay accuracy", lambda r: r["accuracy_long_delay"]
    if task == "lif_patterns":
        return "mean relative drop under noise", _mean_drop
    if task == "lif_stream":
        return "stream accuracy (no reset)", lambda r: r["stream"]["accuracy_stream"]
    return "accuracy", lambda r: r["accuracy"]


def paired(rows):
    """Seed-paired differences of each task's key metric and of spikes per sample:
    leak on - off (same reset and recurrence), recurrent - feed-forward (same leak and
    reset), reset hard - none and soft - none (same leak and recurrence)."""
    by = {(r["task"], r["tag"], r["seed"]): r for r in rows}
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        name, metric = key_metric(task)
        entries = []

        def diff(a_tag, b_tag, label):
            seeds = sorted(s for (t, g, s) in by if t == task and g == a_tag
                           and (task, b_tag, s) in by)
            if not seeds:
                return
            d = [metric(by[(task, a_tag, s)]) - metric(by[(task, b_tag, s)]) for s in seeds]
            sp = [by[(task, a_tag, s)]["spikes_per_sample"] - by[(task, b_tag, s)]["spikes_per_sample"]
                  for s in seeds]
            entries.append({"comparison": label, "a": a_tag, "b": b_tag, "metric": _ms(d),
                            "spikes": _ms(sp)})
        for reset, rec in itertools.product(("hard", "soft", "none"), (False, True)):
            diff(tag_of(True, reset, rec), tag_of(False, reset, rec), "leak on - off")
        for leak, reset in itertools.product((True, False), ("hard", "soft", "none")):
            diff(tag_of(leak, reset, True), tag_of(leak, reset, False), "recurrent - ff")
        for leak, rec in itertools.product((True, False), (False, True)):
            for reset in ("hard", "soft"):
                diff(tag_of(leak, reset, rec), tag_of(leak, "none", rec), f"reset {reset} - none")
        out[task] = {"metric": name, "differences": entries}
    return out


def _fmt(s, digits=3):
    if s is None:
        return "-"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}" if s["n"] > 1 else \
        f"{s['mean']:.{digits}f}"


def markdown(report) -> str:
    load_after = report.get("load_after", report.get("load_average_at_end", "-"))
    lines = ["# LIF variants: leak x reset x recurrence on four probe tasks", "",
             *harness.provenance_lines(report),
             f"- load average at the end: {load_after}; wall time {report['wall_seconds']} s"
             + (" (PARTIAL: the study did not finish)" if not report.get("complete") else ""),
             ""] + ([f"Tables rebuilt from the JSON (no training) by: "
                     f"`{report['tables_rebuilt_by']}`", ""]
                    if report.get("tables_rebuilt_by") else []) + [
             f"Networks: input -> {report['hidden']} hidden (dense or recurrent) -> classes, "
             f"single-state LIF neurons ({json.dumps(NEURON)}; leak off: voltage_decay 0), "
             f"{report['epochs']} epochs of Adam (lr {LR}, batch {BATCH}), cross-entropy on "
             f"output spike counts over the task's readout window; {report['train']} training / "
             f"{report['test']} test samples; seeds {report['seeds']} (mean ± sample std over "
             "seeds).  Accuracy = quantized forward (equal to Lava fixed_pt spike for spike: "
             "column 'Lava equal' = test samples whose every output spike matched, summed over "
             "seeds).  Spikes/sample = hidden + output spikes.", ""]
    for task, by_tag in report["summary"].items():
        lines += [f"## {task}", ""]
        extra = []
        if task.startswith("lif_memory"):
            extra = [("acc, short delay", "accuracy_short_delay"),
                     ("acc, long delay", "accuracy_long_delay")]
        if task == "lif_patterns":
            first = next(iter(by_tag.values()))
            extra = [(k.replace("drop ", "rel. drop, "), k) for k in first if k.startswith("drop ")]
            extra.append(("mean rel. drop", "mean_relative_drop"))
        if task == "lif_stream":
            extra = [("acc, isolated", "accuracy_isolated"), ("acc, stream (no reset)",
                                                              "accuracy_stream"),
                     ("spikes/sample isolated", "spikes_per_sample_isolated"),
                     ("spikes/sample stream", "spikes_per_sample_stream")]
        head = ["variant", "accuracy", "spikes/sample"] + [e[0] for e in extra] + ["Lava equal"]
        if task == "lif_stream":
            head.append("Lava stream equal")
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for tag, s in by_tag.items():
            cells = [tag, _fmt(s["accuracy"]), _fmt(s["spikes_per_sample"], 0)]
            cells += [_fmt(s[k], 0 if "spikes" in k else 3) for _, k in extra]
            cells.append(s["lava_equal"])
            if task == "lif_stream":
                cells.append(s["lava_stream_equal"])
            lines.append("| " + " | ".join(cells) + " |")
        lines += ["", "Contrasts (mean ± std over all networks in the group):", ""]
        for name, groups in report["contrasts"].get(task, {}).items():
            lines.append(f"- {name}: " + "; ".join(f"{g} {_fmt(v)}" for g, v in groups.items()))
        pd = report.get("paired", {}).get(task)
        if pd:
            lines += ["", f"Seed-paired differences (a - b, mean ± std over seeds) of "
                          f"{pd['metric']} and of spikes/sample:", "",
                      "| comparison | a | b | difference | spikes/sample difference |",
                      "|---|---|---|---|---|"]
            for e in pd["differences"]:
                lines.append(f"| {e['comparison']} | {e['a']} | {e['b']} | "
                             f"{_fmt(e['metric'], 3).replace('± ', '± ')} | "
                             f"{_fmt(e['spikes'], 0)} |")
        lines.append("")
    lines += [f"Lava fixed_pt checks: {report['lava_equal_total']} samples equal "
              f"({report['lava_networks']} networks); streams without reset equal: "
              f"{report['lava_stream_equal_total']}.", ""]
    return "\n".join(lines) + "\n"


def plot(path, report):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tasks = list(report["summary"])
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(4 * (len(tasks) + 1), 3.6))
    for ax, task in zip(axes, tasks):
        by_tag = report["summary"][task]
        tags = list(by_tag)
        key = "accuracy_long_delay" if task.startswith("lif_memory") else \
            {"lif_stream": "accuracy_stream"}.get(task, "accuracy")
        m = [by_tag[t][key]["mean"] if by_tag[t][key] else 0.0 for t in tags]
        e = [by_tag[t][key]["std"] if by_tag[t][key] else 0.0 for t in tags]
        ax.bar(range(len(tags)), m, yerr=e,
               color=["C0" if by_tag[t]["leak"] else "C1" for t in tags])
        ax.set_xticks(range(len(tags)), tags, rotation=75, fontsize=6)
        ax.set_title(f"{task}: {key.replace('_', ' ')}", fontsize=8)
        ax.set_ylim(0, 1)
    ax = axes[-1]
    if "lif_patterns" in report["summary"]:
        by_tag = report["summary"]["lif_patterns"]
        for t, s in by_tag.items():
            if not s["mean_relative_drop"]:
                continue
            ax.errorbar(s["spikes_per_sample"]["mean"], s["mean_relative_drop"]["mean"],
                        yerr=s["mean_relative_drop"]["std"], fmt="o",
                        color="C0" if s["leak"] else "C1")
            ax.annotate(t, (s["spikes_per_sample"]["mean"], s["mean_relative_drop"]["mean"]),
                        fontsize=5)
        ax.set_xlabel("spikes per sample (lif_patterns)", fontsize=8)
        ax.set_ylabel("mean relative accuracy drop under noise", fontsize=8)
        ax.set_title("robustness (blue: leak on, orange: off)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out, report, rows):
    report["rows"] = rows
    report["summary"] = summarize(rows)
    report["contrasts"] = contrasts(rows)
    report["paired"] = paired(rows)
    report["lava_equal_total"] = (f"{sum(r['lava']['equal'] for r in rows)}/"
                                  f"{sum(r['lava']['samples'] for r in rows)}")
    report["lava_networks"] = len(rows)
    streams = [r for r in rows if "stream_equal" in r["lava"]]
    report["lava_stream_equal_total"] = f"{sum(r['lava']['stream_equal'] for r in streams)}/" \
                                        f"{len(streams)}"
    harness.write_files(out, "lif_variants", report, markdown(report), indent=1)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seeds", default=None, help="comma-separated seeds (default: the size's)")
    p.add_argument("--tasks", default=None,
                   help=f"comma-separated subset of {','.join(STUDY_TASKS)} (default: "
                        f"{','.join(TASKS)}; lif_memory_distract: distractor spikes in the delay)")
    p.add_argument("--only", default=None, help="comma-separated variant tags (leak-hard-ff, ...)")
    p.add_argument("--epochs", type=int, default=None, help="override the size's epochs")
    p.add_argument("--out", default=str(harness.RESULTS / "lif_variants"),
                   help="directory for lif_variants.{json,md,png}")
    p.add_argument("--from-json", default=None, metavar="PATH",
                   help="rebuild the .md and .png (summaries, contrasts) from a study's JSON "
                        "in --out, without training")
    args = p.parse_args(argv)
    study = harness.Study("lif_variants", argv)
    if args.from_json:
        with open(args.from_json) as f:
            report = json.load(f)
        os.makedirs(args.out, exist_ok=True)
        rev = (study.started["git"]["revision"] or "unknown")[:12]
        report["tables_rebuilt_by"] = f"{study.command} (revision {rev})"
        write_report(args.out, report, report["rows"])
        plot(os.path.join(args.out, "lif_variants.png"), report)
        print(f"results: {args.out}/lif_variants.md (rebuilt from {args.from_json})")
        return 0

    harness.start()
    size = dict(SIZES[args.size])
    if args.epochs is not None:
        size["epochs"] = args.epochs
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else size["seeds"]
    tasks = args.tasks.split(",") if args.tasks else list(size["tasks"])
    bad = sorted(set(tasks) - set(STUDY_TASKS))
    if bad:
        p.error(f"unknown task(s) {bad}; choose from {', '.join(STUDY_TASKS)}")
    os.makedirs(args.out, exist_ok=True)
    report = {"provenance": study.started, "size": args.size, "seeds": seeds,
              "epochs": size["epochs"], "train": size["train"], "test": size["test"],
              "hidden": size["hidden"], "complete": False}
    cells = [(task, seed, leak, reset, rec) for task in tasks for seed in seeds
             for leak, reset, rec in VARIANTS
             if not (args.only and tag_of(leak, reset, rec) not in args.only.split(","))
             and not (size["variants"] and tag_of(leak, reset, rec) not in size["variants"])]

    def line(row):
        extra = ""
        if "stream" in row:
            extra = f" stream {row['stream']['accuracy_stream']:.3f}"
        if "accuracy_long_delay" in row:
            extra = f" long {row['accuracy_long_delay']:.3f}"
        return (f"{row['task']:12s} {row['tag']:16s} seed {row['seed']}: acc "
                f"{row['accuracy']:.3f}{extra} spikes {row['spikes_per_sample']:.0f} lava "
                f"{row['lava']['equal']}/{row['lava']['samples']} ({row['seconds']} s)")

    def write(rows, status, wall):
        report["provenance"] = harness.stamped(study)
        report["wall_seconds"] = round(wall, 1)
        if status == "complete":
            report["complete"] = True
            report["load_average_at_end"] = report["provenance"]["load_average_at_write"]
        write_report(args.out, report, rows)

    with harness.work_folder(None, "lif-variants-") as work:
        rows = study.run(cells, lambda c: run_one(c[0], c[2], c[3], c[4], c[1], size, work),
                         write, line)
    plot(os.path.join(args.out, "lif_variants.png"), report)
    ok = all(r["lava"]["equal"] == r["lava"]["samples"] and r["lava"].get("stream_equal", True)
             for r in rows)
    print(f"results: {args.out}/lif_variants.md")
    print(f"lif variants: {'OK' if ok else 'LAVA MISMATCH'} ({report['lava_equal_total']} Lava "
          f"samples equal, streams {report['lava_stream_equal_total']})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

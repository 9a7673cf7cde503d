"""Where the accuracy points go: our trainer beside snnTorch, Norse and stock SLAYER.

    python -m studies.training digits  [--seeds 5] [--size full|small] [--out RESULTS_DIR]
    python -m studies.training mnist1d [--seeds 3] [--size full|small] [--out RESULTS_DIR]

``digits``: scikit-learn's 8x8 digits, the package's split (1438 train / 359 test), rate
code, T=16, 64-128-10 networks; every framework gets the same encoded arrays (the
trainer's, seed s).  Arms:

* peers: snnTorch 1.0 (``Linear -> Leaky -> Linear -> Leaky``, subtract reset, beta 0.9,
  fast-sigmoid surrogate, cross-entropy on the output spike counts, Adam lr 2e-3, batch
  64, 25 epochs: the issue's reference recipe), Norse 1.1 (``LIFBoxCell``, the same
  recipe) and stock lava-dl SLAYER (``slayer.block.cuba``: the old ``digits`` preset);
* a ladder from the old ``digits_lif`` preset to the new default, one change per rung;
* leave-one-out from the new default: each change undone alone (its share).

Every arm of ours is measured as exported (SLAYER's quantized eval forward, which equals
Lava fixed_pt spike for spike; the shipped model's card shows that on all 359 test
digits), plus the same network in float (float neuron dynamics, float weights) to show
what export costs.

``mnist1d``: the MNIST-1D arms (time layout: the shipped recurrent model's recipe and its
improvements; space layout: the conv front end), fewer seeds.

Writes ``<out>/training_<task>/training_<task>.{json,md}`` (default out: results/)
through :func:`studies.harness.write_result`, rewritten after every arm so a cut-off run
leaves a result.  Pins torch to one thread (``--threads``).
"""
from __future__ import annotations

import copy
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List

import numpy as np
import torch

if __package__ in (None, ""):      # run as a file (python studies/training.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402
from studies.harness import Table  # noqa: E402

from loihi_snn.core import provenance  # noqa: E402
from loihi_snn.train.cards import card_provenance  # noqa: E402
from loihi_snn.train.checkpoint import load_checkpoint  # noqa: E402
from loihi_snn.train.config import get_preset  # noqa: E402
from loihi_snn.train.data import load_data  # noqa: E402
from loihi_snn.train.loop import train  # noqa: E402
from loihi_snn.train.verify import evaluate_model  # noqa: E402

# --------------------------------------------------------------------------------------
# our trainer
# --------------------------------------------------------------------------------------

OLD_LIF = {"type": "lif", "spike": "binary", "reset": "hard", "threshold": 1.25,
           "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3.0}


def _float_accuracy(model, inputs: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of the trained network in float: float neuron dynamics (the training
    forward) and float weights (the 8-bit weight pre-hooks switched off)."""
    hooks = []
    for m in model.modules():
        syn = getattr(m, "synapse", None)
        for s in (syn, getattr(m, "recurrent_synapse", None)):
            if s is not None and getattr(s, "pre_hook_fx", None) is not None:
                hooks.append((s, s.pre_hook_fx))
                s.pre_hook_fx = None
    model.train()
    correct = 0
    try:
        with torch.no_grad():
            for i in range(0, len(inputs), 256):
                out = model(torch.from_numpy(inputs[i:i + 256]).float())
                correct += int((out.sum(-1).argmax(1).numpy() == labels[i:i + 256]).sum())
    finally:
        for s, h in hooks:
            s.pre_hook_fx = h
        model.eval()
    return correct / max(len(labels), 1)


def run_ours(preset: str, changes: Dict[str, Any]) -> Dict[str, float]:
    """Train with our trainer; accuracy as exported (= Lava) and in float; seconds."""
    cfg = get_preset(preset).replace(device="cpu", **changes)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        res = train(cfg, tmp, progress=False, lava=False, verbose=False, command="study")
        seconds = time.perf_counter() - t0
        model, _ = load_checkpoint(res.checkpoint)
        splits = load_data(cfg)
        test = splits.test
        acc = float(res.card["torch"]["test_accuracy"])
        facc = _float_accuracy(model, test.inputs, test.labels)
        spikes = evaluate_model(model, test.inputs)["layer_spikes"].sum(1).mean()
    return {"accuracy": acc, "float_accuracy": facc, "seconds": seconds,
            "train_seconds": float(res.card["training"]["train_seconds"]),
            "spikes_per_sample": float(spikes), "epoch": res.best_epoch}


# --------------------------------------------------------------------------------------
# peers, on the same encoded arrays
# --------------------------------------------------------------------------------------

def _digits_arrays(seed: int):
    cfg = get_preset("digits_lif").replace(seed=seed, val_fraction=0.0)
    s = load_data(cfg)
    return s.train.inputs, s.train.labels, s.test.inputs, s.test.labels


def _fit_peer(step: Callable, params, xtr, ytr, xte, yte, seed: int, epochs: int = 25,
              lr: float = 2e-3, batch: int = 64) -> Dict[str, float]:
    """Adam + cross-entropy on output spike counts; ``step(x (T, N, C)) -> counts``."""
    torch.manual_seed(seed)
    opt = torch.optim.Adam(params, lr=lr)
    xtr_t = torch.from_numpy(xtr).float().permute(2, 0, 1)     # (T, N, C)
    xte_t = torch.from_numpy(xte).float().permute(2, 0, 1)
    ytr_t = torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(ytr), generator=gen)
        for i in range(0, len(ytr), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(step(xtr_t[:, idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = step(xte_t).argmax(1).numpy()
    return {"accuracy": float((pred == yte).mean()), "float_accuracy": float((pred == yte).mean()),
            "seconds": seconds, "train_seconds": seconds}


def run_snntorch(seed: int) -> Dict[str, float]:
    """The issue's snnTorch reference recipe on our digits split."""
    import snntorch as snn
    from snntorch import surrogate
    xtr, ytr, xte, yte = _digits_arrays(seed)
    torch.manual_seed(seed)
    fc1, fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
    lif1 = snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(), reset_mechanism="subtract")
    lif2 = snn.Leaky(beta=0.9, spike_grad=surrogate.fast_sigmoid(), reset_mechanism="subtract")

    def step(x):
        m1, m2 = lif1.init_leaky(), lif2.init_leaky()
        count = 0
        for t in range(x.shape[0]):
            s1, m1 = lif1(fc1(x[t]), m1)
            s2, m2 = lif2(fc2(s1), m2)
            count = count + s2
        return count
    return _fit_peer(step, list(fc1.parameters()) + list(fc2.parameters()), xtr, ytr, xte,
                     yte, seed)


def run_norse(seed: int) -> Dict[str, float]:
    """Norse ``LIFBoxCell`` (one state, beta = 1 - dt * tau_mem_inv = 0.9), same recipe."""
    import norse.torch as nt
    xtr, ytr, xte, yte = _digits_arrays(seed)
    torch.manual_seed(seed)
    fc1, fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
    p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(0.1))
    cell1, cell2 = nt.LIFBoxCell(p), nt.LIFBoxCell(p)

    def step(x):
        s1 = s2 = None
        count = 0
        for t in range(x.shape[0]):
            z1, s1 = cell1(fc1(x[t]), s1)
            z2, s2 = cell2(fc2(z1), s2)
            count = count + z2
        return count
    return _fit_peer(step, list(fc1.parameters()) + list(fc2.parameters()), xtr, ytr, xte,
                     yte, seed)


# --------------------------------------------------------------------------------------
# the arms
# --------------------------------------------------------------------------------------

def digits_arms() -> List[Dict[str, Any]]:
    """(name, group, runner) of every digits arm; the new default is the ``digits_lif`` preset."""
    new = get_preset("digits_lif").to_dict()
    new_neuron = dict(new["neuron"])
    ce = {"type": "cross_entropy", "scale": 1.0}
    old = {"neuron": dict(OLD_LIF), "loss": {"type": "spike_rate"}, "epochs": 15,
           "optimizer": {"type": "adam", "lr": 0.01}, "val_fraction": 0.1, "select": "best",
           "cutoff_epsilon": None}
    rungs = [
        ("old digits_lif preset (SLAYER spike-rate loss)", {}),
        ("+ cross-entropy on spike counts", {"loss": ce}),
        ("+ soft (subtract) reset", {"loss": ce, "neuron": {**OLD_LIF, "reset": "soft"}}),
        ("+ single-state neuron, threshold 1.0, voltage decay 0.1",
         {"loss": ce, "neuron": {**new_neuron}}),
        ("+ lr 0.005, 30 epochs", {"loss": ce, "neuron": {**new_neuron}, "epochs": 30,
                                   "optimizer": {"type": "adam", "lr": 0.005}}),
        ("+ all training digits, last epoch (= new default)", None),
    ]
    arms = []
    for name, ch in rungs:
        changes = {"cutoff_epsilon": None} if ch is None else {**old, **ch}
        arms.append({"name": name, "group": "ladder", "preset": "digits_lif", "changes": changes})
    default = {"cutoff_epsilon": None}
    loo = [
        ("new default with SLAYER spike-rate loss", {"loss": {"type": "spike_rate"}}),
        ("new default with hard reset", {"neuron": {**new_neuron, "reset": "hard"}}),
        ("new default with the two-state neuron (current decay 0.25)",
         {"neuron": {**new_neuron, "current_decay": 0.25}}),
        ("new default with the old threshold/decay (1.25, 0.03)",
         {"neuron": {**new_neuron, "threshold": 1.25, "voltage_decay": 0.03}}),
        ("new default with 15 epochs, lr 0.01", {"epochs": 15,
                                                 "optimizer": {"type": "adam", "lr": 0.01}}),
        ("new default choosing the best epoch on a 10 % validation split",
         {"val_fraction": 0.1, "select": "best"}),
    ]
    for name, ch in loo:
        arms.append({"name": name, "group": "leave-one-out", "preset": "digits_lif",
                     "changes": {**default, **ch}})
    arms.append({"name": "stock SLAYER CUBA, old digits preset", "group": "peer",
                 "preset": "digits", "changes": {}})
    arms.append({"name": "stock SLAYER CUBA, new recipe (CE, lr 0.005, 30 ep., all digits)",
                 "group": "peer", "preset": "digits",
                 "changes": {"loss": ce, "epochs": 30, "optimizer": {"type": "adam", "lr": 0.005},
                             "val_fraction": 0.0, "select": "last"}})
    arms.append({"name": "snnTorch 1.0 (issue recipe)", "group": "peer", "runner": run_snntorch})
    arms.append({"name": "Norse 1.1 LIFBoxCell (same recipe)", "group": "peer",
                 "runner": run_norse})
    return arms


def mnist1d_arms() -> List[Dict[str, Any]]:
    """The MNIST-1D arms: the shipped recurrent recipe, its changes, the conv front end."""
    base = {"dataset_options": {"num_samples": 10000}, "cutoff_epsilon": None}
    rlif = get_preset("mnist1d_rlif").to_dict()
    space = get_preset("mnist1d_conv").to_dict()
    arms = [{"name": "recurrent LIF, level code in time (old mnist1d_rlif)", "group": "time",
             "preset": "mnist1d_rlif", "changes": {**base}},
            {"name": "recurrent LIF in time, single-state neuron, lr 0.002 cosine, last epoch",
             "group": "time", "preset": "mnist1d_rlif",
             "changes": {**base, "neuron": {**rlif["neuron"], "current_decay": 1.0},
                         "optimizer": {"type": "adam", "lr": 0.002, "schedule": "cosine"},
                         "val_fraction": 0.0, "select": "last"}},
            {"name": "conv front end in space (new mnist1d_conv preset)", "group": "space",
             "preset": "mnist1d_conv", "changes": {"cutoff_epsilon": None}},
            {"name": "conv front end in space, two-state neuron (current decay 0.25)",
             "group": "space", "preset": "mnist1d_conv",
             "changes": {"neuron": {**space["neuron"], "current_decay": 0.25}}},
            {"name": "conv front end in space, hard reset", "group": "space",
             "preset": "mnist1d_conv",
             "changes": {"neuron": {**space["neuron"], "reset": "hard"}}}]
    return arms


def _summary(runs: List[Dict[str, float]], key: str) -> Dict[str, Any]:
    vals = [r[key] for r in runs]
    return {"mean": statistics.mean(vals), "std": statistics.stdev(vals) if len(vals) > 1 else 0.0,
            "min": min(vals), "max": max(vals), "values": vals}


def main(argv=None) -> int:
    p = harness.parser(__doc__)
    p.add_argument("task", choices=("digits", "mnist1d"))
    p.add_argument("--seeds", type=int, default=None, help="seeds per arm (digits 5, mnist1d 3)")
    p.add_argument("--size", choices=("full", "small"), default="full",
                   help="small: 2 epochs, 1 seed (a smoke run)")
    p.add_argument("--only", default=None, help="run only arms whose name contains this")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--collect", nargs="+", metavar="NAME=RUN_DIR", default=None,
                   help="instead of training, collect finished trainer runs (their "
                        "model_card.json: config, command, torch test accuracy as exported, "
                        "seconds) into the result file as one arm each")
    p.add_argument("--note", dest="notes", action="append", default=None,
                   help="a Markdown paragraph added to the result's text (repeatable)")
    p.add_argument("--append", action="store_true",
                   help="keep the arms already in the result file and run only the others")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/training_TASK/training_TASK.{json,md}")
    args = p.parse_args(argv)
    harness.start(threads=args.threads, lava=False)
    study = harness.Study("training", argv)   # the revision and machine this run started from
    seeds = args.seeds or (5 if args.task == "digits" else 3)
    if args.size == "small":
        seeds = 1
    arms = digits_arms() if args.task == "digits" else mnist1d_arms()
    if args.only:
        arms = [a for a in arms if args.only in a["name"]]
    name = f"training_{args.task}"
    if args.collect:
        return _collect(name, args, study)
    results: List[Dict[str, Any]] = []
    path = os.path.join(args.out, name, f"{name}.json")
    if args.append and os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            old = json.load(fh)
        results = old["data"]["arms"]
        study.started = old["provenance"]        # the result keeps its first run's record
        args.notes = _kept_notes(old) + list(args.notes or [])
    done = {r["name"] for r in results}
    for arm in arms:
        if arm["name"] in done:
            continue
        runs = []
        for seed in range(seeds):
            if "runner" in arm:
                r = arm["runner"](seed)
            else:
                ch = copy.deepcopy(arm["changes"])
                ch["seed"] = seed
                if args.size == "small":
                    ch["epochs"] = 2
                r = run_ours(arm["preset"], ch)
            runs.append(r)
            print(f"{arm['name']} seed {seed}: accuracy {r['accuracy']:.4f} (float "
                  f"{r['float_accuracy']:.4f}), {r['train_seconds']:.1f} s", flush=True)
        results.append({"name": arm["name"], "group": arm["group"], "runs": runs,
                        "revision": provenance.git_state()["revision"],
                        "command": study.command,
                        "accuracy": _summary(runs, "accuracy"),
                        "float_accuracy": _summary(runs, "float_accuracy"),
                        "train_seconds": _summary(runs, "train_seconds")})
        _write(name, args, study, results, seeds)
    if args.append and args.notes:
        _write(name, args, study, results, seeds)     # new notes, even with no arm to run
    return 0


_GENERATED = ("Task ", "Made by: ", "Collected from the model cards")


def _kept_notes(old: Dict[str, Any]) -> List[str]:
    """The ``--note`` paragraphs of an existing result (``data.notes``; older files: the
    text paragraphs this script did not generate itself), kept by ``--append``."""
    notes = old["data"].get("notes")
    if notes is not None:
        return list(notes)
    return [t for t in old.get("text", []) if not t.startswith(_GENERATED)]


def _collect(name: str, args, study) -> int:
    """One arm per finished run directory (``NAME=DIR``), from its model card."""
    results = []
    for item in args.collect:
        label, _, run_dir = item.rpartition("=")
        with open(os.path.join(run_dir, "model_card.json"), encoding="utf-8") as fh:
            card = json.load(fh)
        lava = card.get("lava") or {}
        run = {"accuracy": float(card["torch"]["test_accuracy"]),
               "float_accuracy": float("nan"),
               "train_seconds": float(card["training"]["train_seconds"]),
               "epoch": card["training"]["best_epoch"],
               "lava_accuracy": lava.get("accuracy"), "lava_samples": lava.get("samples"),
               "identical_output_spikes": lava.get("identical_output_spikes"),
               "spikes_per_sample": card.get("spikes_per_sample"),
               "history": card["training"]["history"]}
        results.append({"name": label, "group": "collected", "runs": [run],
                        "accuracy": _summary([run], "accuracy"),
                        "float_accuracy": _summary([run], "float_accuracy"),
                        "train_seconds": _summary([run], "train_seconds"),
                        "config": card["config"], "command": card["command"],
                        "created": card.get("created"),
                        "machine": card_provenance(card).get("machine")})
    _write(name, args, study, results, 1)
    return 0


def _write(name, args, study, results, seeds) -> None:
    started = study.started
    rows = []
    for r in results:
        a, f, s = r["accuracy"], r["float_accuracy"], r["train_seconds"]
        rows.append([r["group"], r["name"], len(r["runs"]), round(a["mean"], 4), round(a["std"], 4),
                     round(a["min"], 4), round(a["max"], 4), round(f["mean"], 4),
                     round(a["mean"] - f["mean"], 4), round(s["mean"], 1)])
    table = Table("test accuracy over n seeds (ours: as exported = Lava fixed_pt)",
                  ["group", "arm", "n", "mean", "std", "min", "max", "float mean",
                   "export - float", "train s"], rows)
    commands = sorted({r.get("command") or started.get("command", "") for r in results})
    text = [f"Task {args.task}; n seeds per arm, seeds 0..n-1 (seed s also seeds the data encoding, "
            "the same arrays for every framework); torch pinned to "
            f"{args.threads} thread(s); train s: wall seconds of training on this shared "
            "machine (see load).",
            "Made by: " + "; ".join(f"`{c}`" for c in commands if c)]
    tables = [table]
    collected = [r for r in results if r["group"] == "collected"]
    if collected:
        rows = []
        for r in collected:
            run = r["runs"][0]
            last = run["history"][-1]
            rows.append([r["name"], round(run["accuracy"], 4), run.get("lava_accuracy"),
                         run.get("lava_samples"), run.get("identical_output_spikes"),
                         round(last["train_accuracy"], 4), run["epoch"]])
        tables.append(Table("collected runs: Lava fixed_pt and the training accuracy of the "
                            "exported epoch", ["arm", "torch (as exported)", "Lava", "Lava samples",
                                               "identical spikes", "train acc (last epoch)",
                                               "exported epoch"], rows))
        text.append("Collected from the model cards of finished trainer runs (the config of "
                    "each is in the JSON, `arms[i].config`); one seed each.")
    text += list(getattr(args, "notes", None) or [])
    data = {"task": args.task, "seeds": seeds, "size": args.size, "arms": results,
            "notes": list(getattr(args, "notes", None) or [])}
    harness.write_result(name, study=study, title=f"Training quality on {args.task}: ours "
                         "beside snnTorch, Norse and stock SLAYER", tables=tables, data=data,
                         text=text, status="complete" if len(results) else "partial",
                         out=args.out)


if __name__ == "__main__":
    sys.exit(main())

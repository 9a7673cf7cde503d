"""Study: ours beside snnTorch and Norse on digits, every framework tuned by the one protocol.

    python -m studies.peers [--size small|full] [--seeds N] [--arms ours,snntorch,norse]
                            [--out RESULTS_DIR]

The old comparison (``studies/training.py``, ``results/training_digits/``) tuned our
recipe (a ladder judged on the test digits) and gave each peer one untuned recipe.  Here
every arm gets the same protocol (:func:`studies.harness.tune`): the same grid of
learning rate x surrogate width, each point trained on two seeded 20 % hold-outs of the
training split, the last epoch's validation accuracy as its score, the test split never
read for a choice; the chosen recipe is then trained on the whole training split for
every evaluation seed and its last epoch tested.

Same for every arm: scikit-learn's 8x8 digits (the package's split, 1438 train / 359
test), rate code at T=16 from the package's encoder (seed s gives the same arrays to every
framework; the tuning splits' hold-outs are the same arrays too), a 64-128-10 network of
leaky neurons (decay 0.9 per step, threshold 1 -- Norse's 0.1, its recipe), cross-entropy
on the output spike counts, Adam, batch size and epochs (:data:`SIZES`).  Arms:

* ``ours``: our trainer's ``digits_lif`` neuron (soft reset, single state), 8-bit weights
  in the training forward, tested as exported (the quantized forward, which the
  emulator -- and so Lava fixed_pt -- equals: checked on every test digit);
* ``snntorch``: snnTorch 1.0 ``Leaky`` (subtract reset, beta 0.9), fast-sigmoid surrogate;
* ``norse``: Norse 1.1 ``LIFBoxCell`` (tau_mem_inv 100 at dt 1 ms, so beta 0.9; v_th 0.1,
  reset to 0), SuperSpike surrogate.

Surrogate width is one knob for all three, in units of the threshold: SLAYER's
``tau_grad`` (its exponential's width is ``tau_grad * threshold``), snnTorch's fast-sigmoid
``slope = 1 / (width * threshold)`` and Norse's SuperSpike ``alpha = 1 / (width * v_th)``
(both surrogates are ``1 / (1 + k |v - threshold|)^2``).  snnTorch's default slope 25 is
width 0.04, Norse's default alpha 100 is width 0.1, our preset's tau_grad 0.03.

Writes ``<out>/peers/peers.{json,md,png}`` (:func:`studies.harness.write_result`).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/peers.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

pm, ci = harness.pm, harness.interval

ARMS = ("ours", "snntorch", "norse")
NAMES = {"ours": "ours (loihi_snn trainer, SLAYER; as exported = Lava fixed_pt)",
         "snntorch": "snnTorch 1.0 Leaky (subtract reset), fast sigmoid",
         "norse": "Norse 1.1 LIFBoxCell, SuperSpike"}
#: learning rate x surrogate width (units of the threshold); each framework's default
#: width (ours 0.03, snnTorch 0.04, Norse 0.1) and the old recipes' learning rates (ours
#: 0.005, the peers 0.002) lie inside it
GRID = {"lr": [0.002, 0.005, 0.01], "width": [0.03, 0.1, 0.3]}
NORSE_VTH = 0.1
SIZES = {"small": {"train_limit": 300, "test_limit": 60, "epochs": 2, "batch_size": 32,
                   "seeds": 1, "grid": {"lr": [0.005], "width": [0.1]}, "splits": [1000]},
         "full": {"train_limit": None, "test_limit": None, "epochs": 20, "batch_size": 32,
                  "seeds": 5, "grid": GRID, "splits": list(harness.TUNE_SPLITS)}}


def base_config(size: dict):
    """Our trainer's config (the ``digits_lif`` recipe at this study's budget); its data
    (``load_data``) are every arm's arrays."""
    from loihi_snn.train.config import get_preset
    return get_preset("digits_lif").replace(
        train_limit=size["train_limit"], test_limit=size["test_limit"], epochs=size["epochs"],
        batch_size=size["batch_size"], cutoff_epsilon=None, device="cpu", val_fraction=0.0,
        select="last")


def arrays(cfg, seed: int, val_fraction: float):
    """(train inputs, train labels, eval inputs, eval labels): the hold-out of a tuning
    split (``val_fraction`` > 0) or the test split (0)."""
    from loihi_snn.train.data import load_data
    s = load_data(cfg.replace(seed=int(seed), val_fraction=float(val_fraction)))
    ev = s.val if val_fraction > 0 else s.test
    return s.train.inputs, s.train.labels, ev.inputs, ev.labels


def peer_net(arm: str, width: float):
    """(forward (T, N, C) -> output spike counts (N, 10), parameters) of a peer arm."""
    import torch
    fc1, fc2 = torch.nn.Linear(64, 128), torch.nn.Linear(128, 10)
    if arm == "snntorch":
        import snntorch as snn
        from snntorch import surrogate
        grad = surrogate.fast_sigmoid(slope=1.0 / width)
        lif1 = snn.Leaky(beta=0.9, spike_grad=grad, reset_mechanism="subtract")
        lif2 = snn.Leaky(beta=0.9, spike_grad=grad, reset_mechanism="subtract")

        def forward(x):
            m1, m2 = lif1.init_leaky(), lif2.init_leaky()
            count = 0
            for t in range(x.shape[0]):
                s1, m1 = lif1(fc1(x[t]), m1)
                s2, m2 = lif2(fc2(s1), m2)
                count = count + s2
            return count
    elif arm == "norse":
        import norse.torch as nt
        p = nt.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(NORSE_VTH),
                                method="super", alpha=torch.tensor(1.0 / (width * NORSE_VTH)))
        cell1, cell2 = nt.LIFBoxCell(p), nt.LIFBoxCell(p)

        def forward(x):
            s1 = s2 = None
            count = 0
            for t in range(x.shape[0]):
                z1, s1 = cell1(fc1(x[t]), s1)
                z2, s2 = cell2(fc2(z1), s2)
                count = count + z2
            return count
    else:
        raise ValueError(arm)
    return forward, list(fc1.parameters()) + list(fc2.parameters())


def fit_peer(arm: str, params: dict, data, seed: int, size: dict) -> Dict[str, float]:
    """Adam + cross-entropy on the output spike counts, ``size``'s epochs and batch, the
    last epoch; accuracy on the evaluation arrays."""
    import torch
    xtr, ytr, xev, yev = data
    torch.manual_seed(int(seed))
    forward, weights = peer_net(arm, float(params["width"]))
    opt = torch.optim.Adam(weights, lr=float(params["lr"]))
    xtr_t = torch.from_numpy(np.ascontiguousarray(xtr)).float().permute(2, 0, 1)   # (T, N, C)
    xev_t = torch.from_numpy(np.ascontiguousarray(xev)).float().permute(2, 0, 1)
    ytr_t = torch.from_numpy(np.asarray(ytr)).long()
    gen = torch.Generator().manual_seed(int(seed))
    batch = size["batch_size"]
    t0 = time.perf_counter()
    for _ in range(size["epochs"]):
        perm = torch.randperm(len(ytr_t), generator=gen)
        for i in range(0, len(ytr_t), batch):
            idx = perm[i:i + batch]
            loss = torch.nn.functional.cross_entropy(forward(xtr_t[:, idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        pred = forward(xev_t).argmax(1).numpy()
    return {"accuracy": float((pred == np.asarray(yev)).mean()), "train_seconds": seconds}


def ours_params(params: dict) -> dict:
    return {"lr": params["lr"], "tau_grad": params["width"]}


def validation(arm: str, params: dict, split: int, size: dict, work: str) -> float:
    cfg = base_config(size)
    if arm == "ours":
        return harness.validation_accuracy(cfg, ours_params(params), split, work)
    data = arrays(cfg, split, harness.TUNE_VAL_FRACTION)
    return fit_peer(arm, params, data, split, size)["accuracy"]


def evaluate(arm: str, params: dict, seed: int, size: dict, work: str) -> Dict[str, Any]:
    """The chosen recipe trained on the whole training split (seed ``seed``), tested."""
    cfg = base_config(size)
    if arm != "ours":
        return {**fit_peer(arm, params, arrays(cfg, seed, 0.0), seed, size),
                "emulator_equals_torch": None}
    import torch

    from loihi_snn import emulate
    from loihi_snn.train.checkpoint import load_checkpoint
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train
    c = harness.final_config(cfg, ours_params(params), seed)
    t0 = time.perf_counter()
    res = train(c, os.path.join(work, f"ours_s{seed}"), progress=False, verbose=False,
                lava=False)
    seconds = time.perf_counter() - t0
    test = load_data(c).test
    model, _ = load_checkpoint(res.checkpoint)
    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(np.ascontiguousarray(test.inputs)).float()).numpy()
    out = np.asarray(emulate(res.net_path, test.inputs))
    return {"accuracy": float((ref.sum(-1).argmax(1) == test.labels).mean()),
            "train_seconds": seconds, "emulator_equals_torch": bool(np.array_equal(out, ref))}


# ----------------------------------------------------------------------------- summary

def summarize(rows: list) -> dict:
    evals = [r for r in rows if r["kind"] == "eval"]
    by = {a: {r["seed"]: r for r in evals if r["arm"] == a} for a in ARMS}
    s: Dict[str, Any] = {"arms": {}, "paired": {}}
    for a, runs in by.items():
        if runs:
            s["arms"][a] = {"accuracy": harness.mean_ci([r["accuracy"] for r in runs.values()]),
                            "train_seconds": harness.mean_ci([r["train_seconds"]
                                                              for r in runs.values()]),
                            "seeds": sorted(runs)}
    for peer in ("snntorch", "norse"):
        keys, d = harness.paired(by["ours"], by[peer],
                                 lambda x, y: x["accuracy"] - y["accuracy"])
        if keys:
            s["paired"][f"ours_minus_{peer}"] = {**harness.mean_ci(d), "seeds": keys}
    keys, d = harness.paired(by["snntorch"], by["norse"],
                             lambda x, y: x["accuracy"] - y["accuracy"])
    if keys:
        s["paired"]["snntorch_minus_norse"] = {**harness.mean_ci(d), "seeds": keys}
    ems = [r["emulator_equals_torch"] for r in by["ours"].values()]
    s["ours_emulator_equals_torch"] = all(ems) if ems else None
    return s


def _word(d: dict) -> str:
    return {1: "the first is better", -1: "the second is better", 0: "no difference shown",
            None: "undecided (one seed)"}[harness.sign(d)]


def verdicts(s: dict) -> dict:
    out = {}
    for key, claim in (("ours_minus_snntorch", "ours vs snnTorch, both tuned alike"),
                       ("ours_minus_norse", "ours vs Norse, both tuned alike"),
                       ("snntorch_minus_norse", "snnTorch vs Norse, both tuned alike")):
        d = s.get("paired", {}).get(key)
        if d:
            out[claim] = f"{_word(d)}: {ci(d, 100, '+.1f')} pts"
    return out


def plot(rows: list, s: dict, tunings: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    arms = [a for a in ARMS if a in s["arms"]]
    fig, axes = plt.subplots(1, 1 + len(tunings), figsize=(4.2 * (1 + len(tunings)), 3.8))
    axes = np.atleast_1d(axes)
    ax = axes[0]
    evals = [r for r in rows if r["kind"] == "eval"]
    for seed in sorted({r["seed"] for r in evals}):
        xs, ys = [], []
        for i, a in enumerate(arms):
            for r in evals:
                if r["arm"] == a and r["seed"] == seed:
                    xs.append(i)
                    ys.append(r["accuracy"])
        ax.plot(xs, ys, color="gray", alpha=0.4, marker=".")
    for i, a in enumerate(arms):
        c = s["arms"][a]["accuracy"]
        lo, hi = c["ci95"]
        ax.errorbar([i], [c["mean"]], yerr=[[c["mean"] - lo], [hi - c["mean"]]], marker="o",
                    ms=8, capsize=4, color=f"C{i}")
    ax.set_xticks(range(len(arms)), arms)
    ax.set_ylabel("test accuracy (mean, 95 % CI; gray: per seed)")
    ax.set_title("tuned alike, seed-paired")
    ax.grid(alpha=0.3)
    for ax, (a, tun) in zip(axes[1:], tunings.items()):
        lrs, ws = tun["grid"]["lr"], tun["grid"]["width"]
        m = np.full((len(lrs), len(ws)), np.nan)
        for p in tun["points"]:
            m[lrs.index(p["params"]["lr"]), ws.index(p["params"]["width"])] = p["mean"]
        im = ax.imshow(m, cmap="viridis", vmin=np.nanmin(m), vmax=np.nanmax(m))
        for i in range(len(lrs)):
            for j in range(len(ws)):
                ax.text(j, i, f"{m[i, j]:.3f}", ha="center", va="center", fontsize=7,
                        color="w")
        ax.set_xticks(range(len(ws)), ws)
        ax.set_yticks(range(len(lrs)), lrs)
        ax.set_xlabel("surrogate width (x threshold)")
        ax.set_ylabel("learning rate")
        ax.set_title(f"{a}: validation (chosen {tun['choice']['lr']}/{tun['choice']['width']})",
                     fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle("Digits: ours, snnTorch and Norse, each tuned by the one protocol")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write(rows, args, size, status, wall, study) -> None:
    Table = harness.Table
    s = summarize(rows)
    v = verdicts(s)
    tunings = {r["arm"]: r["tuning"] for r in rows if r["kind"] == "tune"}
    evals = [r for r in rows if r["kind"] == "eval"]
    tables = []
    main = Table("Test accuracy, each arm tuned alike (mean ± std over seeds; 95 % CI)",
                 ["arm", "chosen lr / width", "validation (tuning)", "seeds", "test accuracy",
                  "95 % CI", "train s (mean)"])
    for a in ARMS:
        if a in s["arms"] and a in tunings:
            c = s["arms"][a]["accuracy"]
            main.rows.append([NAMES[a], f"{tunings[a]['choice']['lr']} / "
                              f"{tunings[a]['choice']['width']}",
                              f"{tunings[a]['validation_accuracy']:.3f}", c["n"], pm(c),
                              f"[{c['ci95'][0]:.3f}, {c['ci95'][1]:.3f}]",
                              f"{s['arms'][a]['train_seconds']['mean']:.1f}"])
    comp = Table("Seed-paired differences (same encoded digits per seed)",
                 ["comparison", "difference, pts [95 % CI]", "verdict"])
    for claim, x in v.items():
        verdict, _, diff = x.partition(": ")
        comp.rows.append([claim, diff, verdict])
    tune_t = Table("Tuning per arm (validation accuracy, mean over the splits)",
                   ["arm", "points: lr / width -> validation accuracy", "chosen"])
    for a, tun in tunings.items():
        tune_t.rows.append([a, "; ".join(f"{p['params']['lr']}/{p['params']['width']} -> "
                                         f"{p['mean']:.3f}" for p in tun["points"]),
                            f"lr {tun['choice']['lr']}, width {tun['choice']['width']}"])
    per_seed = Table("Per seed (test accuracy)", ["arm", "seed", "accuracy", "train s",
                                                   "emulator == torch (ours)"])
    for r in evals:
        per_seed.rows.append([r["arm"], r["seed"], f"{r['accuracy']:.4f}",
                              f"{r['train_seconds']:.1f}", r["emulator_equals_torch"]])
    tables += [main, comp, tune_t, per_seed]
    n_tune = sum(t["trainings"] for t in tunings.values())
    text = [
        "Every arm: the package's digits split and rate code at T=16 (seed s: the same "
        "encoded arrays for every framework, and the same hold-outs while tuning), 64-128-10, "
        f"cross-entropy on the output spike counts, Adam, batch {size['batch_size']}, "
        f"{size['epochs']} epochs, the last epoch tested (no epoch picked).  Ours uses the "
        "`digits_lif` neuron (soft reset, decay 0.1, threshold 1, 8-bit weights in the "
        "training forward) and is tested as exported; snnTorch `Leaky` (beta 0.9, subtract "
        f"reset, threshold 1); Norse `LIFBoxCell` (beta 0.9, v_th {NORSE_VTH}, reset to 0).",
        f"Tuning (studies.harness.tune, per arm): grid {size['grid']} (width: surrogate width "
        "in units of the threshold: SLAYER tau_grad, snnTorch fast-sigmoid slope = 1/width, "
        f"Norse SuperSpike alpha = 1/(width x v_th)); {harness.TUNE_RULE}.  Budget: "
        f"{n_tune} tuning trainings, then {len(evals)} networks.",
        "The old, unequal comparison (`results/training_digits/`: our recipe from a ladder "
        "judged on test, the peers one untuned recipe at 25 epochs, batch 64) reported ours "
        "0.978 ± 0.006, snnTorch 0.977 ± 0.005, Norse 0.935 ± 0.008.",
        f"Our arm's emulator output (= Lava fixed_pt, tested elsewhere bit for bit) equals "
        f"its torch quantized forward on every test digit of every seed: "
        f"{s.get('ours_emulator_equals_torch')}.  Plot: `peers.png`.",
        "**Verdicts.** " + " ".join(f"*{k}*: {x}." for k, x in v.items()),
        f"Wall time {wall / 60:.1f} min (one torch thread; 2-core shared machine).",
    ]
    folder = os.path.join(args.out, "peers")
    os.makedirs(folder, exist_ok=True)
    if s["arms"] and tunings:
        plot(rows, s, tunings, os.path.join(folder, "peers.png"))
    harness.write_result("peers", study=study,
                         title="Ours beside snnTorch and Norse on digits, every arm tuned "
                               "by the one protocol",
                         tables=tables,
                         data={"size": args.size, "sizes": size, "arms": list(args.arms),
                               "tuning": tunings, "verdicts": v, "summary": s, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--arms", default=",".join(ARMS),
                   help=f"comma-separated subset of {','.join(ARMS)}")
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/peers/peers.{json,md,png}")
    p.add_argument("--work", default=None, help="folder for our trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    args.arms = [a for a in args.arms.split(",") if a]
    bad = [a for a in args.arms if a not in ARMS]
    if bad:
        p.error(f"unknown arms {bad}")
    study = harness.Study("peers", argv)
    harness.start()
    size = dict(SIZES[args.size])
    if args.seeds is not None:
        size["seeds"] = args.seeds
    choices: Dict[str, dict] = {}

    def run_cell(cell):
        kind, arm, value = cell
        with harness.work_folder(args.work, "peers-") as work:
            t0 = time.time()
            if kind == "tune":
                rec = harness.tune(size["grid"], lambda prm, split: validation(
                    arm, prm, split, size, work), size["splits"])
                choices[arm] = rec["choice"]
                return {"kind": "tune", "arm": arm, "tuning": rec,
                        "seconds": round(time.time() - t0, 1)}
            r = evaluate(arm, choices[arm], value, size, work)
            return {"kind": "eval", "arm": arm, "seed": value, "params": choices[arm], **r}

    def line(r):
        if r["kind"] == "tune":
            return (f"{r['arm']}: tuned {r['tuning']['choice']} validation "
                    f"{r['tuning']['validation_accuracy']:.3f} ({r['seconds']} s)")
        return (f"{r['arm']} seed {r['seed']}: test {r['accuracy']:.4f} "
                f"({r['train_seconds']:.1f} s; emulator == torch {r['emulator_equals_torch']})")

    cells = []
    for a in args.arms:
        cells += [("tune", a, None)] + [("eval", a, s) for s in range(size["seeds"])]
    rows = study.run(cells, run_cell,
                     lambda rows, status, wall: write(rows, args, size, status, wall, study),
                     line)
    ok = summarize(rows)["ours_emulator_equals_torch"] is not False
    print(f"results: {os.path.join(args.out, 'peers', 'peers.md')}")
    print(f"peers: {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Study: does the RCS regulariser make the Top-K cutoff stop sooner? (events conv net)

    python -m studies.rcs [--size small|full] [--seeds N] [--weights W,...] [--out DIR]

The setting of Wu et al. (2025) as far as this package reaches it: a convolutional LIF
network on event data (the synthetic DVS moving dot, 2x8x8, 4 directions, T=16,
conv8-conv16(stride 2)-dense), cross-entropy on the output spike counts, RCS on the
hidden layers only (``hidden_only=True``: the authors' networks end in a non-spiking
classifier, so their RCS never sees the output layer), RCS weights 0 / 0.001 / 0.003
(the authors' range) / 0.01 / 0.03.  For every seed each weight is trained on the same
data with the same seed and recipe (:data:`RECIPE`: the project's LIF surrogate, Adam
lr 0.001 with a cosine schedule, the last epoch exported).

Diagnosis (in the result too): the first version of this study (:data:`OLD_RECIPE`)
used a surrogate 50x flatter; through two spiking layers the cross-entropy gradient of
the first conv layer was ~1e3 times smaller than 0.003 x the RCS gradient (which enters
the voltage directly through ReLU(u / V_th)), so with Adam's per-parameter step RCS alone
trained the hidden layers at any weight; :func:`gradient_shares` measures that share per
layer for both recipes, :func:`old_recipe_curves` the old baseline's learning curves.

Per model: the exported network runs on the bit-exact emulator for the training,
validation and test splits; the cutoff thresholds are calibrated on the training
samples (the trainer's validation hold-out excluded) for an epsilon grid; epsilon is
chosen on the validation split only (:func:`loihi_snn.core.cutoff.choose_epsilon`:
the largest epsilon within 1 point of the validation fixed-T accuracy); the test split
gives fixed-T accuracy, cutoff accuracy and mean steps (offline rule on the emulator's
outputs = the Lava controller's decisions; the Lava cutoff controller runs on the first
``lava_samples`` test samples and must decide identically), the oracle OCT and the mean
cosine similarity cs between early and late representations (what RCS raises).
Per-seed paired differences against weight 0 get a 95 % t-interval.

Writes ``<out>/<name>/<name>.{json,md}`` (default name ``rcs``;
:func:`studies.harness.write_result`).  The walk-through: tutorials/08_rcs.py.
RCS: Wu et al., "Optimising Event-Driven SNN with Regularisation and Cutoff" (2025);
docs ALGORITHMS.md section 4 and ``loihi_snn/train/rcs.py``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

if __package__ in (None, ""):      # run as a file (python studies/rcs.py): find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

pm, ci = harness.pm, harness.interval      # mean ± std; mean [95 % interval]

T_STEPS = 16
EPSILONS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2)
SIZES = {
    "small": {"num_train": 160, "num_test": 40, "epochs": 1, "weights": [0.03], "seeds": 1,
              "lava_samples": 8, "old_recipe_seeds": 0, "diag_batches": 2},
    "full": {"num_train": 1500, "num_test": 1000, "epochs": 20,
             "weights": [0.001, 0.003, 0.01, 0.03], "seeds": 10, "lava_samples": 100,
             "old_recipe_seeds": 4, "diag_batches": 8},
}
EVENTS_OPTIONS = {"height": 8, "width": 8, "num_classes": 4}
#: the training recipe of every arm: the project's LIF surrogate (tau_grad 0.03, scale_grad
#: 3, as the digits / MNIST-1D presets), Adam lr 0.001 with a cosine schedule, the last
#: epoch exported (no selection on validation)
RECIPE = {"neuron": {"type": "lif", "reset": "hard", "threshold": 1.0, "current_decay": 0.5,
                     "voltage_decay": 0.1, "tau_grad": 0.03, "scale_grad": 3.0},
          "optimizer": {"type": "adam", "lr": 0.001, "schedule": "cosine"}, "select": "last"}
#: the recipe of the first version of this study (results/rcs/first_recipe), kept for
#: the diagnosis: a surrogate 50x flatter (tau_grad 0.5, scale_grad 1: peak 0.001) and
#: Adam lr 0.01 at a constant rate, the best epoch on validation exported, 12 epochs
OLD_RECIPE = {"neuron": {**RECIPE["neuron"], "tau_grad": 0.5, "scale_grad": 1.0},
              "optimizer": {"type": "adam", "lr": 0.01, "schedule": "constant"},
              "select": "best", "epochs": 12}
NEURON = RECIPE["neuron"]
DIAG_WEIGHT = 0.003     # the RCS weight at which the gradient shares are reported


def config_for(weight: float, size: dict, seed: int, recipe: dict = RECIPE):
    from loihi_snn.train.config import TrainConfig
    return TrainConfig(
        name=f"events_rcs{weight:g}".replace(".", "p"), dataset="events", encoding="binary",
        T=T_STEPS, dataset_options={**EVENTS_OPTIONS, "num_train": size["num_train"],
                                    "num_test": size["num_test"]},
        val_fraction=0.1, neuron=dict(recipe["neuron"]),
        loss={"type": "cross_entropy", "scale": 1.0},
        architecture=[{"type": "conv", "out": 8, "kernel": 3, "padding": 1, "weight_scale": 3,
                       "weight_norm": False},
                      {"type": "conv", "out": 16, "kernel": 3, "padding": 1, "stride": 2,
                       "weight_scale": 3, "weight_norm": False},
                      {"type": "flatten"},
                      {"type": "dense", "weight_scale": 2, "weight_norm": False}],
        optimizer=dict(recipe["optimizer"]), select=recipe["select"],
        epochs=recipe.get("epochs", size["epochs"]), batch_size=16,
        seed=seed, device="cpu", rcs_weight=weight)


def gradient_shares(recipe: dict, size: dict, seed: int = 0) -> dict:
    """Per layer, at initialisation: the norm of the cross-entropy gradient and of the RCS
    gradient (hidden layers, max over qualifying samples) on ``diag_batches`` training
    batches of 16, and ``DIAG_WEIGHT * |grad RCS| / |grad CE|`` (mean over the batches).

    Adam normalises each parameter's step, so where that share is >> 1 the RCS term
    alone steers the layer, whatever its weight."""
    import torch

    from loihi_snn.train import rcs
    from loihi_snn.train.checkpoint import model_from_config
    from loihi_snn.train.data import load_data
    cfg = config_for(DIAG_WEIGHT, size, seed, recipe)
    splits = load_data(cfg)
    torch.manual_seed(seed)
    model = model_from_config(cfg, splits.input_shape, splits.num_classes)
    model.train()
    rcs.enable_recording(model.blocks)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = [p for p in model.parameters() if p.requires_grad]
    gen = np.random.default_rng(seed)
    ce_n, rcs_n, terms, qual = [], [], [], []
    for _ in range(size["diag_batches"]):
        idx = gen.choice(len(splits.train), 16, replace=False)
        x = torch.from_numpy(np.ascontiguousarray(splits.train.inputs[idx])).float()
        y = torch.from_numpy(np.asarray(splits.train.labels[idx])).long()
        out = model(x)
        ce = torch.nn.functional.cross_entropy(out.sum(-1), y)
        layers = rcs.collect(model.blocks)[:-1]          # hidden layers, as the study
        term = rcs.rcs_loss(layers, out, y)
        g_ce = torch.autograd.grad(ce, params, retain_graph=True, allow_unused=True)
        g_r = torch.autograd.grad(term, params, allow_unused=True) if term.requires_grad \
            else [None] * len(params)
        ce_n.append([0.0 if g is None else float(g.norm()) for g in g_ce])
        rcs_n.append([0.0 if g is None else float(g.norm()) for g in g_r])
        terms.append(float(term))
        qual.append(int(rcs.correct_in_tail(out, y).sum()))
    ce_n, rcs_n = np.array(ce_n), np.array(rcs_n)
    share = DIAG_WEIGHT * rcs_n / np.maximum(ce_n, 1e-30)
    tau, height = model.blocks[0].neuron.surrogate_params()
    return {"surrogate_tau": tau, "surrogate_peak": height, "batches": size["diag_batches"],
            "rcs_term_mean": float(np.mean(terms)), "qualifying_per_batch": float(np.mean(qual)),
            "layers": [{"parameter": n, "grad_ce": float(ce_n[:, i].mean()),
                        "grad_rcs": float(rcs_n[:, i].mean()),
                        "share_at_weight": float(share[:, i].mean())}
                       for i, n in enumerate(names)]}


def old_recipe_curves(size: dict, seeds: int) -> list:
    """Weight-0 learning curves of :data:`OLD_RECIPE` (training only, nothing measured)."""
    from loihi_snn.train.loop import train
    rows = []
    for seed in range(seeds):
        with tempfile.TemporaryDirectory(prefix="rcs-old-") as d:
            res = train(config_for(0.0, size, seed, OLD_RECIPE), d, progress=False,
                        verbose=False, lava=False)
        rows.append({"seed": seed, "best_epoch": res.best_epoch,
                     "val_curve": [h["validation_accuracy"] for h in res.history],
                     "loss_curve": [h["loss"] for h in res.history]})
    return rows


def layer_similarity(checkpoint: str, inputs: np.ndarray) -> list:
    """Mean over samples and steps of cos(r(t), r_d) per spiking layer (float forward)."""
    import torch

    from loihi_snn.train import rcs
    from loihi_snn.train.checkpoint import load_checkpoint
    model, _ = load_checkpoint(checkpoint)
    model.train()                       # float forward with voltage recording
    rcs.enable_recording(model.blocks)
    sims = []
    with torch.no_grad():
        for i in range(0, len(inputs), 128):
            model(torch.from_numpy(np.ascontiguousarray(inputs[i:i + 128])).float())
            row = []
            for s, v, th in rcs.collect(model.blocks):
                N, T = s.shape[0], s.shape[-1]
                r = s.reshape(N, -1, T) + torch.relu(v.reshape(N, -1, T) / th)
                r_d = r[..., -rcs.tail_length(T):].mean(dim=-1, keepdim=True)
                row.append(float(rcs.cosine(r, r_d).mean()) * N)
            sims.append(row)
    return (np.sum(sims, 0) / len(inputs)).tolist()


def measure(net_path: str, checkpoint: str, splits, lava_samples: int) -> dict:
    """Fixed-T and cutoff figures of one exported network (see the module docstring)."""
    from loihi_snn import emulate
    from loihi_snn.core.cutoff import (calibrate, choose_epsilon, offline_cutoff,
                                       optimal_cutoff_steps)
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff

    out_train = emulate(net_path, splits.train.inputs)
    out_val = emulate(net_path, splits.val.inputs)
    out_test = emulate(net_path, splits.test.inputs)
    labels = splits.test.labels
    T = out_test.shape[-1]
    cum = np.cumsum(out_test, axis=-1)
    fixed_t = [float((cum[..., t].argmax(1) == labels).mean()) for t in range(T)]
    cal, val_sweep = choose_epsilon(out_train, splits.train.labels, out_val, splits.val.labels,
                                    EPSILONS)
    preds, steps = offline_cutoff(out_test, cal.beta)
    test_sweep = []
    for row in val_sweep:
        c = calibrate(out_train, splits.train.labels, epsilon=row["epsilon"])
        p, s = offline_cutoff(out_test, c.beta)
        test_sweep.append({"epsilon": row["epsilon"], "accuracy": float((p == labels).mean()),
                           "mean_steps": float(s.mean())})
    k = min(lava_samples, len(labels))
    lava = run_cutoff(net_path, splits.test.inputs[:k], beta=cal.beta, progress=False)
    same = bool((lava.predictions == preds[:k]).all() and (lava.steps == steps[:k]).all())
    oct_steps = optimal_cutoff_steps(out_test, labels)
    settled = oct_steps <= T
    return {
        "fixed_T_accuracy": fixed_t[-1], "fixed_t_curve": fixed_t,
        "epsilon": cal.epsilon, "val_sweep": val_sweep, "test_sweep": test_sweep,
        "cutoff_accuracy": float((preds == labels).mean()), "mean_steps": float(steps.mean()),
        "lava": {"samples": k, "equals_offline_rule": same,
                 "accuracy": float((lava.predictions == labels[:k]).mean()),
                 "mean_steps": float(lava.steps.mean()),
                 "steps_per_second": round(float(lava.steps_per_second), 1)},
        "oct_mean_steps_settled": float(oct_steps[settled].mean()) if settled.any() else None,
        "oct_settled_fraction": float(settled.mean()),
        "cs_per_layer": layer_similarity(checkpoint, splits.test.inputs),
        "output_spikes_per_sample": float(np.abs(out_test).sum() / len(out_test)),
        "test_samples": int(len(labels)), "calibration_samples": int(len(splits.train)),
        "validation_samples": int(len(splits.val)),
    }


def summarize(rows: list, weights: list) -> list:
    """Per weight: mean ± std over seeds and paired differences against weight 0."""
    mean_ci = harness.mean_ci
    base = {r["seed"]: r for r in rows if r["weight"] == 0.0}
    out = []
    for w in [0.0] + list(weights):
        rs = [r for r in rows if r["weight"] == w]
        if not rs:
            continue
        paired = [r for r in rs if r["seed"] in base]
        out.append({
            "weight": w, "seeds": [r["seed"] for r in rs],
            "fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] for r in rs]),
            "cutoff_accuracy": mean_ci([r["cutoff_accuracy"] for r in rs]),
            "mean_steps": mean_ci([r["mean_steps"] for r in rs]),
            "epsilon": mean_ci([r["epsilon"] for r in rs]),
            "oct_mean_steps": mean_ci([r["oct_mean_steps_settled"] for r in rs]),
            "cs_hidden": mean_ci([np.mean(r["cs_per_layer"][:-1]) for r in rs]),
            "cs_output": mean_ci([r["cs_per_layer"][-1] for r in rs]),
            "delta_mean_steps": mean_ci([r["mean_steps"] - base[r["seed"]]["mean_steps"]
                                         for r in paired]),
            "delta_cutoff_accuracy": mean_ci([r["cutoff_accuracy"] -
                                              base[r["seed"]]["cutoff_accuracy"] for r in paired]),
            "delta_fixed_T_accuracy": mean_ci([r["fixed_T_accuracy"] -
                                               base[r["seed"]]["fixed_T_accuracy"]
                                               for r in paired]),
            "delta_oct": mean_ci([(r["oct_mean_steps_settled"] or np.nan) -
                                  (base[r["seed"]]["oct_mean_steps_settled"] or np.nan)
                                  for r in paired]),
            "delta_cs_hidden": mean_ci([np.mean(r["cs_per_layer"][:-1]) -
                                        np.mean(base[r["seed"]]["cs_per_layer"][:-1])
                                        for r in paired]),
            "lava_equals_offline_rule": all(r["lava"]["equals_offline_rule"] for r in rs),
            "at_epsilon": [_at_epsilon(eps, rs, base) for eps in EPSILONS],
        })
    return out


def _at_epsilon(eps: float, rs: list, base: dict) -> dict:
    """Test-split cutoff figures at one fixed epsilon (no choice on validation), and the
    paired differences against weight 0 at the same epsilon."""
    mean_ci = harness.mean_ci

    def at(r):
        return next(x for x in r["test_sweep"] if x["epsilon"] == eps)
    paired = [r for r in rs if r["seed"] in base]
    return {"epsilon": eps,
            "accuracy": mean_ci([at(r)["accuracy"] for r in rs]),
            "mean_steps": mean_ci([at(r)["mean_steps"] for r in rs]),
            "delta_mean_steps": mean_ci([at(r)["mean_steps"] - at(base[r["seed"]])["mean_steps"]
                                         for r in paired]),
            "delta_accuracy": mean_ci([at(r)["accuracy"] - at(base[r["seed"]])["accuracy"]
                                       for r in paired])}


def verdict(summary: list) -> str:
    """'reproduced' only when some weight cuts the mean steps (95 % interval below 0)
    without an accuracy loss whose interval lies below -1 point."""
    parts, reproduced = [], False
    for s in summary[1:]:
        d, a = s["delta_mean_steps"], s["delta_cutoff_accuracy"]
        if d["n"] < 2:
            return "undecided (fewer than 2 seeds)"
        fewer = d["ci95"][1] < 0
        lossless = a["ci95"][0] > -0.01
        reproduced |= fewer and lossless
        parts.append(f"weight {s['weight']:g}: Δ mean steps {d['mean']:+.2f} "
                     f"[{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}], Δ cutoff accuracy "
                     f"{100 * a['mean']:+.1f} pts [{100 * a['ci95'][0]:+.1f}, "
                     f"{100 * a['ci95'][1]:+.1f}]")
    head = ("reproduced: RCS makes the cutoff stop sooner without an accuracy loss"
            if reproduced else "not reproduced at this scale")
    return f"{head} ({'; '.join(parts)})"


def recipe_note(diag: dict) -> str:
    """Why the recipe changed, in figures from ``diag`` (see :func:`gradient_shares`)."""
    text = ("Recipe: the first version of this study (results/rcs/first_recipe) trained "
            "with tau_grad 0.5 / scale_grad 1, Adam lr 0.01 constant and the best "
            "validation epoch.")
    shares = diag.get("gradient_shares", {})
    if "old" in shares:
        old = shares["old"]
        first, out = old["layers"][0], old["layers"][-1]
        text += (f"  Its surrogate peak is {old['surrogate_peak']:.2g}: at initialisation the "
                 f"cross-entropy gradient of the first hidden layer is "
                 f"{first['grad_ce'] / out['grad_ce']:.1e} of the output layer's and "
                 f"{DIAG_WEIGHT:g} x the RCS gradient is {first['share_at_weight']:.3g} times it "
                 f"there, so with Adam's per-parameter step RCS alone steers that layer at "
                 f"any weight.")
    curves = diag.get("old_recipe", [])
    if curves:
        best = [r["best_epoch"] for r in curves]
        low = [int(np.argmin(r["loss_curve"])) + 1 for r in curves]
        text += (f"  Its weight-0 baseline ({len(curves)} seeds) peaks on validation at epochs "
                 f"{', '.join(map(str, best))} of {len(curves[0]['val_curve'])} and reaches its "
                 f"lowest training loss at epochs {', '.join(map(str, low))}, then drifts "
                 f"(lr too high).")
    if "this study" in shares:
        new = shares["this study"]
        text += (f"  This run: the project's LIF surrogate (tau_grad 0.03, scale_grad 3, peak "
                 f"{new['surrogate_peak']:.2g}; RCS share at weight {DIAG_WEIGHT:g} "
                 + " / ".join(f"{x['share_at_weight']:.2g}" for x in new["layers"][:-1])
                 + " in the hidden layers), lr 0.001 with a cosine schedule, the last epoch.")
    return text


def secondary(summary: list) -> str:
    """Per RCS weight: the fixed epsilons at which it cuts the mean steps (95 % interval
    below 0) without an accuracy loss (interval above -1 point), and those at which it
    adds steps (interval above 0)."""
    parts = []
    for s in summary[1:]:
        cut = [e["epsilon"] for e in s["at_epsilon"]
               if e["delta_mean_steps"]["ci95"][1] < 0 and e["delta_accuracy"]["ci95"][0] > -0.01]
        add = [e["epsilon"] for e in s["at_epsilon"] if e["delta_mean_steps"]["ci95"][0] > 0]
        parts.append(f"weight {s['weight']:g}: fewer steps without loss at epsilon "
                     f"{', '.join(f'{e:g}' for e in cut) or 'none'}; more steps at "
                     f"{', '.join(f'{e:g}' for e in add) or 'none'}")
    return "; ".join(parts)


def write(rows, args, size, status, wall, diag, study) -> None:
    Table = harness.Table
    summary = summarize(rows, size["weights"])
    v = verdict(summary) if len(summary) > 1 else "undecided (no RCS model yet)"
    main = Table("Per RCS weight (mean ± std over seeds; test split)",
                 ["RCS weight", "seeds", "fixed-T acc", "epsilon (chosen on validation)",
                  "cutoff acc", "mean steps", "OCT (oracle)", "cs hidden", "cs output"])
    paired = Table("Paired differences against weight 0 (per seed, 95 % t-interval)",
                   ["RCS weight", "seeds", "Δ mean steps", "Δ cutoff acc, pts",
                    "Δ fixed-T acc, pts", "Δ OCT steps", "Δ cs hidden"])
    for s in summary:
        main.rows.append([f"{s['weight']:g}", len(s["seeds"]), pm(s["fixed_T_accuracy"]),
                          pm(s["epsilon"]), pm(s["cutoff_accuracy"]),
                          pm(s["mean_steps"], fmt=".2f"), pm(s["oct_mean_steps"], fmt=".2f"),
                          pm(s["cs_hidden"]), pm(s["cs_output"])])
        if s["weight"] != 0.0:
            paired.rows.append([f"{s['weight']:g}", s["delta_mean_steps"]["n"],
                                ci(s["delta_mean_steps"]),
                                ci(s["delta_cutoff_accuracy"], 100, "+.1f"),
                                ci(s["delta_fixed_T_accuracy"], 100, "+.1f"),
                                ci(s["delta_oct"]), ci(s["delta_cs_hidden"], 1, "+.3f")])
    fixed_eps = Table("Secondary: the same comparison at each fixed epsilon (test split; "
                      "the epsilon choice on 150 validation samples is the noisiest step)",
                      ["RCS weight", "epsilon", "cutoff acc", "mean steps",
                       "Δ mean steps [95 % CI]", "Δ cutoff acc, pts [95 % CI]"])
    for s in summary:
        for e in s["at_epsilon"]:
            fixed_eps.rows.append([f"{s['weight']:g}", f"{e['epsilon']:g}", pm(e["accuracy"]),
                                   pm(e["mean_steps"], fmt=".2f"),
                                   "" if s["weight"] == 0.0 else ci(e["delta_mean_steps"]),
                                   "" if s["weight"] == 0.0 else
                                   ci(e["delta_accuracy"], 100, "+.1f")])
    per_seed = Table("Per seed", ["seed", "RCS weight", "fixed-T acc", "epsilon", "cutoff acc",
                                  "mean steps", "Lava cutoff == offline rule (samples)",
                                  "validation acc, epochs 1 / 5 / 10 / last"])
    for r in rows:
        curve = r["val_curve"]
        marks = [curve[i] for i in (0, 4, 9) if i < len(curve) - 1] + [curve[-1]]
        per_seed.rows.append([r["seed"], f"{r['weight']:g}", r["fixed_T_accuracy"], r["epsilon"],
                              r["cutoff_accuracy"], f"{r['mean_steps']:.2f}",
                              f"{r['lava']['equals_offline_rule']} ({r['lava']['samples']})",
                              " / ".join(f"{c:.3f}" for c in marks)])
    tables = [main, paired, fixed_eps, per_seed]
    shares = diag.get("gradient_shares", {})
    if shares:
        g = Table(f"Diagnosis: gradient norms per layer at initialisation (mean over "
                  f"{next(iter(shares.values()))['batches']} batches of 16), and the RCS share "
                  f"{DIAG_WEIGHT:g} x norm(grad RCS) / norm(grad CE)",
                  ["recipe", "surrogate peak", "parameter", "norm of grad CE",
                   "norm of grad RCS", f"share at weight {DIAG_WEIGHT:g}"])
        for name, d in shares.items():
            for layer in d["layers"]:
                g.rows.append([name, f"{d['surrogate_peak']:.4g}", layer["parameter"],
                               f"{layer['grad_ce']:.3g}", f"{layer['grad_rcs']:.3g}",
                               f"{layer['share_at_weight']:.3g}"])
        tables.append(g)
    old = diag.get("old_recipe", [])
    if old:
        o = Table("Diagnosis: weight-0 learning curves of the old recipe (lr 0.01 constant, "
                  "tau_grad 0.5, best epoch on validation, 12 epochs)",
                  ["seed", "best epoch", "validation acc per epoch", "training loss per epoch"])
        for r in old:
            o.rows.append([r["seed"], r["best_epoch"],
                           " ".join(f"{c:.2f}" for c in r["val_curve"]),
                           " ".join(f"{c:.2f}" for c in r["loss_curve"])])
        tables.append(o)
    opt = RECIPE["optimizer"]
    text = [
        f"Events conv net (synthetic DVS moving dot {EVENTS_OPTIONS['height']}x"
        f"{EVENTS_OPTIONS['width']}x2, {EVENTS_OPTIONS['num_classes']} classes, "
        f"{size['num_train']} training ({size['num_train'] - round(0.1 * size['num_train'])} "
        f"calibration + {round(0.1 * size['num_train'])} validation) / {size['num_test']} test "
        f"samples), conv8-conv16(stride 2)-dense, binary LIF {NEURON}, T={T_STEPS}, "
        f"cross-entropy on the output spike counts, Adam lr {opt['lr']:g} ({opt['schedule']} "
        f"schedule), batch 16, {size['epochs']} epochs, the last epoch exported (no selection "
        "on validation); RCS on the hidden layers only "
        f"(max over the qualifying samples, r_d over the last 30 % of the steps).",
        "Cutoff: thresholds calibrated on the calibration samples for epsilon in "
        f"{list(EPSILONS)}; epsilon chosen on the validation split (largest within 1 point "
        "of the validation fixed-T accuracy); test figures from the offline rule on the "
        "bit-exact emulator's outputs of the whole test split; the Lava cutoff controller "
        f"(lava-fixed) on the first {size['lava_samples']} test samples decides identically "
        f"for {sum(r['lava']['equals_offline_rule'] for r in rows)} of {len(rows)} models.",
        recipe_note(diag),
        f"**Verdict:** {v}.",
        "At each fixed epsilon (secondary table): "
        + (secondary(summary) if len(summary) > 1 else "no RCS model yet") + ".",
        f"Wall time {wall / 60:.1f} min.",
    ]
    harness.write_result(args.name, study=study,
                         title="RCS regulariser against the Top-K cutoff: events conv net, "
                         "T=16, cross-entropy, hidden layers only",
                         tables=tables,
                         data={"size": args.size, "sizes": size, "neuron": NEURON,
                               "recipe": RECIPE, "old_recipe": OLD_RECIPE, "diagnosis": diag,
                               "events_options": EVENTS_OPTIONS, "epsilons": list(EPSILONS),
                               "rcs": {"hidden_only": True, "reduction": "max",
                                       "reference": "tail"},
                               "verdict": v, "summary": summary, "rows": rows,
                               "wall_seconds": round(wall, 1)},
                         text=text, status=status, out=args.out)


def train_and_measure(seed: int, w: float, size: dict, work: str) -> dict:
    """One model: RCS weight ``w``, seed ``seed``, trained with :data:`RECIPE` and
    measured (:func:`measure`)."""
    from loihi_snn.train.data import load_data
    from loihi_snn.train.loop import train
    t0 = time.time()
    cfg = config_for(w, size, seed)
    res = train(cfg, os.path.join(work, f"seed{seed}_w{w:g}"), progress=False,
                verbose=False, lava=False)
    row = {"seed": seed, "weight": w, "best_epoch": res.best_epoch,
           "val_curve": [h["validation_accuracy"] for h in res.history],
           "loss_curve": [h["loss"] for h in res.history],
           **measure(res.net_path, res.checkpoint, load_data(cfg), size["lava_samples"])}
    row["seconds"] = round(time.time() - t0, 1)
    return row


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default by size)")
    p.add_argument("--weights", default=None,
                   help="comma-separated RCS weights besides 0 (default by size)")
    p.add_argument("--name", default="rcs", help="result name (OUT/NAME/NAME.{json,md})")
    p.add_argument("--out", default=str(harness.RESULTS), help="results folder")
    p.add_argument("--work", default=None, help="folder for the trained models "
                   "(default: a temporary folder, removed at the end)")
    args = p.parse_args(argv)
    study = harness.Study("rcs", argv)        # the revision and machine this run started from
    harness.start()       # Lava first: before torch / tqdm create a multiprocessing context

    from loihi_snn.train import rcs
    from loihi_snn.train.regularizers import REGULARIZERS
    REGULARIZERS["rcs"] = rcs.make_regularizer(hidden_only=True)

    size = dict(SIZES[args.size])
    if args.weights is not None:
        size["weights"] = [float(w) for w in args.weights.split(",") if w.strip()]
    if args.seeds is not None:
        size["seeds"] = args.seeds
    diag = {"gradient_shares": {"old": gradient_shares(OLD_RECIPE, size),
                                "this study": gradient_shares(RECIPE, size)}}
    if size["old_recipe_seeds"]:
        diag["old_recipe"] = old_recipe_curves(size, size["old_recipe_seeds"])
    for name, d in diag["gradient_shares"].items():
        print(f"{name} recipe: RCS share at weight {DIAG_WEIGHT:g} per layer "
              + " / ".join(f"{x['share_at_weight']:.3g}" for x in d["layers"]), flush=True)
    cells = [(seed, w) for seed in range(args.seed, args.seed + size["seeds"])
             for w in [0.0] + size["weights"]]

    def line(row):
        return (f"seed {row['seed']} weight {row['weight']:<6g} fixed-T acc "
                f"{row['fixed_T_accuracy']:.3f} | eps {row['epsilon']:g}: cutoff acc "
                f"{row['cutoff_accuracy']:.3f}, mean steps {row['mean_steps']:.2f} (Lava == rule: "
                f"{row['lava']['equals_offline_rule']}) | OCT "
                f"{row['oct_mean_steps_settled'] or float('nan'):.2f} | cs "
                + "/".join(f"{c:.3f}" for c in row["cs_per_layer"]) + f" | {row['seconds']} s")

    with harness.work_folder(args.work, "rcs-") as work:
        rows = study.run(cells, lambda c: train_and_measure(c[0], c[1], size, work),
                         lambda rows, status, wall: write(rows, args, size, status, wall, diag,
                                                          study), line)
    ok = all(r["lava"]["equals_offline_rule"] for r in rows)
    summary = summarize(rows, size["weights"])
    print(f"results: {os.path.join(args.out, args.name, args.name + '.md')}")
    print(f"rcs: {'OK' if ok else 'FAILED'}: {verdict(summary)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

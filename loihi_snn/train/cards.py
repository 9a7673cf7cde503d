"""Model cards: what a trained network is, how well it does on torch and on Lava, and how to redo it.

:func:`build_card` collects a JSON-serialisable dict; :func:`write_card` writes it
as ``model_card.json`` and a human-readable ``MODEL_CARD.md`` (both atomically).
:func:`reference_inputs` regenerates the card's reference subset (the first test
samples whose Lava and torch predictions the card records), so a test can rerun a
committed ``.net`` file and compare.

Card sections (``card_version`` 2): ``name``, ``description``, ``created``,
``data`` (data set, encoding, T, options, seed, input scale, split sizes),
``architecture`` (layers with shapes), ``neuron``, ``training`` (epochs, loss,
optimiser, best epoch, history, device, processes), ``torch`` (test accuracy),
``lava`` (accuracy, samples, agreement, identical spikes, time; or ``skipped``),
``agreement``, ``spikes_per_sample`` (per layer and total), ``steps_per_sample``,
``cutoff_steps`` (mean steps per sample with the calibrated Top-K cutoff on Lava, or
None when the model was not calibrated), ``cutoff`` (None, or the calibration: epsilon,
per-step thresholds beta stored in the file's ``/cutoff`` group, the offline rule on the
torch test outputs, and the Lava cutoff controller's accuracy, mean steps and per-sample
decisions on the reference subset), ``reference_subset``,
``export`` (file, sha256, per-layer weight bits and neuron parameters as read back
by :func:`loihi_snn.netx.read_netx`), ``deployment`` (what the exported network costs:
NeuroBench's metrics on the fixed-point network over the test split, at the full T and
with the file's cutoff thresholds -- :func:`deployment_metrics`; cards written before
it get it with ``tools/card_metrics.py``, which records its own provenance), ``seed``, ``command``, ``provenance`` (the
record of :mod:`loihi_snn.core.provenance`: git revision and whether the tree was
clean, machine with the training device and package versions, load, date),
``wall_seconds``.  Cards of ``card_version`` 1 hold ``machine`` (cpu, logical_cores,
...) and ``software`` instead of ``provenance``; :func:`card_provenance` reads both.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from loihi_snn.core import provenance
from loihi_snn.core.cutoff import offline_cutoff
from loihi_snn.core.files import atomic_write_text
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.netx.describe import layer_table
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.emulator import UnsupportedByEmulator
from loihi_snn.sim.metrics import ENERGY_NOTE, measure_activity, metrics_from_activity
from loihi_snn.train.data import load_split

__all__ = ["CARD_JSON", "CARD_MD", "build_card", "card_provenance", "deployment_metrics",
           "load_card", "reference_inputs", "render_markdown", "write_card"]

CARD_JSON = "model_card.json"
CARD_MD = "MODEL_CARD.md"
CARD_VERSION = 2


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def card_provenance(card: Dict[str, Any]) -> Dict[str, Any]:
    """The card's provenance record (:mod:`loihi_snn.core.provenance`), also for a
    ``card_version`` 1 card (its ``machine`` and ``software``, normalised)."""
    if "provenance" in card:
        return provenance.normalise(card["provenance"])
    return provenance.normalise(card)


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_summary(net_path: str) -> Dict[str, Any]:
    """What the exported file says, read back with :func:`loihi_snn.netx.read_netx`."""
    spec = read_netx(net_path)
    rows = layer_table(spec)
    bits = [r["weight_bits"] for r in rows if r["weight_bits"] is not None]
    return _jsonable({
        "file": os.path.basename(net_path), "bytes": os.path.getsize(net_path),
        "sha256": _sha256(net_path), "format": "NetX HDF5 (lava-dl)",
        "input_shape": list(spec.input_shape), "output_shape": list(spec.output_shape),
        "neuron_types": spec.neuron_types, "extensions": sorted(spec.extensions),
        "max_weight_bits": max(bits) if bits else None,
        "neurons": int(sum(int(np.prod(r["shape"])) for r in rows if r["neuron"])),
        "synapses": int(sum(r["synapses"] for r in rows)),
        "layers": rows,
    })


def deployment_metrics(net_path: str, inputs: np.ndarray) -> Dict[str, Any]:
    """What the exported network costs on ``inputs`` (the test split): NeuroBench's
    metrics of the deployed fixed-point network (:mod:`loihi_snn.sim.metrics`, one
    bit-exact emulator run) at the full T (``full_T``) and, when the file stores cutoff
    thresholds, with the cutoff's steps (``cutoff``: the offline rule on the emulator's
    output, the Lava controller's decisions) -- what ``loihi-snn eval --backend emulator
    --metrics [--cutoff]`` prints on the same split.  ``{"skipped": reason}`` for a
    network the emulator cannot run."""
    spec = read_netx(net_path)
    T = int(inputs.shape[-1])
    try:
        plan, activity = measure_activity(spec, inputs)
    except UnsupportedByEmulator as exc:
        return {"skipped": f"not measured: {exc}"}
    source = "emulator (bit-exact fixed_pt)"
    out: Dict[str, Any] = {"split": "test", "samples": int(inputs.shape[0]), "T": T,
                           "full_T": metrics_from_activity(plan, activity, source=source).to_dict()}
    cal = load_calibration(spec, steps=T)
    if cal is not None and activity.outputs is not None and activity.outputs.ndim == 3:
        _, used = offline_cutoff(activity.outputs, cal.beta, T)
        out["cutoff"] = metrics_from_activity(plan, activity, used, source=source).to_dict()
    return _jsonable(out)


def build_card(*, config, splits, model, history: List[Dict[str, Any]], best: Dict[str, Any],
               torch_eval: Dict[str, np.ndarray], torch_accuracy: float, lava: Dict[str, Any],
               net_path: str, checkpoint: str, command: str, device: str, world_size: int,
               train_seconds: float, wall_seconds: float,
               cutoff: Optional[Dict[str, Any]] = None,
               started: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """Assemble the card dict (see the module docstring for its sections).

    Args:
        torch_eval: :func:`loihi_snn.train.verify.evaluate_model` on the whole test split.
        lava: the Lava comparison (:func:`loihi_snn.train.verify.run_on_lava`:
            ``accuracy``, ``agreement``, ..., ``reference_subset``) or ``{"skipped": reason}``.
        cutoff: the cutoff calibration section (:func:`loihi_snn.train.verify.calibrate_cutoff`,
            ``config.cutoff_epsilon``), or None.
        started: the provenance record taken when training started (before this run
            wrote anything into the tree); None takes one now.
    """
    test = splits.test
    T = splits.T
    names = model.layer_names()
    per_layer = torch_eval["layer_spikes"].mean(0) if len(test) else np.zeros(len(names))
    neurons = [int(np.prod(model.layers[i]["out_shape"])) for i in model.spiking]
    lava_clean = {k: v for k, v in lava.items() if k != "reference_subset"}
    spikes = {
        "source": "torch eval forward on the test split",
        "per_layer": {n: float(v) for n, v in zip(names, per_layer)},
        "total": float(per_layer.sum()),
        "rate_per_neuron_per_step": {n: float(v) / (k * T) for n, v, k in
                                     zip(names, per_layer, neurons)},
        "output_lava": lava.get("output_spikes_per_sample"),
    }
    card = {
        "card_version": CARD_VERSION,
        "name": config.name,
        "description": config.description,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "data": {
            "dataset": config.dataset, "encoding": splits.encoding, "T": T,
            "options": splits.options, "seed": splits.data_seed,
            "input_scale": config.input_scale, "input_shape": list(splits.input_shape),
            "num_classes": splits.num_classes,
            "splits": {"train": len(splits.train),
                       "validation": 0 if splits.val is None else len(splits.val),
                       "test": len(test)},
            "train_limit": config.train_limit, "test_limit": config.test_limit,
            "val_fraction": config.val_fraction,
        },
        "architecture": [{k: v for k, v in layer.items()} for layer in model.layers],
        "neuron": model.neuron,
        "training": {
            "epochs": config.epochs, "batch_size": config.batch_size,
            "loss": config.resolved_loss, "optimizer": config.resolved_optimizer,
            "rcs_weight": config.rcs_weight, "device": device, "processes": world_size,
            "best_epoch": best["epoch"], "selected_on": splits.selected_on,
            "select": config.select,
            "selection_accuracy": best["score"], "train_seconds": round(train_seconds, 1),
            "history": history, "checkpoint": os.path.basename(checkpoint),
        },
        "torch": {"forward": "SLAYER eval forward (quantized weights, as exported)",
                  "test_samples": len(test), "test_accuracy": torch_accuracy},
        "lava": lava_clean,
        "agreement": lava.get("agreement"),
        "spikes_per_sample": spikes,
        "steps_per_sample": T,
        "cutoff_steps": _cutoff_steps(cutoff),
        "cutoff": cutoff,
        "reference_subset": lava.get("reference_subset"),
        "export": export_summary(net_path),
        "deployment": deployment_metrics(net_path, test.inputs),
        "seed": config.seed,
        "command": command,
        "config": config.to_dict(),
        "provenance": dict(started) if started is not None
        else provenance.record(command, device=device),
        "wall_seconds": round(wall_seconds, 1),
    }
    return _jsonable(card)


def _cutoff_steps(cutoff: Optional[Dict[str, Any]]) -> Optional[float]:
    """Mean steps per sample with the cutoff: Lava when it ran, else the torch offline rule."""
    if not cutoff:
        return None
    for key in ("lava", "torch"):
        part = cutoff.get(key) or {}
        if "mean_steps" in part:
            return part["mean_steps"]
    return None


def write_card(card: Dict[str, Any], out_dir: str) -> Tuple[str, str]:
    """Write ``model_card.json`` and ``MODEL_CARD.md`` into ``out_dir``; returns both paths."""
    os.makedirs(out_dir, exist_ok=True)
    jpath, mpath = os.path.join(out_dir, CARD_JSON), os.path.join(out_dir, CARD_MD)
    atomic_write_text(jpath, json.dumps(card, indent=2) + "\n")
    atomic_write_text(mpath, render_markdown(card))
    return jpath, mpath


def load_card(path: str) -> Dict[str, Any]:
    """Read a ``model_card.json`` (or the directory holding one)."""
    if os.path.isdir(path):
        path = os.path.join(path, CARD_JSON)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def reference_inputs(card: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Regenerate the inputs and labels of the card's reference subset.

    Returns:
        ``(X, labels)``: ``X`` is ``(n, *input_shape, T)`` integer-valued (scaled as in
        training), ``n = card["reference_subset"]["first"]``.
    """
    d, ref = card["data"], card["reference_subset"]
    ds = load_split(d["dataset"], ref["split"], T=d["T"], encoding=d["encoding"], seed=d["seed"],
                    limit=ref["first"], options=d["options"], input_scale=d["input_scale"])
    return ds.inputs, ds.labels


# ----------------------------------------------------------------------------
# markdown
# ----------------------------------------------------------------------------

def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _neuron_str(n: Dict[str, Any]) -> str:
    if not n:
        return "-"
    return f"{n.get('type')}(" + ", ".join(f"{k}={v}" for k, v in n.items() if k != "type") + ")"


def _cutoff_markdown(cut: Optional[Dict[str, Any]]) -> List[str]:
    if not cut:
        return []
    L = ["## Cutoff (early exit)", "",
         f"Top-K cutoff calibrated with epsilon {cut['epsilon']} on {cut['calibration_samples']} "
         f"samples ({cut['calibrated_on']}); the thresholds are stored in the file's `/cutoff` "
         f"group and used by `loihi_snn.sim.runtime.cutoff_run.run_cutoff` when none are passed.", "",
         "| | samples | accuracy with cutoff | mean steps (of T) | fewer steps | accuracy at T |",
         "|---|---|---|---|---|---|"]
    for key, label in (("lava", "Lava cutoff controller"), ("torch", "offline rule, torch outputs")):
        part = cut.get(key) or {}
        if "accuracy" in part:
            L.append(f"| {label} | {part['samples']} | {_fmt(part['accuracy'])} | "
                     f"{_fmt(part['mean_steps'], 2)} ({cut['T']}) | {_fmt(part['speedup'], 2)}x | "
                     f"{_fmt(part['fixed_T_accuracy'])} |")
        elif part.get("skipped"):
            L.append(f"| {label} | - | not run: {part['skipped']} | | | |")
    lava = cut.get("lava") or {}
    if "equals_offline_rule" in lava:
        L += ["", f"Lava controller decisions equal to the offline rule on the Lava outputs: "
              f"{_fmt(lava['equals_offline_rule'])}; {_fmt(lava.get('steps_per_second'), 0)} "
              f"steps/s."]
    beta = ", ".join("-" if b is None else f"{b:g}" for b in cut["beta"])
    L += ["", f"Thresholds beta_t (t = 1..{cut['T']}; - = never stop): {beta}", ""]
    return L


def _deployment_markdown(dep: Optional[Dict[str, Any]]) -> List[str]:
    if not dep:
        return []
    L = ["## Deployment cost (NeuroBench metrics, fixed point)", ""]
    if "skipped" in dep:
        return L + [dep["skipped"], ""]
    full, cut = dep["full_T"], dep.get("cutoff")
    cols = [("all T steps", full)] + ([("with the cutoff", cut)] if cut else [])
    L += [f"NeuroBench's definitions measured on the deployed fixed-point network (bit-exact "
          f"emulator = Lava fixed_pt) over the {dep['samples']} test samples, per sample "
          f"(`loihi-snn eval --backend emulator --metrics{' [--cutoff]' if cut else ''}`).", "",
          "| per sample | " + " | ".join(c for c, _ in cols) + " |",
          "|---|" + "---|" * len(cols)]

    def row(name, get, digits=1):
        return f"| {name} | " + " | ".join(_fmt(float(get(m)), digits) for _, m in cols) + " |"
    L += [row("effective ACs", lambda m: m["synaptic_operations"]["effective_acs"], 0),
          row("effective MACs", lambda m: m["synaptic_operations"]["effective_macs"], 0),
          row("dense synaptic ops", lambda m: m["synaptic_operations"]["dense"], 0),
          row("activation sparsity", lambda m: m["activation_sparsity"]["overall"], 4),
          row("spikes", lambda m: m["spikes_per_sample"], 1),
          row("membrane updates", lambda m: m["membrane_updates"]["per_sample"], 0),
          row("latency (mean steps)", lambda m: m["latency"]["mean_steps"], 2)]
    fp, l2 = full["footprint"], full["loihi2"]
    L += ["", f"Per connection (effective operations, {' / '.join(c for c, _ in cols)}): "
          + "; ".join(
        f"{c['source']} -> layer {c['layer']}{' (recurrent)' if c['kind'] == 'recurrent' else ''} "
        f"{c['operation']} " + " / ".join(_fmt(m['synaptic_operations']['layers'][i]['effective'], 0)
                                           for _, m in cols)
        for i, c in enumerate(full["synaptic_operations"]["layers"])) + ".",
          f"Connection sparsity {_fmt(full['connection_sparsity']['overall'], 4)}; footprint "
          f"{fp['bytes']} bytes at Loihi precision (weights {fp['weights_bytes']}, state "
          f"{fp['state_bytes']}, biases {fp['biases_bytes']}, delays {fp['delays_bytes']}), "
          f"{fp['parameters']} parameters; pipeline depth "
          f"{full['latency']['pipeline_depth_steps']} steps; Loihi 2 estimate ~{l2['cores']} "
          f"NeuroCores, {l2['chips']} chip(s).",
          f"Energy: {ENERGY_NOTE}.", ""]
    if dep.get("provenance"):          # measured after training (tools/card_metrics.py)
        prov = provenance.normalise(dep["provenance"])
        lines = [line[2:] for line in provenance.markdown_lines(prov)[:2]]
        L += [f"Measured after training ({'; '.join(lines)}; {prov.get('date')}).", ""]
    return L


def render_markdown(card: Dict[str, Any]) -> str:
    """The card as Markdown (what ``MODEL_CARD.md`` holds)."""
    d, tr, res, ex = card["data"], card["training"], card, card["export"]
    lava = res.get("lava") or {}
    L: List[str] = [f"# Model card: {card['name']}", ""]
    if card.get("description"):
        L += [card["description"], ""]
    L += ["## Results", "",
          "| | torch (SLAYER quantized eval) | Lava fixed_pt |", "|---|---|---|"]
    if "accuracy" in lava:
        L += [f"| test accuracy | {_fmt(res['torch']['test_accuracy'])} ({res['torch']['test_samples']}"
              f" samples) | {_fmt(lava['accuracy'])} ({lava['samples']} samples) |",
              f"| accuracy on the Lava samples | {_fmt(lava['torch_accuracy'])} | "
              f"{_fmt(lava['accuracy'])} |",
              f"| prediction agreement | {_fmt(lava['agreement'])} | |",
              f"| identical output spikes | {_fmt(lava['identical_output_spikes'])} | |",
              f"| output spikes / sample | | {_fmt(lava['output_spikes_per_sample'], 2)} |",
              f"| Lava time | | {_fmt(lava['seconds'], 1)} s ({_fmt(lava.get('samples_per_second'), 1)}"
              f" samples/s) |"]
    else:
        L += [f"| test accuracy | {_fmt(res['torch']['test_accuracy'])} ({res['torch']['test_samples']}"
              f" samples) | not run: {lava.get('skipped', '-')} |"]
    fresh = lava.get("fresh_runs") or {}
    if "samples" in fresh:
        L += ["", f"Recurrent network: the first {fresh['samples']} samples were also run one "
              f"Lava run each: {fresh['identical_to_torch']} identical to torch, "
              f"{fresh['identical_to_stream']} identical to the streamed run ({fresh['note']})."]
    sp = res["spikes_per_sample"]
    L += ["", f"Spikes per sample (torch, test split): total {_fmt(sp['total'], 1)}; "
          + ", ".join(f"layer {k} {_fmt(v, 1)}" for k, v in sp["per_layer"].items()) + ".",
          f"Steps per sample: {res['steps_per_sample']}; cutoff steps: "
          + (f"{_fmt(res.get('cutoff_steps'), 2)} (calibrated Top-K cutoff, see below)."
             if res.get("cutoff_steps") is not None else "- (not calibrated)."), ""]
    L += _cutoff_markdown(card.get("cutoff"))
    L += _deployment_markdown(card.get("deployment"))
    ref = card.get("reference_subset")
    if ref:
        L += [f"Reference subset (checked by tests/e2e/test_netx_models.py): first {ref['first']} "
              f"{ref['split']} samples, Lava accuracy {_fmt(ref['lava_accuracy'])}, torch "
              f"{_fmt(ref['torch_accuracy'])}, identical output spikes "
              f"{_fmt(ref['identical_output_spikes'])}.", ""]
    L += ["## Data", "",
          f"- data set `{d['dataset']}`, encoding `{d['encoding']}`, T = {d['T']} steps, "
          f"input shape {tuple(d['input_shape'])}, {d['num_classes']} classes",
          f"- options: `{json.dumps(d['options'])}`; data seed {d['seed']}; input scale "
          f"{_fmt(d['input_scale'])}",
          f"- samples: {d['splits']['train']} train, {d['splits']['validation']} validation "
          f"(held out from the training split, fraction {d['val_fraction']}), "
          f"{d['splits']['test']} test", "",
          "## Architecture", "",
          "| # | layer | input | output | settings |", "|---|---|---|---|---|"]
    for layer in card["architecture"]:
        extra = {k: v for k, v in layer.items() if k not in ("index", "type", "in_shape", "out_shape")}
        L.append(f"| {layer['index']} | {layer['type']} | {tuple(layer['in_shape'])} | "
                 f"{tuple(layer['out_shape'])} | {', '.join(f'{k}={v}' for k, v in extra.items()) or '-'} |")
    L += ["", f"Neuron: `{_neuron_str(card['neuron'])}`", "",
          "## Training", "",
          f"- {tr['epochs']} epochs, batch {tr['batch_size']}, loss `{_neuron_str(tr['loss'])}`, "
          f"optimiser `{_neuron_str(tr['optimizer'])}`, RCS weight {tr['rcs_weight']}",
          (f"- exported the last epoch ({tr['best_epoch']}; {tr['selected_on']} accuracy "
           f"{_fmt(tr['selection_accuracy'])}, reported, not used to choose)"
           if tr.get("select") == "last" else
           f"- best epoch {tr['best_epoch']} by {tr['selected_on']} accuracy "
           f"{_fmt(tr['selection_accuracy'])}") + f"; checkpoint `{tr['checkpoint']}`",
          f"- device {tr['device']}, {tr['processes']} process(es), training "
          f"{tr['train_seconds']} s, whole run {card['wall_seconds']} s",
          f"- seed {card['seed']}; command: `{card['command']}`", "",
          "| epoch | loss | train acc | " + tr["selected_on"] + " acc | s |", "|---|---|---|---|---|"]
    key = f"{tr['selected_on']}_accuracy"
    for h in tr["history"]:
        L.append(f"| {h['epoch']} | {_fmt(h['loss'], 4)} | {_fmt(h['train_accuracy'])} | "
                 f"{_fmt(h.get(key))} | {h['seconds']} |")
    L += ["", "## Export", "",
          f"`{ex['file']}` ({ex['bytes']} bytes, sha256 `{ex['sha256'][:16]}...`), "
          f"{ex['format']}; input {tuple(ex['input_shape'])} -> output {tuple(ex['output_shape'])}; "
          f"{ex['neurons']} neurons, {ex['synapses']} synapses; max weight bits "
          f"{_fmt(ex['max_weight_bits'])}; extensions {', '.join(ex['extensions']) or '-'}", "",
          "| # | type | shape | weight bits | synapses | neuron |", "|---|---|---|---|---|---|"]
    for r in ex["layers"]:
        L.append(f"| {r['index']} | {r['type']} | {tuple(r['shape'])} | {_fmt(r['weight_bits'])} | "
                 f"{r['synapses']} | {_neuron_str(r['neuron'])} |")
    L += ["", "## Provenance", "", *provenance.markdown_lines(card_provenance(card)), "",
          f"Created {card['created']}.", ""]
    return "\n".join(L)

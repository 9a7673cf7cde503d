"""Describe a validated NetX network: one row per layer (``loihi-snn info``, model cards).

:func:`layer_table` gives JSON-serialisable rows; :func:`format_table` the text table
that ``loihi-snn info`` prints.  Weight bits are the mantissa bits Loihi needs for the
layer (:func:`loihi_snn.netx.lower.weight_precision`), the same figure the Loihi 2
report (``info --loihi2``) uses.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from loihi_snn.netx.lower import weight_precision
from loihi_snn.netx.schema import LayerSpec, NetSpec
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, transposed_synapses

_NEURON_KEYS = ("iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike", "sigma_output",
                "activation")


def neuron_summary(layer: LayerSpec) -> Dict[str, Any]:
    """The neuron type and its scalar parameters (empty for a synapse-only layer)."""
    if layer.neuron is None:
        return {}
    params = {k: v for k, v in layer.neuron.params.items()
              if k in _NEURON_KEYS or not isinstance(v, (dict, np.ndarray, list))}
    return {"type": layer.neuron.type, **{k: params[k] for k in sorted(params) if k != "type"}}


def weight_bits(layer: LayerSpec) -> Optional[int]:
    """Weight mantissa bits of the layer as Loihi packs them (None: no weights)."""
    w = layer.fields.get("weight")
    if w is None or layer.type == "input":
        return None
    wr = layer.fields.get("weight_rec")
    w = np.asarray(w) if wr is None else np.hstack([np.asarray(w), np.asarray(wr)])
    wi = layer.fields.get("weight_imag")         # complex dense: each packed on its own
    if wi is not None:
        return max(weight_precision(w)[0], weight_precision(np.asarray(wi))[0])
    return weight_precision(w)[0]


def asa_summary(layer: LayerSpec) -> Dict[str, Any]:
    """The ASA gate of a conv layer in a few JSON-serialisable numbers: ``split``
    (``static``/``adaptive``), ``important`` channels (the count kept for adaptive, the
    indices for static) of ``channels``, and ``sigmoid_shift``."""
    gate = layer.fields["asa"]
    channels = int(layer.shape[0])
    out: Dict[str, Any] = {"split": str(gate.get("split", "static")), "channels": channels}
    if out["split"] == "adaptive":
        out["important"] = int(gate["num_important"])
    else:
        out["important"] = [int(i) for i in np.flatnonzero(np.asarray(gate["important"]))]
    out["sigmoid_shift"] = int(gate.get("sigmoid_shift", 8))
    return out


def format_asa(a: Dict[str, Any]) -> str:
    """`` asa=adaptive(4 of 8 channels important)`` of an :func:`asa_summary`."""
    imp = a["important"]
    if isinstance(imp, list):
        chosen = f"channels {','.join(map(str, imp))} of {a['channels']} important"
    else:
        chosen = f"{imp} of {a['channels']} channels important"
    return f" asa={a['split']}({chosen}, sigmoid shift {a['sigmoid_shift']})"


def layer_table(spec: NetSpec) -> List[Dict[str, Any]]:
    """One JSON-serialisable row per layer of a NetSpec: index, type, shape (file order),
    input_shape, neuron summary, weight_bits, synapses, and the conv / pool / delay /
    recurrence fields where the layer has them."""
    rows = []
    for layer in spec.layers:
        row = {"index": layer.index, "type": layer.type, "shape": list(layer.shape),
               "input_shape": list(layer.in_shape), "neuron": neuron_summary(layer),
               "weight_bits": weight_bits(layer),
               "synapses": (transposed_synapses(layer) if layer.type in TRANSPOSED_TYPES
                            else layer.num_synapses)}
        for key in ("kernel", "stride", "padding", "dilation", "groups", "group_size"):
            if key in layer.fields:
                v = layer.fields[key]
                row[key] = list(v) if isinstance(v, tuple) else v
        if "delay" in layer.fields:
            row["max_delay"] = int(np.max(layer.fields["delay"]))
        if "weight_rec" in layer.fields:
            row["recurrent"] = True
        if "asa" in layer.fields:
            row["asa"] = asa_summary(layer)
        if layer.type == "concat":
            row["inputs"] = list(layer.fields["inputs"])
        rows.append(row)
    return rows


#: what each ``layer_start`` means, as ``info`` prints it
LAYER_START_TEXT = {
    "step_1": "every layer starts at step 1 (a fresh run)",
    "first_input": "each layer starts at the step its first input arrives (NIR's timing; "
                   "every runner zeroes each layer once, at that step, unless it is given "
                   "a reset_interval)",
}


def summary(spec: NetSpec, rows: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    """The network in one JSON-serialisable dict: file, input and output shapes (file
    order), neuron types, ``layer_start``, our extension groups and the
    :func:`layer_table` rows."""
    return {"file": spec.path, "input_shape": list(spec.input_shape),
            "output_shape": list(spec.output_shape), "neuron_types": spec.neuron_types,
            "layer_start": spec.layer_start,
            "extensions": sorted(spec.extensions),
            "layers": layer_table(spec) if rows is None else rows}


def format_neuron(n: Dict[str, Any]) -> str:
    """``TYPE(k=v, ...)`` of a :func:`neuron_summary`, ``-`` when empty."""
    if not n:
        return "-"
    rest = ", ".join(f"{k}={v}" for k, v in n.items() if k != "type")
    return f"{n['type']}({rest})"


def format_table(spec: NetSpec, rows: List[Dict[str, Any]]) -> str:
    """The text table of ``loihi-snn info`` (one line per layer, then totals)."""
    lines = [f"{spec.path}: input {tuple(spec.input_shape)} -> output "
             f"{tuple(spec.output_shape)}, {len(rows)} layers"]
    header = f"{'#':>2}  {'type':<9} {'shape':<16} {'wbits':>5} {'synapses':>10}  neuron"
    lines += [header, "-" * max(len(header), 60)]
    for r in rows:
        extra = ""
        if "kernel" in r:
            extra = f" k={tuple(r['kernel'])} s={tuple(r['stride'])} p={tuple(r['padding'])}"
        if "max_delay" in r:
            extra += f" max_delay={r['max_delay']}"
        if "asa" in r:
            extra += format_asa(r["asa"])
        if "inputs" in r:
            extra += f" inputs={r['inputs']} (no latency)"
        wb = "-" if r["weight_bits"] is None else str(r["weight_bits"])
        lines.append(f"{r['index']:>2}  {r['type']:<9} {str(tuple(r['shape'])):<16} {wb:>5} "
                     f"{r['synapses']:>10}  {format_neuron(r['neuron'])}{extra}")
    total = sum(r["synapses"] for r in rows)
    neurons = sum(int(np.prod(r["shape"])) for r in rows if r["neuron"])
    lines.append(f"total: {neurons} neurons, {total} synapses")
    lines.append(f"layer start: {spec.layer_start} -- "
                 f"{LAYER_START_TEXT.get(spec.layer_start, '')}")
    if spec.extensions:
        lines.append("extensions: " + ", ".join(sorted(spec.extensions)))
    return "\n".join(lines)

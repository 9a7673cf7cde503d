"""Lower a normalised NIR chain to a NetX file of our layers and neuron families.

Each spiking stage becomes one NetX layer (``dense``, ``dense_rec`` for a recurrent
weight, ``conv``, ``pool``; ``Flatten`` -> ``flatten``), its neurons the CUBA family
(reset "hard": stock CUBA, loadable by stock netx) or our LIF family (reset "soft" /
"none": ``LIF`` with ``resetMode``).  The discretised dynamics of
:mod:`loihi_snn.nir.dynamics` map onto Loihi's CUBA neuron as follows:

- decays: ``iDecay = round(4096 du)`` (LIF / IF: 4096, the current holds one step's
  input), ``vDecay = round(4096 dv)``; Loihi has one value per layer, so per-neuron time
  constants that differ are refused;
- gains and thresholds: neuron ``i``'s input gain ``a_i b_i`` and threshold
  ``theta_i`` are folded into row ``i`` of the weights (``k_i = a_i b_i / theta_i``), so
  every neuron's threshold becomes 1 -- per-neuron thresholds, ``r`` and ``w_in`` are
  exact (a conv layer needs them per channel, a pool layer per layer);
- quantisation: one integer scale ``S`` per layer (the threshold mantissa,
  ``vThMant = S``) chosen so that the largest scaled weight fills the ``B``-bit
  mantissa (``B = weight_bits``, 8 by default); weights are rounded to multiples of
  ``2**(9 - B)`` in [-256, 256 - 2**(9 - B)] (a B-bit signed mantissa, lava-dl's
  packing); a network that already is in integers with one integer threshold per layer
  (what :func:`loihi_snn.nir.to_nir` writes) keeps exactly its integers;
- biases: an Affine/Conv bias (and a recurrent Affine bias) and ``v_leak`` enter ``v``
  every step: the bias ``round(S (a b bias + c) / theta)`` (a bias into a CubaLIF's
  synaptic current has no Loihi form and is refused);
- timing: on Lava spiking layer ``i`` (from 0) receives its first input ``i + 1`` steps
  after the network's (one step per synapse), while NIR starts every node with the
  input.  ``layer_start="first_input"`` (the root attribute ``layer_start``, the
  default) makes every runner zero each layer once, at its first input step, so a bias
  starts acting with the input as in NIR; ``"step_1"`` keeps a fresh run's start (the
  bias acts ``i + 1`` steps early, recorded in the notes).

The result is validated by re-reading it and written atomically
(:func:`loihi_snn.netx.export.atomic_h5`).  What was approximated is recorded in the
file's ``/nir`` group (``notes``) and returned.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from loihi_snn.core.constants import DECAY_UNITY, VTH_MANT_MAX
from loihi_snn.families.lif_common import lif_netx_neuron
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.core.lif import check_reset_mode
from loihi_snn.netx.export import atomic_h5, write_extension
from loihi_snn.netx.schema import BIAS_LIMIT, LAYER_STARTS, read_netx
from loihi_snn.nir.dynamics import Dynamics, stage_dynamics
from loihi_snn.nir.graph import Chain, NirError, Stage, _pair, type_name

DEFAULT_DT = 1e-4          # snnTorch's assumption (tau = dt / (1 - beta))


@dataclass
class LoweredLayer:
    """One NetX layer as written: its fields and what was approximated."""
    index: int
    type: str
    names: List[str]
    fields: Dict[str, Any]
    neuron: Optional[Dict[str, Any]] = None
    scale: float = 1.0              # S: integer units per threshold
    notes: List[str] = field(default_factory=list)


def _uniform(source: str, stage: Stage, key: str, values: np.ndarray, what: str) -> float:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.allclose(flat, flat[0], rtol=1e-5, atol=1e-9):
        raise NirError(source, f"{what} differ between neurons ({flat.min():.6g} .. "
                               f"{flat.max():.6g}); Loihi has one value per layer", stage.neuron_name, key)
    return float(flat[0])


def _row_factor(source: str, stage: Stage, d: Dynamics) -> np.ndarray:
    """k = a b / theta per neuron (layer shape); checks thresholds and where k must be
    uniform (per channel for conv, per layer for pool)."""
    if (d.v_threshold <= 0).any():
        raise NirError(source, "thresholds must be > 0", stage.neuron_name, "v_threshold")
    k = d.a * d.b / d.v_threshold
    if not np.isfinite(k).all():
        raise NirError(source, "not finite", stage.neuron_name, "r")
    if (k <= 0).any():
        raise NirError(source, "the input gain (r, w_in) must be > 0", stage.neuron_name, "r")
    if stage.kind == "conv":
        per_c = k.reshape(k.shape[0], -1)
        if not np.allclose(per_c, per_c[:, :1], rtol=1e-5):
            raise NirError(source, "conv neurons need one threshold / r / w_in per channel",
                           stage.neuron_name, "v_threshold")
    if stage.kind == "pool":
        _uniform(source, stage, "v_threshold", k, "threshold / r ratios of a pool layer")
    return k


def weight_grid(arrays, weight_bits: int) -> Tuple[int, int, int]:
    """(step, lo, hi) of the integer weights a layer may hold with a ``weight_bits``
    mantissa, by lava-dl's packing: mixed signs need a sign bit (multiples of
    ``2**(9 - B)`` in [-256, 256 - step]); all-positive weights use every bit
    (multiples of ``2**(8 - B)`` in [0, 256 - step]), all-negative likewise in [-256, 0]."""
    if not 2 <= weight_bits <= 8:
        raise NirError("<options>", f"weight_bits must be 2..8, got {weight_bits}", None,
                       "weight_bits")
    vals = [np.asarray(a) for a in arrays if a is not None]
    lo = min(float(v.min(initial=0)) for v in vals)
    hi = max(float(v.max(initial=0)) for v in vals)
    if lo < 0 < hi:
        step = 1 << (9 - weight_bits)
        return step, -256, 256 - step
    step = 1 << (8 - weight_bits)
    return (step, 0, 256 - step) if lo >= 0 else (step, -256, 0)


def _exact_scale(d: Dynamics, arrays, grid: Tuple[int, int, int]) -> Optional[int]:
    """The layer's threshold when it is one integer and every scaled value (weights,
    biases, in threshold units) times it is an integer within Loihi's ranges -- so a
    network that already is in integers (as :func:`loihi_snn.nir.to_nir` writes it) is
    lowered to exactly those integers -- else None."""
    step, lo, hi = grid
    theta = np.asarray(d.v_threshold, dtype=np.float64).reshape(-1)
    s = float(theta[0])
    if not (np.all(theta == s) and s == round(s) and 1 <= s <= VTH_MANT_MAX):
        return None
    for i, arr in enumerate(arrays):
        if arr is None:
            continue
        v = np.asarray(arr, dtype=np.float64) * s
        q = np.round(v)
        if not np.allclose(v, q, rtol=0, atol=1e-6):
            return None
        if i < 2 and (q.max(initial=0) > hi or q.min(initial=0) < lo or np.any(q % step)):
            return None
    return int(s)


def _quantize(w: np.ndarray, scale: float, grid: Tuple[int, int, int]) -> np.ndarray:
    step, lo, hi = grid
    return np.clip(np.round(w * scale / step) * step, lo, hi).astype(np.int64)


def _synapse_arrays(source: str, stage: Stage):
    """Float weight (dense: (out, in); conv: (Cout, Cin/g, kH, kW); pool: (kH, kW)),
    the bias per output neuron (layer shape) or None, and conv/pool geometry."""
    node, t = stage.synapse, type_name(stage.synapse)
    shape = stage.out_shape
    bias = None
    geo: Dict[str, Any] = {}
    if t in ("Affine", "Linear"):
        w = np.asarray(node.weight, dtype=np.float64)
        if t == "Affine" and node.bias is not None:
            bias = np.asarray(node.bias, dtype=np.float64).reshape(shape)
    elif t == "Conv2d":
        w = np.asarray(node.weight, dtype=np.float64)
        if getattr(node, "bias", None) is not None:
            b = np.asarray(node.bias, dtype=np.float64).reshape(-1)
            bias = np.broadcast_to(b.reshape(-1, 1, 1), shape).copy()
        geo = dict(stride=_pair(node.stride), padding=_pair(node.padding),
                   dilation=_pair(node.dilation), groups=int(node.groups))
    else:
        k = _pair(node.kernel_size)
        w = np.full(k, 1.0 / (k[0] * k[1]) if t == "AvgPool2d" else 1.0)
        geo = dict(stride=_pair(node.stride), padding=_pair(node.padding), kernel=k)
    for name, arr in (("weight", w), ("bias", bias)):
        if arr is not None and not np.isfinite(arr).all():
            raise NirError(source, "contains NaN or infinite values", stage.synapse_name, name)
    if bias is not None and not np.any(bias):
        bias = None
    return w, bias, geo


def check_layer_start(layer_start: str) -> str:
    """``layer_start`` if it is one of :data:`~loihi_snn.netx.schema.LAYER_STARTS`, else
    a one-line NirError naming the option."""
    if layer_start not in LAYER_STARTS:
        raise NirError("<options>", f"layer_start must be one of {', '.join(LAYER_STARTS)}, "
                                    f"got {layer_start!r}", None, "layer_start")
    return layer_start


def lower_stage(source: str, stage: Stage, index: int, *, dt: float, reset: str,
                weight_bits: int, delay: int = 1,
                layer_start: str = "first_input") -> LoweredLayer:
    """One spiking stage -> a :class:`LoweredLayer` (integer NetX fields); ``delay`` is
    the number of synapses from the input to this layer (its lag on Lava);
    ``layer_start`` the file's (only the notes depend on it)."""
    d = stage_dynamics(source, stage, dt)
    notes: List[str] = []
    du = _uniform(source, stage, "tau_syn" if d.has_current else "tau", d.du, "time constants")
    dv = _uniform(source, stage, "tau_mem" if d.has_current else "tau", d.dv, "time constants")
    if reset == "hard" and np.any(d.v_reset != 0):
        raise NirError(source, "a non-zero reset potential has no Loihi form (Loihi resets "
                               "v to 0)", stage.neuron_name, "v_reset")
    if reset != "hard" and np.any(d.v_reset != 0):
        notes.append(f"{stage.neuron_name}: v_reset ignored by reset '{reset}'")
    k = _row_factor(source, stage, d)
    w, bias, geo = _synapse_arrays(source, stage)
    wr = None
    if stage.recurrent is not None:
        wr = np.asarray(stage.recurrent.weight, dtype=np.float64)
        if not np.isfinite(wr).all():
            raise NirError(source, "contains NaN or infinite values", stage.recurrent_name, "weight")
        if type_name(stage.recurrent) == "Affine" and stage.recurrent.bias is not None:
            rb = np.asarray(stage.recurrent.bias, dtype=np.float64).reshape(stage.out_shape)
            if np.any(rb):
                bias = rb if bias is None else bias + rb
    if bias is not None and d.has_current and du < 1:
        name = stage.synapse_name if stage.recurrent is None else f"{stage.synapse_name}/{stage.recurrent_name}"
        raise NirError(source, "a bias into a CubaLIF's synaptic current has no Loihi form "
                               "(Loihi adds its bias to the voltage); export without bias",
                       name, "bias")

    # fold gains and thresholds into the weights (threshold 1 in these units)
    if stage.kind == "dense":
        wk = w * k.reshape(-1, 1)
        wrk = None if wr is None else wr * k.reshape(-1, 1)
    elif stage.kind == "conv":
        wk = w * k.reshape(k.shape[0], -1)[:, 0].reshape(-1, 1, 1, 1)
        wrk = None
    else:
        wk = w * float(k.reshape(-1)[0])
        wrk = None
    vbias = (d.c / d.v_threshold) + (0 if bias is None else d.a * d.b * bias / d.v_threshold)
    has_bias = bool(np.any(vbias))

    grid = weight_grid([wk, wrk], weight_bits)
    step, lo, hi = grid
    span = min(hi, -lo) if lo < 0 < hi else max(hi, -lo)     # largest |weight|
    wmax = max(float(np.abs(wk).max(initial=0)),
               float(np.abs(wrk).max(initial=0)) if wrk is not None else 0.0)
    exact = _exact_scale(d, [wk, wrk, vbias], grid)
    if exact is not None:       # an integer network (e.g. from to_nir): keep its integers
        scale = exact
    elif wmax == 0:
        scale = 64
    else:
        scale = int(np.floor(span / wmax * (1 + 1e-9)))      # exact ratios stay exact
        if scale < 1:
            scale = 1
            notes.append(f"{stage.synapse_name}: weights up to {wmax:.3g} thresholds exceed "
                         f"the {weight_bits}-bit range; clipped")
        scale = min(scale, VTH_MANT_MAX)
    wq = _quantize(wk, scale, grid)
    fields: Dict[str, Any] = {"weight": wq}
    if wrk is not None:
        fields["weight_rec"] = _quantize(wrk, scale, grid)
    if has_bias:
        bq = np.round(vbias * scale)
        if np.abs(bq).max() > BIAS_LIMIT:
            raise NirError(source, "bias too large for Loihi's bias", stage.synapse_name, "bias")
        if stage.kind == "conv":
            per_c = bq.reshape(bq.shape[0], -1)
            bq = per_c[:, 0] if np.all(per_c == per_c[:, :1]) else bq
        fields["bias"] = bq.astype(np.int64)
    if has_bias and layer_start == "step_1":
        notes.append(f"{stage.synapse_name}: the bias (incl. v_leak) acts from the first "
                     f"step on Lava, {delay} step(s) before this layer's first input arrives "
                     f"(one step per synapse); NIR adds it from the first input step")
    if has_bias and wr is not None and layer_start == "first_input" and \
            float(fields["bias"].max(initial=0)) * delay > scale:
        # the bias alone may fire the layer within the `delay` steps before its reset
        notes.append(f"{stage.recurrent_name}: spikes the bias alone drives in the step before "
                     f"this layer's first input (it is zeroed then) still arrive through the "
                     f"recurrent weight with that input; NIR has none")
    fields.update(geo)
    ltype = {"dense": "dense_rec" if wr is not None else "dense", "conv": "conv",
             "pool": "pool"}[stage.kind]
    v_decay = int(round(dv * DECAY_UNITY))
    neuron = lif_netx_neuron(int(round(du * DECAY_UNITY)), v_decay, int(scale), reset=reset,
                             leak=v_decay > 0)
    for key, exact in (("iDecay", du), ("vDecay", dv)):
        if abs(neuron[key] - exact * DECAY_UNITY) > 1e-6:
            notes.append(f"{stage.neuron_name}: {key} {exact * DECAY_UNITY:.3f}/4096 rounded "
                         f"to {neuron[key]}")
    return LoweredLayer(index, ltype, stage.names, fields, neuron, float(scale), notes)


def lower_chain(chain: Chain, *, dt: float = DEFAULT_DT, reset: str = "hard",
                weight_bits: int = 8, layer_start: str = "first_input") -> List[LoweredLayer]:
    """Every stage of ``chain`` as NetX layers (flatten stages included)."""
    check_reset_mode(reset)
    check_layer_start(layer_start)
    layers: List[LoweredLayer] = []
    first_conv = chain.stages[0].kind in ("conv", "pool")
    idx = 1 if first_conv else 0
    delay = 0
    for stage in chain.stages:
        if stage.kind == "flatten":
            layers.append(LoweredLayer(idx, "flatten", stage.names, {}, None))
        else:
            delay += 1
            layers.append(lower_stage(chain.source, stage, idx, dt=dt, reset=reset,
                                      weight_bits=weight_bits, delay=delay,
                                      layer_start=layer_start))
        idx += 1
    return layers


def _write_layer(group, layer: LoweredLayer, shape) -> None:
    g = group.create_group(str(layer.index))
    g.create_dataset("type", (1,), "S10", [layer.type.encode()])
    g.create_dataset("shape", data=np.asarray(shape, dtype=np.int64))
    f = layer.fields
    if layer.type in ("dense", "dense_rec"):
        g.create_dataset("weight", data=f["weight"].astype(np.float32))
        g.create_dataset("inFeatures", data=int(f["weight"].shape[1]))
        g.create_dataset("outFeatures", data=int(f["weight"].shape[0]))
        if "weight_rec" in f:
            g.create_dataset("weight_rec", data=f["weight_rec"].astype(np.float32))
    elif layer.type == "conv":
        g.create_dataset("weight", data=f["weight"].astype(np.float32))
        for key in ("stride", "padding", "dilation"):
            g.create_dataset(key, data=np.asarray(f[key], dtype=np.int64))
        g.create_dataset("groups", data=int(f["groups"]))
    elif layer.type == "pool":
        g.create_dataset("weight", data=f["weight"].astype(np.float32))
        g.create_dataset("kernelSize", data=np.asarray(f["kernel"], dtype=np.int64))
        g.create_dataset("stride", data=np.asarray(f["stride"], dtype=np.int64))
        g.create_dataset("padding", data=np.asarray(f["padding"], dtype=np.int64))
    if "bias" in f:
        g.create_dataset("bias", data=f["bias"].astype(np.float32))
    if layer.neuron is not None:
        n = g.create_group("neuron")
        for key, value in layer.neuron.items():
            if isinstance(value, str):
                n.create_dataset(key, data=value.encode())
            else:
                n.create_dataset(key, data=value)


def write_netx(chain: Chain, layers: List[LoweredLayer], out: str,
               extension: Dict[str, Any], layer_start: str = "first_input") -> str:
    """Write ``layers`` to ``out`` atomically (validated by :func:`read_netx` first),
    with the root attribute ``layer_start`` (one of
    :data:`~loihi_snn.netx.schema.LAYER_STARTS`)."""
    check_layer_start(layer_start)
    def check(tmp: str) -> None:
        try:
            read_netx(tmp)
        except NetxFormatError as exc:
            raise NetxFormatError(out, "the import produced an invalid file, nothing was "
                                  "written: " + exc.message, exc.layer, exc.field) from None

    with atomic_h5(out, check) as f:
        f.attrs["layer_start"] = layer_start
        group = f.create_group("layer")
        if layers[0].index == 1:
            g = group.create_group("0")
            g.create_dataset("type", (1,), "S10", [b"input"])
            g.create_dataset("shape", data=np.asarray(chain.input_shape, dtype=np.int64))
        for layer, stage in zip(layers, chain.stages):
            _write_layer(group, layer, stage.out_shape)
        write_extension(f, "nir", extension)
    return out


def import_summary(chain: Chain, layers: List[LoweredLayer], *, dt: float, reset: str,
                   weight_bits: int) -> Dict[str, Any]:
    """The ``/nir`` group: source, options, per-layer node names and scales, notes, and
    ``output_delay`` (steps by which the output lags the NIR graph on Lava)."""
    notes = [n for layer in layers for n in layer.notes]
    return {
        "source": chain.source, "dt": float(dt), "reset": reset, "weight_bits": int(weight_bits),
        "output_delay": len(chain.spiking_stages),
        "layers": json.dumps([{"index": l.index, "type": l.type, "nodes": l.names,
                               "scale": l.scale} for l in layers]),
        "notes": json.dumps(notes),
    }

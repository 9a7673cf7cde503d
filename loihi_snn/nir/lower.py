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
  every step: the bias ``round(S (a b bias + c) / theta)``;
- a bias into a CubaLIF's synaptic current (``iDecay < 4096``: Loihi adds its bias to
  ``v``, not to ``u``) is a constant input into the current, i.e. a synapse from a
  neuron that fires every step: an *always-on* neuron (no input, bias ``S + 1`` above
  its threshold ``S``: it fires every step under any reset mode) with the bias as its
  weight, quantised with the layer's other weights.  The always-on neuron is appended
  to the previous layer when that is a dense layer (one neuron) or a conv layer before
  a flatten (one channel, its first pixel carrying the bias); else, for a dense layer
  that is not the output, to the layer itself, feeding the bias through its recurrent
  weight (``dense`` -> ``dense_rec``).  Its spike of step ``t`` arrives at ``t + 1``,
  as every input, so the bias enters ``u`` from the layer's first input step as in
  NIR (``layer_start = "first_input"``; a layer runs one step before it is zeroed, and
  the always-on neuron fires then too).  The extra neurons sit at the end of the host
  layer (last neuron / channel; :func:`always_on_counts`); a conv layer's own current
  bias and one into the first or only layer fed by a pool are refused in one line;
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
from loihi_snn.nir.dynamics import Dynamics, delay_steps, stage_dynamics
from loihi_snn.nir.graph import Chain, NirError, Stage, _pair, type_name

DEFAULT_DT = 1e-4          # snnTorch's assumption (tau = dt / (1 - beta))


@dataclass
class LoweredLayer:
    """One NetX layer as written: its fields and what was approximated.  ``shape`` is
    the written shape where it differs from the stage's (an always-on unit appended);
    ``always_on`` the number of always-on neurons at its end."""
    index: int
    type: str
    names: List[str]
    fields: Dict[str, Any]
    neuron: Optional[Dict[str, Any]] = None
    scale: float = 1.0              # S: integer units per threshold
    notes: List[str] = field(default_factory=list)
    shape: Optional[Tuple[int, ...]] = None
    always_on: int = 0


@dataclass
class BiasLink:
    """How the always-on neurons of a chain are wired (see the module notes):
    ``hosts`` the spiking-stage positions that carry one (a neuron, or a channel for a
    conv layer), ``sources`` stage position -> ``"prev"`` / ``"self"`` for every stage
    whose current bias they feed."""
    hosts: set = field(default_factory=set)
    sources: Dict[int, str] = field(default_factory=dict)


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


def _stage_bias(source: str, stage: Stage) -> Optional[np.ndarray]:
    """The stage's input bias per output neuron (synapse bias + recurrent Affine bias),
    None when absent or zero."""
    _, bias, _ = _synapse_arrays(source, stage)
    if stage.recurrent is not None and type_name(stage.recurrent) == "Affine" and \
            stage.recurrent.bias is not None:
        rb = np.asarray(stage.recurrent.bias, dtype=np.float64).reshape(stage.out_shape)
        if not np.isfinite(rb).all():
            raise NirError(source, "contains NaN or infinite values", stage.recurrent_name,
                           "bias")
        if np.any(rb):
            bias = rb if bias is None else bias + rb
    return bias


def _bias_name(stage: Stage) -> str:
    return stage.synapse_name if stage.recurrent is None else \
        f"{stage.synapse_name}/{stage.recurrent_name}"


def has_current_bias(source: str, stage: Stage, dt: float) -> bool:
    """Whether ``stage`` has a bias into a decaying synaptic current (a CubaLIF whose
    ``du < 1``): one an always-on neuron must feed."""
    if stage.kind == "flatten":
        return False
    d = stage_dynamics(source, stage, dt)
    if not d.has_current:
        return False
    du = _uniform(source, stage, "tau_syn", d.du, "time constants")
    return du < 1 and _stage_bias(source, stage) is not None


def plan_bias_links(chain: Chain, dt: float) -> BiasLink:
    """Where the always-on neurons go (see the module notes), or a one-line NirError
    naming the stage whose current bias none can feed."""
    stages = chain.stages
    spiking = [i for i, s in enumerate(stages) if s.kind != "flatten"]
    link = BiasLink()
    for p, ci in enumerate(spiking):
        stage = stages[ci]
        if not has_current_bias(chain.source, stage, dt):
            continue
        name = _bias_name(stage)
        if stage.kind != "dense":
            raise NirError(chain.source, "a bias into the synaptic current of a "
                                         f"{type_name(stage.synapse)} layer (CubaLIF) has no "
                                         "exact Loihi form here (a constant input into u needs "
                                         "an always-on input at every kernel position); export "
                                         "the conv without bias", name, "bias")
        prev = stages[spiking[p - 1]] if p > 0 else None
        if prev is not None and prev.kind == "dense":
            link.hosts.add(p - 1)
            link.sources[p] = "prev"
        elif prev is not None and prev.kind == "conv" and int(prev.synapse.groups) == 1 \
                and spiking[p - 1] == ci - 2 and stages[ci - 1].kind == "flatten":
            link.hosts.add(p - 1)
            link.sources[p] = "prev"
        elif p < len(spiking) - 1:
            link.hosts.add(p)
            link.sources[p] = "self"
        else:
            where = "the network's only layer" if prev is None else \
                f"the output layer after a {prev.kind} layer"
            raise NirError(chain.source, f"a bias into the synaptic current of {where} "
                                         f"(CubaLIF) needs an always-on neuron in the layer "
                                         f"before it or in a hidden layer, and there is none "
                                         f"here without changing the output; export without "
                                         f"bias", name, "bias")
    return link


def always_on_counts(path_or_spec) -> Dict[int, int]:
    """Layer index -> number of always-on neurons at the end of that layer, as
    :func:`from_nir` recorded them in the file's ``/nir`` group (empty when none)."""
    spec = path_or_spec if hasattr(path_or_spec, "extensions") else read_netx(path_or_spec)
    info = spec.extensions.get("nir", {}) or {}
    try:
        layers = json.loads(info.get("layers", "[]"))
    except (TypeError, ValueError):
        return {}
    return {int(l["index"]): int(l.get("always_on", 0)) for l in layers
            if isinstance(l, dict) and l.get("always_on")}


def check_layer_start(layer_start: str) -> str:
    """``layer_start`` if it is one of :data:`~loihi_snn.netx.schema.LAYER_STARTS`, else
    a one-line NirError naming the option."""
    if layer_start not in LAYER_STARTS:
        raise NirError("<options>", f"layer_start must be one of {', '.join(LAYER_STARTS)}, "
                                    f"got {layer_start!r}", None, "layer_start")
    return layer_start


def lower_stage(source: str, stage: Stage, index: int, *, dt: float, reset: str,
                weight_bits: int, delay: int = 1,
                layer_start: str = "first_input", extra_in: int = 0,
                bias_source: Optional[str] = None, host: bool = False) -> LoweredLayer:
    """One spiking stage -> a :class:`LoweredLayer` (integer NetX fields); ``delay`` is
    the number of synapses from the input to this layer (its lag on Lava);
    ``layer_start`` the file's (only the notes depend on it).  Always-on neurons (see
    the module notes): ``extra_in`` inputs appended by the previous layer's always-on
    unit (1 neuron, or a channel of ``extra_in`` pixels); ``bias_source`` ``"prev"``
    (the current bias is the weight of the first of them) or ``"self"`` (this layer's
    own always-on neuron, through the recurrent weight); ``host``: append one."""
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
    w, _, geo = _synapse_arrays(source, stage)
    bias = _stage_bias(source, stage)
    wr = None
    if stage.recurrent is not None:
        wr = np.asarray(stage.recurrent.weight, dtype=np.float64)
        if not np.isfinite(wr).all():
            raise NirError(source, "contains NaN or infinite values", stage.recurrent_name, "weight")
    cbias = None                      # a bias into the current: an always-on neuron's weight
    if bias is not None and d.has_current and du < 1:
        if bias_source is None:       # pragma: no cover - plan_bias_links refuses first
            raise NirError(source, "a bias into a CubaLIF's synaptic current needs an "
                                   "always-on neuron", _bias_name(stage), "bias")
        cbias, bias = bias, None

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
    n = int(np.prod(stage.out_shape))
    if stage.kind == "dense":
        ck = None if cbias is None else (cbias * k).reshape(-1, 1)
        if extra_in:                  # the previous layer's always-on unit, at the end
            col = np.zeros((n, extra_in))
            if bias_source == "prev":
                col[:, :1] = ck
            wk = np.concatenate([wk, col], axis=1)
        if host:                      # this layer's always-on neuron: a zero row
            wk = np.concatenate([wk, np.zeros((1, wk.shape[1]))], axis=0)
            rec = np.zeros((n + 1, n + 1))
            if wrk is not None:
                rec[:n, :n] = wrk
            if bias_source == "self":
                rec[:n, n:] = ck
            wrk = rec
    elif host:                        # a conv layer: an always-on channel (zero kernel)
        wk = np.concatenate([wk, np.zeros((1,) + wk.shape[1:])], axis=0)
    has_bias = bool(np.any(vbias)) or host

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
    if host and scale + 1 > BIAS_LIMIT:
        notes.append(f"{stage.neuron_name}: scale {scale} lowered to {BIAS_LIMIT - 1} so that "
                     f"the always-on neuron's bias (scale + 1) fits Loihi's bias")
        scale = BIAS_LIMIT - 1
    wq = _quantize(wk, scale, grid)
    fields: Dict[str, Any] = {"weight": wq}
    if wrk is not None:
        fields["weight_rec"] = _quantize(wrk, scale, grid)
    if stage.delay is not None:       # NIR Delay: axonal delays, (out, in) whole steps
        ds = delay_steps(source, stage, dt)
        n_in = int(np.prod(stage.in_shape))
        dm = np.zeros(wq.shape, dtype=np.int64)   # always-on rows / columns: no delay
        dm[:n, :n_in] = ds.reshape(1, -1) if stage.delay_side == "in" else ds.reshape(-1, 1)
        fields["delay"] = dm
    shape = tuple(stage.out_shape)
    always_on = 0
    if host:
        shape = (n + 1,) if stage.kind == "dense" else (shape[0] + 1,) + shape[1:]
        always_on = int(np.prod(shape)) - n
    if has_bias:
        bq = np.round(np.broadcast_to(vbias, stage.out_shape) * scale)
        if np.abs(bq).max(initial=0) > BIAS_LIMIT:
            raise NirError(source, "bias too large for Loihi's bias", stage.synapse_name, "bias")
        if host:                      # the always-on unit: bias above its threshold
            on = np.full((always_on,), scale + 1.0)
            bq = np.concatenate([bq.reshape(-1), on]).reshape(shape)
        if stage.kind == "conv":
            per_c = bq.reshape(bq.shape[0], -1)
            bq = per_c[:, 0] if np.all(per_c == per_c[:, :1]) else bq
        fields["bias"] = bq.astype(np.int64)
    if host:
        notes.append(f"{stage.neuron_name}: {always_on} always-on neuron(s) appended (the "
                     f"constant input of a CubaLIF current bias); the layer has shape {shape}")
    if cbias is not None and layer_start == "step_1":
        notes.append(f"{_bias_name(stage)}: the always-on input of the current bias acts "
                     f"from Lava step 2, before this layer's first input arrives")
    vb = None if not np.any(vbias) else np.round(np.broadcast_to(vbias, stage.out_shape) * scale)
    if vb is not None and layer_start == "step_1":
        notes.append(f"{stage.synapse_name}: the bias (incl. v_leak) acts from the first "
                     f"step on Lava, {delay} step(s) before this layer's first input arrives "
                     f"(one step per synapse); NIR adds it from the first input step")
    if vb is not None and wr is not None and layer_start == "first_input" and \
            float(vb.max(initial=0)) * delay > scale:
        # the bias alone may fire the layer within the `delay` steps before its reset
        notes.append(f"{stage.recurrent_name}: spikes the bias alone drives in the step before "
                     f"this layer's first input (it is zeroed then) still arrive through the "
                     f"recurrent weight with that input; NIR has none")
    fields.update(geo)
    ltype = {"dense": "dense_rec" if wrk is not None else "dense", "conv": "conv",
             "pool": "pool"}[stage.kind]
    v_decay = int(round(dv * DECAY_UNITY))
    neuron = lif_netx_neuron(int(round(du * DECAY_UNITY)), v_decay, int(scale), reset=reset,
                             leak=v_decay > 0)
    for key, exact in (("iDecay", du), ("vDecay", dv)):
        if abs(neuron[key] - exact * DECAY_UNITY) > 1e-6:
            notes.append(f"{stage.neuron_name}: {key} {exact * DECAY_UNITY:.3f}/4096 rounded "
                         f"to {neuron[key]}")
    return LoweredLayer(index, ltype, stage.names, fields, neuron, float(scale), notes,
                        shape if shape != tuple(stage.out_shape) else None, always_on)


def lower_chain(chain: Chain, *, dt: float = DEFAULT_DT, reset: str = "hard",
                weight_bits: int = 8, layer_start: str = "first_input") -> List[LoweredLayer]:
    """Every stage of ``chain`` as NetX layers (flatten stages included)."""
    check_reset_mode(reset)
    check_layer_start(layer_start)
    link = plan_bias_links(chain, dt)
    layers: List[LoweredLayer] = []
    first_conv = chain.stages[0].kind in ("conv", "pool")
    idx = 1 if first_conv else 0
    delay = 0
    p = -1                           # position among the spiking stages
    extra = 0                        # always-on inputs the previous layer appends
    for stage in chain.stages:
        if stage.kind == "flatten":
            shape = None if not extra else (int(np.prod(stage.out_shape)) + extra,)
            layers.append(LoweredLayer(idx, "flatten", stage.names, {}, None, shape=shape))
        else:
            delay += 1
            p += 1
            layer = lower_stage(chain.source, stage, idx, dt=dt, reset=reset,
                                weight_bits=weight_bits, delay=delay,
                                layer_start=layer_start, extra_in=extra,
                                bias_source=link.sources.get(p), host=p in link.hosts)
            layers.append(layer)
            extra = layer.always_on
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
        if "delay" in f:
            g.create_dataset("delay", data=f["delay"].astype(np.float32))
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
            _write_layer(group, layer, layer.shape or stage.out_shape)
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
                               "scale": l.scale,
                               **({"always_on": l.always_on} if l.always_on else {})}
                              for l in layers]),
        "notes": json.dumps(notes),
    }

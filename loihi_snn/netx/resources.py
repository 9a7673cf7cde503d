"""Check a network against Loihi 2's limits and estimate the chip resources it needs.

- :func:`check` lists every :class:`Violation`: ``severity="error"`` when a value
  does not fit a hardware field as lava's bit-accurate models define it (weight
  mantissa, threshold, decays, bias, delays, message bits) -- the network would not
  run as is; ``severity="warning"`` for what rests on an estimate (cores, fan-in,
  weight exponent range, worst-case state overflow) or needs more than NeuroCores
  (neuron types without a NeuroCore model, ``average`` layers, the cutoff controller).
- :func:`estimate` gives per-layer neurons, synapses, synaptic memory, NeuroCores
  and the fraction of one chip.  Every number it derives from per-core capacities is
  an estimate (see :mod:`loihi_snn.core.constants`): lava-loihi's compiler, which is
  closed, does the real mapping.

Both take a :class:`~loihi_snn.netx.schema.NetSpec` (``read_netx(path)``) and use no
Lava, so they are cheap.  Neither relies on the schema's own checks: a spec built in
code is checked as thoroughly as one read from a file.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from loihi_snn import families
from loihi_snn.core import constants as C
from loihi_snn.netx.lower import weight_precision
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, transposed_fan_in, transposed_synapses


@dataclass
class Violation:
    """One limit a network exceeds.

    Attributes
    ----------
    layer : int or None
        layer index (``/layer/<i>``), None for the whole network.
    field : str
        the offending field (``weight``, ``neuron/vThMant``, ``delay``, ``cores``...).
    value, limit : Any
        what the network has and what Loihi 2 allows.
    message : str
        one line: what is wrong and what to do.
    severity : {"error", "warning"}
        ``error``: does not fit a hardware field; ``warning``: an estimate is exceeded
        or the layer needs the embedded CPUs / custom microcode.
    """
    layer: Optional[int]
    field: str
    value: Any
    limit: Any
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = "network" if self.layer is None else f"layer {self.layer}"
        return f"{self.severity.upper()}: {where}: {self.field}: {self.message}"

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        for k in ("value", "limit"):
            v = d[k]
            if isinstance(v, tuple):
                d[k] = list(v)
            elif isinstance(v, np.generic):
                d[k] = v.item()
        return d


@dataclass
class LayerEstimate:
    """Estimated Loihi 2 resources of one layer.

    ``neurons`` compartments; ``synapses`` non-zero synapses (feed-forward plus
    recurrent; a conv layer counts every (output neuron, kernel tap) pair);
    ``synapse_bytes`` estimated synaptic memory (conv kernels stored once per core);
    ``cores`` estimated NeuroCores (0 for flatten, a shape-only input and layers that
    run off the NeuroCores); ``weight_bits``/``weight_exp`` the 8-bit mantissa
    packing (lava-dl's ``optimize_weight_bits``); ``message_bits`` bits per spike the
    layer sends (1 binary, 2 ternary, up to 24 graded); ``max_delay`` in steps;
    ``fan_in`` distinct inputs per neuron; ``where`` ``"neurocore"``,
    ``"embedded-cpu"`` (no NeuroCore model) or ``"none"``.
    """
    index: int
    type: str
    neuron: Optional[str]
    neurons: int
    synapses: int
    synapse_bytes: int
    cores: int
    weight_bits: Optional[int]
    weight_exp: Optional[int]
    message_bits: int
    max_delay: Optional[int]
    fan_in: int
    where: str

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class NetEstimate:
    """Per-layer estimates plus totals; ``chip_fraction`` = cores / 120 usable cores."""
    layers: List[LayerEstimate]
    neurons: int
    synapses: int
    cores: int
    chips: int
    chip_fraction: float
    assumptions: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        d["layers"] = [l.to_dict() for l in self.layers]
        return d


# ----------------------------------------------------------------------------- helpers

def _message_bits(layer) -> int:
    """Bits per spike a layer sends."""
    if layer.type == "average":
        return C.GRADED_MESSAGE_BITS
    n = layer.neuron
    if n is None:
        return 0
    if n.type == "SDNN":
        try:
            return int(n.params.get("messageBits", C.SDNN_DEFAULT_MESSAGE_BITS))
        except (TypeError, ValueError):
            return C.SDNN_DEFAULT_MESSAGE_BITS
    if n.type == "TERNARY":
        return C.TERNARY_MESSAGE_BITS
    return C.BINARY_MESSAGE_BITS


def _weights(layer) -> List[Tuple[str, np.ndarray]]:
    out = []
    for key in ("weight", "weight_rec", "weight_imag"):
        w = layer.fields.get(key)
        if w is not None and layer.type in ("dense", "dense_rec", "conv", "pool") + \
                TRANSPOSED_TYPES:
            out.append((key, np.asarray(w)))
    return out


def _bias_range(layer) -> Optional[Tuple[float, float]]:
    b = layer.fields.get("bias")
    if b is None:
        return None
    b = np.asarray(b, dtype=np.float64)
    return (float(b.min()), float(b.max())) if b.size else None


def _has_neurons(layer) -> bool:
    # a concat routes: on the chip its sources' axons go straight to the next layer's
    # synapses (counted there), so it has no neurons, synapses or cores of its own
    return layer.type not in ("flatten", "concat") and not (layer.type == "input" and layer.neuron is None)


# ----------------------------------------------------------------------------- estimate

def _layer_estimate(layer) -> LayerEstimate:
    neurons = int(math.prod(layer.shape)) if _has_neurons(layer) else 0
    ntype = layer.neuron.type if layer.neuron is not None else None
    weights = _weights(layer)
    bits = exp = None
    if weights:
        packed = [weight_precision(w) for _, w in weights]
        bits = max(p[0] for p in packed)
        exp = packed[0][1]
    delay = layer.fields.get("delay")
    max_delay = int(np.max(delay)) if delay is not None and np.size(delay) else None
    fan_in = 0
    if layer.type in ("dense", "dense_rec"):
        fan_in = int(math.prod(layer.in_shape)) + (int(math.prod(layer.shape))
                                                   if "weight_rec" in layer.fields else 0)
        if "weight_imag" in layer.fields:      # complex dense: a real and an imaginary input
            fan_in += int(math.prod(layer.in_shape))
    elif layer.type == "conv":
        w = layer.fields["weight"]
        fan_in = int(math.prod(w.shape[1:]))
    elif layer.type == "pool":
        fan_in = int(math.prod(layer.fields["kernel"]))
    elif layer.type in TRANSPOSED_TYPES:
        fan_in = transposed_fan_in(layer)
    synapses = int(transposed_synapses(layer) if layer.type in TRANSPOSED_TYPES
                   else layer.num_synapses)
    if layer.type in ("conv", "pool") + TRANSPOSED_TYPES:
        kernel_bytes = int(np.size(layer.fields["weight"]))        # shared, 1 byte a weight
        synapse_bytes = kernel_bytes
    else:
        per_syn_bits = C.WEIGHT_MANTISSA_BITS + C.SYNAPSE_INDEX_BITS + \
            (C.DELAY_BITS if delay is not None else 0)
        synapse_bytes = synapses * int(math.ceil(per_syn_bits / 8))
    where = "none"
    cores = 0
    if layer.type == "average":
        where = "embedded-cpu"
    elif neurons:
        family = families.get(ntype) if ntype is not None else None
        where = "neurocore" if (ntype is None or (family is not None and family.on_chip)) \
            else "embedded-cpu"
        per_core = (C.MAX_COMPARTMENTS_PER_CORE if ntype is None else
                    family.neurons_per_core if family is not None else C.NEURONS_PER_CORE_DEFAULT)
        cores = max(1, math.ceil(neurons / per_core),
                    math.ceil(synapse_bytes / C.SYNAPSE_MEMORY_BYTES_PER_CORE))
    return LayerEstimate(index=layer.index, type=layer.type, neuron=ntype, neurons=neurons,
                         synapses=synapses, synapse_bytes=int(synapse_bytes), cores=int(cores),
                         weight_bits=bits, weight_exp=exp, message_bits=_message_bits(layer),
                         max_delay=max_delay, fan_in=fan_in, where=where)


def estimate(spec) -> NetEstimate:
    """Per-layer resource estimate of a :class:`~loihi_snn.netx.schema.NetSpec`.

    Returns
    -------
    NetEstimate
        ``layers`` (one :class:`LayerEstimate` per file layer), totals, ``chips``
        (ceil(cores / 120)) and the ``assumptions`` (per-core capacities) used.
    """
    layers = [_layer_estimate(l) for l in spec.layers]
    cores = sum(l.cores for l in layers)
    return NetEstimate(
        layers=layers, neurons=sum(l.neurons for l in layers),
        synapses=sum(l.synapses for l in layers), cores=cores,
        chips=max(1, math.ceil(cores / C.NEURO_CORES_PER_CHIP)),
        chip_fraction=cores / C.NEURO_CORES_PER_CHIP,
        assumptions={
            "neuro_cores_per_chip": C.NEURO_CORES_PER_CHIP,
            "neurons_per_core (estimate)": {**{t: f.neurons_per_core
                                                for t, f in families.FAMILIES.items()},
                                             "None": C.MAX_COMPARTMENTS_PER_CORE},
            "synapse_memory_bytes_per_core (estimate)": C.SYNAPSE_MEMORY_BYTES_PER_CORE,
            "bytes_per_synapse (estimate)": "ceil((8 weight + 13 index [+ 6 delay]) / 8); "
                                            "conv kernels stored once per core",
        })


# ----------------------------------------------------------------------------- check

def _check_neuron(layer, out: List[Violation]) -> None:
    n = layer.neuron
    if n is None:
        return
    i, p = layer.index, n.params

    def num(key):
        v = p.get(key)
        try:
            return None if v is None else float(v)
        except (TypeError, ValueError):
            return None

    on_chip = sorted(t for t, f in families.FAMILIES.items() if f.on_chip)
    if n.type not in on_chip:
        out.append(Violation(i, "neuron/type", n.type, on_chip,
                             f"neuron type {n.type} runs as a Python Lava process (ours, or "
                             f"lava's ATRLIF for ALIF), not a stock NeuroCore model of "
                             f"lava-loihi: on the chip it needs a NeuroCore "
                             f"microcode program (or the embedded CPUs) -- see "
                             f"docs/hardware.md", "warning"))
    if n.type in ("CUBA", "LOIHI", "LIF", "TERNARY"):
        vth = num("vThMant")
        if vth is not None and not 0 <= vth <= C.VTH_MANT_MAX:
            out.append(Violation(i, "neuron/vThMant", vth, C.VTH_MANT_MAX,
                                 f"threshold mantissa {vth:g} does not fit the "
                                 f"{C.VTH_MANT_BITS}-bit unsigned threshold (0..{C.VTH_MANT_MAX}); "
                                 f"rescale weights and threshold together"))
        if n.type in ("CUBA", "LOIHI"):      # stock netx mapping: du = iDecay - 1, dv = vDecay
            idecay, vdecay = num("iDecay"), num("vDecay")
            if idecay is not None and not 1 <= idecay <= C.DECAY_MAX + 1:
                out.append(Violation(i, "neuron/iDecay", idecay, (1, C.DECAY_MAX + 1),
                                     f"iDecay {idecay:g} gives du = iDecay - 1 = {idecay - 1:g}, "
                                     f"outside the {C.DECAY_BITS}-bit current decay 0..{C.DECAY_MAX}"))
            if vdecay is not None and not 0 <= vdecay <= C.DECAY_MAX:
                out.append(Violation(i, "neuron/vDecay", vdecay, (0, C.DECAY_MAX),
                                     f"vDecay {vdecay:g} does not fit the {C.DECAY_BITS}-bit "
                                     f"voltage decay 0..{C.DECAY_MAX} (4096 = reset every step "
                                     f"is not representable; use 4095)"))
    elif n.type in ("RF_PHASE", "RF_IZHIKEVICH", "RF_IZ", "RF"):
        vth = num("vThMant")
        if vth is not None and not 0 <= vth <= C.VTH_MANT_MAX:
            out.append(Violation(i, "neuron/vThMant", vth, C.VTH_MANT_MAX,
                                 f"resonate-and-fire threshold {vth:g} does not fit "
                                 f"{C.VTH_MANT_BITS} bits (0..{C.VTH_MANT_MAX}) with the "
                                 f"24-bit state"))
    elif n.type == "SDNN":
        vth = num("vThMant")
        if vth is not None and not 0 <= vth <= C.SDNN_VTH_MAX:
            out.append(Violation(i, "neuron/vThMant", vth, C.SDNN_VTH_MAX,
                                 f"sigma-delta threshold {vth:g} does not fit "
                                 f"{C.SDNN_VTH_BITS} bits (0..{C.SDNN_VTH_MAX})"))


def check(spec) -> List[Violation]:
    """Every Loihi 2 limit that the network ``spec`` exceeds (empty list: none).

    Errors come first within each layer; see :class:`Violation` for the severities.
    """
    out: List[Violation] = []
    prev_bits = 0
    est = estimate(spec)
    for layer, e in zip(spec.layers, est.layers):
        i = layer.index
        # weights: 8-bit mantissa + shared exponent
        for key, w in _weights(layer):
            bits, exp, mode = weight_precision(w)
            if bits > C.WEIGHT_MANTISSA_BITS:
                out.append(Violation(i, key, bits, C.WEIGHT_MANTISSA_BITS,
                                     f"needs a {bits}-bit weight mantissa ({mode} signs, values "
                                     f"{int(np.min(w))}..{int(np.max(w))}); Loihi 2 holds "
                                     f"{C.WEIGHT_MANTISSA_BITS} bits with one shared exponent: "
                                     f"quantize with SLAYER's 8-bit quantizer (even values in "
                                     f"[-256, 254])"))
            if not C.WEIGHT_EXP_MIN <= exp <= C.WEIGHT_EXP_MAX:
                out.append(Violation(i, key, exp, (C.WEIGHT_EXP_MIN, C.WEIGHT_EXP_MAX),
                                     f"shared weight exponent {exp} is outside the estimated "
                                     f"range {C.WEIGHT_EXP_MIN}..{C.WEIGHT_EXP_MAX}", "warning"))
        # axonal delays
        if e.max_delay is not None and e.max_delay > C.MAX_DELAY:
            out.append(Violation(i, "delay", e.max_delay, C.MAX_DELAY,
                                 f"axonal delay {e.max_delay} exceeds the Loihi 2 limit of "
                                 f"{C.MAX_DELAY} steps ({C.DELAY_BITS}-bit delay field)"))
        # bias mantissa
        br = _bias_range(layer)
        if br is not None and layer.neuron is not None and layer.neuron.type != "SDNN" and \
                (br[0] < C.BIAS_MANT_MIN or br[1] > C.BIAS_MANT_MAX):
            bad = br[0] if br[0] < C.BIAS_MANT_MIN else br[1]
            out.append(Violation(i, "bias", bad, (C.BIAS_MANT_MIN, C.BIAS_MANT_MAX),
                                 f"bias {bad:g} does not fit the {C.BIAS_MANT_BITS}-bit signed "
                                 f"bias mantissa ({C.BIAS_MANT_MIN}..{C.BIAS_MANT_MAX})"))
        _check_neuron(layer, out)
        # messages
        if e.message_bits > C.GRADED_MESSAGE_BITS:
            out.append(Violation(i, "neuron/messageBits", e.message_bits, C.GRADED_MESSAGE_BITS,
                                 f"{e.message_bits}-bit graded spikes; Loihi 2 graded spikes "
                                 f"carry up to {C.GRADED_MESSAGE_BITS} bits"))
        # worst-case synaptic input of one step vs the 24-bit current (binary/ternary input)
        if layer.neuron is not None and layer.neuron.type != "SDNN" and prev_bits <= 2:
            for key, w in _weights(layer):
                if layer.type not in ("dense", "dense_rec"):
                    continue
                worst = float(np.max(np.sum(np.abs(w), axis=1))) if w.size else 0.0
                if worst * (1 << C.ACT_SHIFT) > C.V_LIMIT:
                    out.append(Violation(i, key, int(worst), C.V_LIMIT >> C.ACT_SHIFT,
                                         f"if every input spikes in one step the synaptic input "
                                         f"{int(worst)} << {C.ACT_SHIFT} overflows the "
                                         f"{C.STATE_BITS}-bit current (u wraps)", "warning"))
        # where it runs
        if layer.type == "average":
            out.append(Violation(i, "type", "average", list(C.ON_CHIP_LAYER_TYPES),
                                 "an average (population sum) layer has no NeuroCore model: it "
                                 "runs on the embedded CPU or the host", "warning"))
        if layer.type in TRANSPOSED_TYPES:
            out.append(Violation(i, "type", layer.type, list(C.ON_CHIP_LAYER_TYPES),
                                 f"this {layer.type} layer runs in lava as a gather (a CPU "
                                 f"process) into a conv; lava's NeuroCore models have no "
                                 f"transposed-conv connection: on the chip it needs sparse "
                                 f"synapses ({e.synapses} here)", "warning"))
        if "asa" in layer.fields:
            out.append(Violation(i, "asa", "asa", None,
                                 "the ASA gate (per-step channel statistics, a 3x3 map and a "
                                 "multiplicative gain on the layer's currents) has no NeuroCore "
                                 "model: it needs NeuroCore microcode or the embedded CPUs -- "
                                 "see docs/hardware.md", "warning"))
        if e.fan_in > C.FAN_IN_AXONS_PER_CORE:
            out.append(Violation(i, "fan_in", e.fan_in, C.FAN_IN_AXONS_PER_CORE,
                                 f"fan-in of {e.fan_in} inputs per neuron exceeds the estimated "
                                 f"{C.FAN_IN_AXONS_PER_CORE} input axons per core", "warning"))
        if e.neurons:
            prev_bits = e.message_bits
    if est.cores > C.NEURO_CORES_PER_CHIP:
        out.append(Violation(None, "cores", est.cores, C.NEURO_CORES_PER_CHIP,
                             f"an estimated {est.cores} NeuroCores exceed one chip's "
                             f"{C.NEURO_CORES_PER_CHIP}: needs {est.chips} chips (a multi-chip "
                             f"system such as Kapoho Point)", "warning"))
    if est.neurons > C.NEURONS_PER_CHIP:
        out.append(Violation(None, "neurons", est.neurons, C.NEURONS_PER_CHIP,
                             f"{est.neurons} neurons exceed one chip's {C.NEURONS_PER_CHIP}",
                             "warning"))
    if isinstance(getattr(spec, "extensions", None), dict) and "cutoff" in spec.extensions:
        out.append(Violation(None, "cutoff", "cutoff", None,
                             "the Top-K cutoff controller runs on the embedded CPU (or the "
                             "host), not on the NeuroCores -- see docs/hardware.md", "warning"))
    order = {"error": 0, "warning": 1}
    out.sort(key=lambda v: (v.layer if v.layer is not None else 1 << 30, order[v.severity]))
    return out


def errors(violations: List[Violation]) -> List[Violation]:
    """Only the ``severity == "error"`` entries."""
    return [v for v in violations if v.severity == "error"]

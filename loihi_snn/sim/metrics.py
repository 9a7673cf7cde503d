"""What a deployment costs: NeuroBench's metrics measured on the deployed fixed-point network.

    import loihi_snn
    m = loihi_snn.metrics.measure("netx_models/digits_cuba/digits_cuba.net", X)
    m.synaptic_operations["effective_acs"], m.activation_sparsity["overall"]
    m.to_dict()          # what ``loihi-snn eval --metrics --json`` prints

Everything is measured on the bit-exact run of the exported file -- the emulator
(:mod:`loihi_snn.sim.emulator`, equal to Lava ``fixed_pt`` spike for spike) or Lava itself
(``backend="lava-fixed"``: every layer recorded, one sample at a time; slow, for checks)
-- over the steps each sample used (``used_steps``: the cutoff's decisions; default all
steps).  NeuroBench 2.3 (``neurobench.metrics``) measures torch/snnTorch models in float;
the definitions below are NeuroBench's, applied to the deployed integers:

- **synaptic operations** (NeuroBench ``SynapticOperations``): every synapse (the
  feed-forward synapses into each dense / conv / pool layer and a ``dense_rec`` layer's
  recurrent synapses; a complex dense layer's real and imaginary ones) counts, per step,
  the pairs (non-zero input, non-zero weight) --
  a source neuron's *fan-out* times its events.  The fan-out of a dense column is its
  non-zero weights (as lava's Dense model holds them); of a conv or pool input neuron,
  the kernel taps that land inside the output map with a non-zero weight, counted
  exactly (borders, stride, dilation, groups).  ``effective_acs``: the operations fed
  by binary or ternary spikes (values in {-1, 0, 1}: an accumulate); ``effective_macs``:
  those fed by graded spikes (sigma-delta layers, a graded network input: a multiply
  and accumulate).  ``dense``: every synapse (zero weights too) every step.  Per sample,
  in total and per connection.  (NeuroBench decides AC or MAC from the values of each
  call; here the message type decides, the same except for a graded message that
  happens to carry only 0 and +-1.)  The bias is not a synaptic operation (NeuroBench
  neither); an ``average`` output layer (group sums, on the embedded CPU) and the ASA
  gate's arithmetic are not counted.
- **activation sparsity** (``ActivationSparsity`` / ``ActivationSparsityByLayer``):
  1 - non-zero outputs / (neurons x steps), over every layer with neurons (1 - NASFR).
- **connection sparsity** (``ConnectionSparsity``): zero weights / weights, over every
  weight tensor as deployed (dense, recurrent, conv and pool kernels).
- **membrane updates** (``MembraneUpdates``): every neuron at the first step, then the
  neurons whose membrane changed during a step (after its reset, as snnTorch's ``mem``
  after a step): the voltage of a LIF-family neuron, a sigma-delta neuron's sigma
  (:data:`loihi_snn.sim.emulator.network.MEMBRANE_STATE`).  The emulator reads the
  states; a Lava run records only outputs (None there).  ``neuron_updates_dense``:
  every neuron every step.
- **footprint** at Loihi's precisions (NeuroBench's ``Footprint`` counts float32
  parameters and buffers): every weight at its layer's mantissa bits plus one shared
  exponent per weight tensor, axonal delays, biases and the neuron state
  (:mod:`loihi_snn.core.constants` names each width); ``parameters`` as NeuroBench's
  ``ParameterCount`` counts them (weights and biases).
- **latency**: the steps each sample used (the cutoff's, else the run's), and the
  pipeline depth (steps for an input to reach the output: one per synapse).
- **Loihi 2 resources**: :func:`loihi_snn.netx.resources.estimate` (``info --loihi2``):
  cores and chips, an estimate.
- **energy**: none.  No per-operation energy of Loihi 2 has been published by Intel
  (Davies et al., IEEE Micro 2018, gave Loihi 1's; they do not carry over), so only
  operation counts are reported.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from loihi_snn import families
from loihi_snn.core import constants as C
from loihi_snn.core.args import check_choice, check_int, check_path, show
from loihi_snn.core.errors import OptionError, ShapeError
from loihi_snn.core.weights import clip_weights, determine_sign_mode, truncate_weights
from loihi_snn.netx.lower import (bias_mantissa, complex_layer_weights, dense_layer_weights,
                                  latency_blocks,
                                  pool_kernel, weight_precision, with_neuron)
from loihi_snn.netx.resources import estimate
from loihi_snn.netx.schema import LayerSpec, NetSpec, input_transform, read_netx
from loihi_snn.netx.concat import concat_pieces, producer
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, lower_transposed

__all__ = ["Connection", "CostPlan", "DeploymentMetrics", "ENERGY_NOTE", "cost_plan",
           "conv_fanout", "format_metrics", "measure", "measure_activity"]

#: backends ``measure`` runs on: the emulator (all metrics) or Lava fixed_pt (every layer
#: recorded, one run per sample; no state, so no membrane updates)
MEASURE_BACKENDS = ("emulator", "lava-fixed")

#: why no energy figure is given
ENERGY_NOTE = ("no energy estimate: Intel has published no per-operation energy for Loihi 2 "
               "(Davies et al., IEEE Micro 2018, measured Loihi 1's; they do not carry over), so "
               "only operation counts are reported")

#: bits of a shared weight exponent (ESTIMATE: the range -8..7 of
#: ``constants.WEIGHT_EXP_MIN``/``WEIGHT_EXP_MAX``)
WEIGHT_EXP_BITS = (C.WEIGHT_EXP_MAX - C.WEIGHT_EXP_MIN).bit_length()


# ---------------------------------------------------------------------------- fan-out
def _axis_taps(k: int, n_in: int, n_out: int, stride: int, pad: int, dil: int) -> np.ndarray:
    """(k, n_in) bool: kernel tap ``kk`` of input position ``y`` lands on an output
    position inside the map (``o * stride - pad + kk * dil == y`` for some ``o``)."""
    taps = np.zeros((k, n_in), dtype=bool)
    for kk in range(k):
        pos = np.arange(n_out) * stride - pad + kk * dil
        taps[kk, pos[(pos >= 0) & (pos < n_in)]] = True
    return taps


def conv_fanout(mask: np.ndarray, in_shape: Sequence[int], out_shape: Sequence[int],
                stride: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
                groups: int) -> np.ndarray:
    """Synapses each input neuron of a conv drives, (Cin, H, W) int64 (file order).

    ``mask`` (Cout, Cin/groups, kH, kW): which kernel taps count (non-zero weights for
    the effective fan-out, all ones for the dense one).  A tap counts when it lands on
    an output inside the map: borders, stride, dilation and groups are exact (equal to
    the gradient of the summed conv output with respect to its input).
    """
    mask = np.asarray(mask) != 0
    cout, cin_g, kh, kw = mask.shape
    c, h, w = (int(s) for s in in_shape)
    _, ho, wo = (int(s) for s in out_shape)
    g = int(groups)
    vy = _axis_taps(kh, h, ho, int(stride[0]), int(padding[0]), int(dilation[0]))
    vx = _axis_taps(kw, w, wo, int(stride[1]), int(padding[1]), int(dilation[1]))
    # m[cin, ky, kx]: output channels of cin's group whose tap (cin, ky, kx) counts
    m = mask.reshape(g, cout // g, cin_g, kh, kw).sum(axis=1).reshape(g * cin_g, kh, kw)
    f = np.einsum("cab,ay,bx->cyx", m.astype(np.int64), vy.astype(np.int64),
                  vx.astype(np.int64))
    return f.reshape(c, h, w).astype(np.int64)


def transposed_fanout(layer: LayerSpec) -> Tuple[np.ndarray, np.ndarray]:
    """(effective, dense) synapses each input neuron of a ``convT`` / ``unpool`` layer
    drives, flat (Cin*H*W,) int64: the fan-out of its position in the stuffed map of the
    equivalent conv (:func:`loihi_snn.netx.transposed.lower_transposed`), so borders,
    stride, dilation, groups and SLAYER's channel folding are exact."""
    sc = lower_transposed(layer)
    geo = (sc.stuffed_shape, sc.conv_shape, (1, 1), (0, 0), sc.dilation, sc.groups)
    pos = np.flatnonzero(sc.index >= 0)
    out = []
    for mask in (sc.kernel, np.ones(sc.kernel.shape)):
        fan = np.zeros(int(np.prod(sc.in_shape)), dtype=np.int64)
        fan[sc.index[pos]] = conv_fanout(mask, *geo).reshape(-1)[pos]
        out.append(fan)
    return out[0], out[1]


def _lava_dense(w: np.ndarray, bits: int) -> np.ndarray:
    """The weights lava's bit-accurate Dense model holds (its sign mode, 8-bit clip and
    truncation to ``bits``: :mod:`loihi_snn.core.weights`, as the emulator's synapse)."""
    mode = determine_sign_mode(w)
    w = clip_weights(np.asarray(w), mode, num_bits=8)
    return np.asarray(truncate_weights(w, mode, int(bits)), dtype=np.int64)


# ---------------------------------------------------------------------------- plan
@dataclass
class Connection:
    """One set of synapses: into ``layer`` (file index) from ``source`` (the network
    input when None, else a layer's file index), ``kind`` ``feedforward`` or
    ``recurrent``; ``message`` ``binary``/``ternary``/``graded`` and so ``operation``
    ``AC`` or ``MAC``; ``fanout`` / ``fanout_dense`` (source neurons,) int64: synapses per
    source neuron with a non-zero weight / all of them."""
    layer: int
    type: str
    kind: str
    source: Optional[int]
    source_slot: Optional[int]          # index among the layers with neurons; None: input
    message: str
    fanout: np.ndarray
    fanout_dense: np.ndarray

    @property
    def operation(self) -> str:
        return "MAC" if self.message == "graded" else "AC"

    @property
    def synapses(self) -> int:
        return int(self.fanout.sum())

    @property
    def synapses_dense(self) -> int:
        return int(self.fanout_dense.sum())

    def describe(self) -> Dict[str, Any]:
        return {"layer": self.layer, "type": self.type, "kind": self.kind,
                "source": "input" if self.source is None else f"layer {self.source}",
                "message": self.message, "operation": self.operation,
                "synapses": self.synapses, "synapses_dense": self.synapses_dense}


@dataclass
class CostPlan:
    """What a network costs before it runs: its layers with neurons (in the order of the
    emulator's spike counts), its connections with their fan-outs, connection sparsity,
    footprint, pipeline depth and the Loihi 2 estimate (:func:`cost_plan`)."""
    spec: NetSpec
    neuron_layers: List[LayerSpec]
    neurons: np.ndarray
    num_states: np.ndarray
    connections: List[Connection]
    connection_sparsity: Dict[str, Any]
    footprint: Dict[str, Any]
    pipeline_depth: int
    loihi2: Dict[str, Any]
    notes: List[str] = field(default_factory=list)


def _neuron_step(layer: LayerSpec, is_input: bool):
    """The family's emulator step of ``layer`` (None when the family has none)."""
    layer = with_neuron(layer)
    family = families.get(layer.neuron.type)
    if family is None or family.emulator_step is None:
        return None
    return family.emulator_step(layer, bias_mantissa(layer), is_input)


def _message(layer: LayerSpec, step) -> str:
    """What a layer's neurons send: binary, ternary or graded spikes."""
    if layer.neuron is not None and layer.neuron.type == "TERNARY":
        return "ternary"
    if step is not None:
        return "binary" if step.out_bits == 0 else "graded"
    if layer.neuron is not None and layer.neuron.type == "SDNN":
        return "graded"
    return "binary"


def _has_neurons(layer: LayerSpec) -> bool:
    return layer.type in ("dense", "dense_rec", "conv", "pool") + TRANSPOSED_TYPES or (
        layer.type == "input" and layer.neuron is not None)


def _weight_tensors(layer: LayerSpec) -> List[Tuple[str, np.ndarray, int, int]]:
    """(name, deployed weights, mantissa bits, exponent) of each weight tensor."""
    out = []
    if "weight_imag" in layer.fields:        # complex dense (RF neurons): two matrices
        for name, (w, bits, exp) in zip(("weight", "weight_imag"),
                                        complex_layer_weights(layer, "fixed")):
            out.append((name, _lava_dense(w, bits), bits, exp))
    elif layer.type in ("dense", "dense_rec") and layer.fields.get("weight") is not None:
        w, wr, bits, exp = dense_layer_weights(layer, "fixed")
        out.append(("weight", _lava_dense(w, bits), bits, exp))
        if wr is not None:
            out.append(("weight_rec", _lava_dense(wr, bits), bits, exp))
    elif layer.type in ("conv", "pool") + TRANSPOSED_TYPES and \
            layer.fields.get("weight") is not None:
        w = np.asarray(layer.fields["weight"])
        bits, exp, _ = weight_precision(w)
        out.append(("weight", w, bits, exp))
    return out


def _connection_sparsity(spec: NetSpec) -> Dict[str, Any]:
    rows, zeros, total = [], 0, 0
    for layer in spec.layers:
        tensors = _weight_tensors(layer)
        if not tensors:
            continue
        z = sum(int(np.size(w) - np.count_nonzero(w)) for _, w, _, _ in tensors)
        n = sum(int(np.size(w)) for _, w, _, _ in tensors)
        rows.append({"layer": layer.index, "type": layer.type, "weights": n, "zeros": z,
                     "sparsity": z / n if n else 0.0})
        zeros, total = zeros + z, total + n
    return {"overall": zeros / total if total else 0.0, "weights": total, "zeros": zeros,
            "layers": rows}


def _footprint(spec: NetSpec, neuron_layers: List[LayerSpec],
               num_states: np.ndarray) -> Dict[str, Any]:
    states = {l.index: int(s) for l, s in zip(neuron_layers, num_states)}
    rows: List[Dict[str, Any]] = []
    totals = {"weights": 0, "weight_exponents": 0, "delays": 0, "biases": 0, "state": 0}
    params = 0
    for layer in spec.layers:
        bits = {k: 0 for k in totals}
        tensors = _weight_tensors(layer)
        for _, w, b, _ in tensors:
            bits["weights"] += int(np.size(w)) * int(b)
            bits["weight_exponents"] += WEIGHT_EXP_BITS
            params += int(np.size(w))
        delay = layer.fields.get("delay")
        if delay is not None and layer.type in ("dense", "dense_rec"):
            bits["delays"] += int(np.size(delay)) * C.DELAY_BITS
        bias = layer.fields.get("bias")
        n = int(np.prod(layer.shape))
        if bias is not None and layer.neuron is not None:
            wide = C.SDNN_BIAS_BITS if layer.neuron.type == "SDNN" else C.BIAS_MANT_BITS
            bits["biases"] += n * wide
            params += int(np.size(bias))
        if layer.index in states:
            bits["state"] += n * states[layer.index] * C.STATE_BITS
        if any(bits.values()):
            row = {"layer": layer.index, "type": layer.type,
                   **{f"{k}_bits": v for k, v in bits.items()},
                   "bytes": int(math.ceil(sum(bits.values()) / 8))}
            if tensors:
                row["weight_bits"] = max(b for _, _, b, _ in tensors)
                row["weight_exp"] = tensors[0][3]
            rows.append(row)
        for k in totals:
            totals[k] += bits[k]
    out = {f"{k}_bytes": int(math.ceil(v / 8)) for k, v in totals.items()}
    out["bytes"] = int(math.ceil(sum(totals.values()) / 8))
    out["parameters"] = params
    out["float32_parameter_bytes"] = 4 * params
    out["layers"] = rows
    out["widths"] = {"weight": "the layer's mantissa bits (lava-dl's packing)",
                     "weight_exponent": f"{WEIGHT_EXP_BITS} bits per weight tensor (ESTIMATE: "
                                        f"exponent {C.WEIGHT_EXP_MIN}..{C.WEIGHT_EXP_MAX})",
                     "delay": f"{C.DELAY_BITS} bits per synapse of a layer with delays",
                     "bias": f"{C.BIAS_MANT_BITS} bits a neuron ({C.SDNN_BIAS_BITS} for SDNN)",
                     "state": f"{C.STATE_BITS} bits per state variable per neuron",
                     "left_out": "per-layer constants (threshold, decays: a few bytes a layer)"}
    return out


def _loihi2(spec: NetSpec) -> Dict[str, Any]:
    est = estimate(spec)
    return {"cores": est.cores, "chips": est.chips, "chip_fraction": est.chip_fraction,
            "neurons": est.neurons, "synapses": est.synapses,
            "synapse_bytes": int(sum(l.synapse_bytes for l in est.layers)),
            "layers": [{"layer": l.index, "type": l.type, "cores": l.cores, "where": l.where,
                        "synapse_bytes": l.synapse_bytes} for l in est.layers],
            "note": "ESTIMATE from per-core capacities (loihi-snn info --loihi2; "
                    "lava-loihi's compiler does the real mapping)"}


def cost_plan(spec: Union[NetSpec, str, os.PathLike], input_message_bits: int = 0) -> CostPlan:
    """The static part of the metrics: layers with neurons, connections and fan-outs,
    connection sparsity, footprint, pipeline depth, Loihi 2 estimate.

    ``input_message_bits`` (0: binary input spikes, >0: graded) says what the network
    input sends into the first synapse (when the network has no input neurons).
    """
    if not isinstance(spec, NetSpec):
        spec = read_netx(check_path(spec, "spec"))
    neuron_layers: List[LayerSpec] = []
    steps = []
    connections: List[Connection] = []
    notes: List[str] = []
    prev_msg = input_msg = "graded" if input_message_bits else "binary"
    slot_of: Dict[int, Tuple[int, str]] = {}      # layer -> (slot, message): concat sources
    for layer in spec.layers:
        if layer.type == "average":
            notes.append(f"layer {layer.index}: the average layer's group sums (embedded CPU) "
                         f"are not synaptic operations")
            continue
        if not _has_neurons(layer):
            continue
        is_input = layer.type == "input"
        step = _neuron_step(layer, is_input)
        slot = len(neuron_layers)
        if not is_input:
            src = neuron_layers[-1] if neuron_layers else None
            in_size = int(np.prod(layer.in_shape))
            if layer.type in ("dense", "dense_rec"):
                # a complex dense layer (real and imaginary matrices) has two synapses
                # per pair of neurons, each an operation
                mats = [w for name, w, _, _ in _weight_tensors(layer) if name != "weight_rec"]
                fan = sum(np.count_nonzero(w, axis=0) for w in mats).astype(np.int64)
                dense = np.full(mats[0].shape[1], sum(w.shape[0] for w in mats), np.int64)
            elif layer.type in TRANSPOSED_TYPES:
                fan, dense = transposed_fanout(layer)
            else:
                f = layer.fields
                if layer.type == "conv":
                    kernel, groups = np.asarray(f["weight"]), int(f["groups"])
                else:
                    kernel, groups = pool_kernel(layer), int(layer.shape[0])
                geo = (layer.in_shape, layer.shape, f["stride"], f["padding"], f["dilation"],
                       groups)
                fan = conv_fanout(kernel, *geo).reshape(-1)
                dense = conv_fanout(np.ones(np.shape(kernel)), *geo).reshape(-1)
                if "asa" in f:
                    notes.append(f"layer {layer.index}: the ASA gate's arithmetic is not "
                                 f"counted as synaptic operations")
            if fan.size != in_size:     # pragma: no cover - the schema checks the shapes
                raise ShapeError(f"{spec.path}: layer {layer.index}: {fan.size} source "
                                 f"neurons, expected {in_size}")
            feeder = spec.layers[producer(spec, layer.index - 1)]
            if feeder.type == "concat":     # one connection per source (netx/concat.py)
                for k, off, size in concat_pieces(spec, feeder):
                    src_slot, msg = slot_of.get(k, (None, input_msg))
                    connections.append(Connection(
                        layer.index, layer.type, "feedforward",
                        None if src_slot is None else k, src_slot, msg,
                        fan[off:off + size], dense[off:off + size]))
            else:
                connections.append(Connection(layer.index, layer.type, "feedforward",
                                              None if src is None else src.index,
                                              None if src is None else slot - 1, prev_msg,
                                              fan, dense))
            if layer.type == "dense_rec":
                wr = {name: w for name, w, _, _ in _weight_tensors(layer)}["weight_rec"]
                connections.append(Connection(
                    layer.index, layer.type, "recurrent", layer.index, slot,
                    _message(layer, step), np.count_nonzero(wr, axis=0).astype(np.int64),
                    np.full(wr.shape[1], wr.shape[0], dtype=np.int64)))
        neuron_layers.append(layer)
        steps.append(step)
        prev_msg = _message(layer, step)
        slot_of[layer.index] = (slot, prev_msg)
    neurons = np.array([int(np.prod(l.shape)) for l in neuron_layers], dtype=np.int64)
    num_states = np.array([2 if s is None else s.num_states for s in steps], dtype=np.int64)
    return CostPlan(spec=spec, neuron_layers=neuron_layers, neurons=neurons,
                    num_states=num_states, connections=connections,
                    connection_sparsity=_connection_sparsity(spec),
                    footprint=_footprint(spec, neuron_layers, num_states),
                    pipeline_depth=int(latency_blocks(spec)), loihi2=_loihi2(spec), notes=notes)


# ---------------------------------------------------------------------------- activity
def _nonzero(out) -> np.ndarray:
    """A backend array's non-zero mask as numpy bool."""
    mask = out != 0
    if type(mask).__module__.startswith("torch"):
        return mask.cpu().numpy()
    return np.asarray(mask)


class _Recorder:
    """Per sample and step: each layer's non-zero outputs and each connection's
    effective synaptic operations (``observe`` of :meth:`Emulator.run`)."""

    def __init__(self, plan: CostPlan, n: int, steps: int) -> None:
        self.spikes = np.zeros((len(plan.neuron_layers), n, steps), dtype=np.int64)
        self.ops = np.zeros((len(plan.connections), n, steps), dtype=np.int64)
        self.by_source: Dict[int, Tuple[List[int], np.ndarray]] = {}
        for slot in range(len(plan.neuron_layers)):
            idx = [c for c, conn in enumerate(plan.connections) if conn.source_slot == slot]
            if idx:
                fans = np.stack([plan.connections[c].fanout for c in idx], axis=1)
                self.by_source[slot] = (idx, fans.astype(np.float64))

    def __call__(self, layer: int, rows: slice, t0: int, out) -> None:
        nz = _nonzero(out)
        nz = nz.reshape(nz.shape[0], nz.shape[1], -1)               # (T, n, neurons)
        t1 = t0 + nz.shape[0]
        self.spikes[layer, rows, t0:t1] = nz.sum(axis=2).T
        if layer in self.by_source:
            idx, fans = self.by_source[layer]
            ops = np.rint(nz.astype(np.float64) @ fans).astype(np.int64)   # (T, n, k)
            self.ops[idx, rows, t0:t1] = ops.transpose(2, 1, 0)

    def input_ops(self, plan: CostPlan, x: np.ndarray) -> None:
        """The connections fed by the network input (no input neurons): from ``x``
        (N, *input_shape, T); steps beyond T get no input."""
        for c, conn in enumerate(plan.connections):
            if conn.source_slot is not None:
                continue
            nz = (np.asarray(x) != 0).reshape(x.shape[0], -1, x.shape[-1])
            T = min(nz.shape[-1], self.ops.shape[-1])
            f = conn.fanout.astype(np.float64)
            for i in range(0, nz.shape[0], 256):
                part = nz[i:i + 256, :, :T].transpose(0, 2, 1).astype(np.float64)
                self.ops[c, i:i + 256, :T] = np.rint(part @ f).astype(np.int64)


@dataclass
class _Activity:
    spikes: np.ndarray                  # (L, N, steps) non-zero outputs
    ops: np.ndarray                     # (C, N, steps) effective synaptic operations
    updates: Optional[np.ndarray]       # (L, N, steps) neurons whose state changed
    outputs: Optional[np.ndarray]       # (N, *output_shape, steps) the network's output


def _emulator_activity(net, plan: CostPlan, x, steps, input_message_bits, reset_interval,
                       reset_offset, device) -> _Activity:
    from loihi_snn.sim.emulator.network import prepare_emulation   # the input boundary
    from loihi_snn.netx.lower import output_transform
    emu, xin, steps = prepare_emulation(net, x, steps, input_message_bits=input_message_bits,
                                        reset_interval=reset_interval,
                                        reset_offset=reset_offset, device=device)
    n, n_steps = xin.shape[0], xin.shape[-1] if steps is None else steps
    rec = _Recorder(plan, n, n_steps)
    updates = np.zeros((len(plan.neuron_layers), n, n_steps), dtype=np.int64)
    y = emu.run(xin, steps, observe=rec, state_updates=updates)
    rec.input_ops(plan, xin)
    y = output_transform(y, emu.output_group_size, emu.output_scale)
    return _Activity(rec.spikes, rec.ops, updates, y)


def _lava_activity(path: str, plan: CostPlan, x, steps, backend: str) -> _Activity:
    from loihi_snn.sim.runtime.probe import run_layers   # lazy: Lava
    x = np.asarray(x)
    n, n_steps = x.shape[0], x.shape[-1] if steps is None else int(steps)
    rec = _Recorder(plan, n, n_steps)
    blocks = [l for l in plan.spec.layers if l.type != "flatten" and _has_block(l)]
    for i in range(n):
        outs = run_layers(path, x[i], n_steps, backend=backend)
        slot = 0
        for layer, out in zip(blocks, outs):
            if layer.type == "average":
                continue
            out = np.moveaxis(np.asarray(out), -1, 0)[:, None]      # (T, 1, *shape)
            rec(slot, slice(i, i + 1), 0, out)
            slot += 1
    rec.input_ops(plan, input_transform(plan.spec, x))
    return _Activity(rec.spikes, rec.ops, None, None)


def _has_block(layer: LayerSpec) -> bool:
    return layer.type != "concat" and not (layer.type == "input" and layer.neuron is None)


# ---------------------------------------------------------------------------- metrics
@dataclass
class DeploymentMetrics:
    """NeuroBench's metrics of one measured run (see the module docstring).

    Scalars are means per sample over the samples measured.  Per-sample arrays:
    ``steps`` (latency, steps used), ``effective_ops`` (ACs + MACs), ``dense_ops``,
    ``membrane_updates`` (None from Lava), and ``ops_per_step`` (N, steps) every
    sample's effective operations at each step (within its steps used; for curves such
    as accuracy against operations).
    """
    net: str
    source: str
    samples: int
    run_steps: int
    cutoff: bool
    latency: Dict[str, Any]
    synaptic_operations: Dict[str, Any]
    activation_sparsity: Dict[str, Any]
    connection_sparsity: Dict[str, Any]
    membrane_updates: Optional[Dict[str, Any]]
    footprint: Dict[str, Any]
    loihi2: Dict[str, Any]
    energy: Dict[str, Any]
    spikes_per_sample: float
    notes: List[str] = field(default_factory=list)
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    effective_ops: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    dense_ops: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    membrane_updates_per_sample: Optional[np.ndarray] = field(default=None, repr=False)
    ops_per_step: Optional[np.ndarray] = field(default=None, repr=False)
    outputs: Optional[np.ndarray] = field(default=None, repr=False)

    def to_dict(self, per_sample: bool = False) -> Dict[str, Any]:
        """A JSON-serialisable dict (``eval --metrics --json``'s ``metrics``)."""
        d = {"source": self.source, "samples": self.samples, "run_steps": self.run_steps,
             "cutoff": self.cutoff, "latency": self.latency,
             "synaptic_operations": self.synaptic_operations,
             "activation_sparsity": self.activation_sparsity,
             "spikes_per_sample": self.spikes_per_sample,
             "connection_sparsity": self.connection_sparsity,
             "membrane_updates": self.membrane_updates, "footprint": self.footprint,
             "loihi2": self.loihi2, "energy": self.energy, "notes": list(self.notes)}
        if per_sample:
            d["per_sample"] = {
                "steps": self.steps.tolist(), "effective_ops": self.effective_ops.tolist(),
                "dense_ops": self.dense_ops.tolist(),
                "membrane_updates": (None if self.membrane_updates_per_sample is None
                                     else self.membrane_updates_per_sample.tolist())}
        return _plain(d)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


def _used(used_steps, n: int, n_steps: int) -> Tuple[np.ndarray, bool]:
    if used_steps is None:
        return np.full(n, n_steps, dtype=np.int64), False
    try:
        used = np.asarray(used_steps, dtype=np.float64)
    except (TypeError, ValueError):
        used = None
    if used is None or used.shape != (n,) or not np.all(np.isfinite(used)) or \
            not np.all(used == np.round(used)):
        raise OptionError(f"used_steps must hold one whole number of steps per sample "
                          f"({n} samples), got {show(used_steps)}")
    used = used.astype(np.int64)
    if used.size and (used.min() < 1 or used.max() > n_steps):
        raise OptionError(f"used_steps must be within 1..{n_steps} (the steps run), got "
                          f"{int(used.min())}..{int(used.max())}")
    return used, True


def metrics_from_activity(plan: CostPlan, activity: _Activity, used_steps=None, *,
                          source: str = "emulator") -> DeploymentMetrics:
    """The metrics of a recorded run (:class:`_Activity`) over the steps each sample used."""
    L, N, T = activity.spikes.shape
    used, cut = _used(used_steps, N, T)
    mask = np.arange(T)[None, :] < used[:, None]                       # (N, T)
    spikes = (activity.spikes * mask[None]).sum(axis=2)                 # (L, N)
    ops = (activity.ops * mask[None]).sum(axis=2)                       # (C, N)
    conns = plan.connections
    dense_step = np.array([c.synapses_dense for c in conns], dtype=np.int64)
    dense = dense_step[:, None] * used[None, :]                         # (C, N)
    is_mac = np.array([c.operation == "MAC" for c in conns], dtype=bool)
    acs = ops[~is_mac].sum(axis=0) if conns else np.zeros(N, np.int64)
    macs = ops[is_mac].sum(axis=0) if conns else np.zeros(N, np.int64)
    steps_total = float(used.sum())
    neurons = plan.neurons
    layers_ops = []
    for c, conn in enumerate(conns):
        layers_ops.append({**conn.describe(), "effective": float(ops[c].mean()) if N else 0.0,
                           "dense": float(dense[c].mean()) if N else 0.0})
    syn = {"effective_acs": float(acs.mean()) if N else 0.0,
           "effective_macs": float(macs.mean()) if N else 0.0,
           "dense": float(dense.sum(axis=0).mean()) if N and conns else 0.0,
           "layers": layers_ops}
    syn["effective"] = syn["effective_acs"] + syn["effective_macs"]
    act_layers = []
    for l, layer in enumerate(plan.neuron_layers):
        denom = float(neurons[l]) * steps_total
        act_layers.append({"layer": layer.index, "type": layer.type,
                           "neurons": int(neurons[l]),
                           "spikes_per_sample": float(spikes[l].mean()) if N else 0.0,
                           "sparsity": 1.0 - float(spikes[l].sum()) / denom if denom else 0.0})
    denom = float(neurons.sum()) * steps_total
    act = {"overall": 1.0 - float(spikes.sum()) / denom if denom else 0.0, "layers": act_layers}
    mem, mem_per = None, None
    if activity.updates is not None:
        upd = activity.updates * mask[None]
        upd[:, :, 0] = neurons[:, None] * (used[None, :] >= 1)       # NeuroBench: step 1
        per_layer = upd.sum(axis=2)                                     # (L, N)
        mem_per = per_layer.sum(axis=0)
        mem = {"per_sample": float(mem_per.mean()) if N else 0.0,
               "neuron_updates_dense": float(neurons.sum()) * (steps_total / N if N else 0.0),
               "layers": [{"layer": layer.index, "per_sample": float(per_layer[l].mean())}
                          for l, layer in enumerate(plan.neuron_layers)]}
    latency = {"mean_steps": float(used.mean()) if N else 0.0,
               "min_steps": int(used.min()) if N else 0, "max_steps": int(used.max()) if N else 0,
               "pipeline_depth_steps": plan.pipeline_depth}
    per_step = activity.ops.sum(axis=0) * mask if conns else np.zeros((N, T), np.int64)
    return DeploymentMetrics(
        net=plan.spec.path, source=source, samples=int(N), run_steps=int(T), cutoff=cut,
        latency=latency, synaptic_operations=syn, activation_sparsity=act,
        connection_sparsity=plan.connection_sparsity, membrane_updates=mem,
        footprint=plan.footprint, loihi2=plan.loihi2,
        energy={"estimate_joules": None, "note": ENERGY_NOTE},
        spikes_per_sample=float(spikes.sum(axis=0).mean()) if N else 0.0,
        notes=list(plan.notes), steps=used, effective_ops=(acs + macs).astype(np.int64),
        dense_ops=dense.sum(axis=0).astype(np.int64) if conns else np.zeros(N, np.int64),
        membrane_updates_per_sample=mem_per, ops_per_step=per_step, outputs=activity.outputs)


def measure_activity(net: Union[str, os.PathLike, NetSpec], x: Any, *,
                     steps: Optional[int] = None, backend: str = "emulator",
                     input_message_bits: Optional[int] = None,
                     reset_interval: Optional[int] = None, reset_offset: int = 0,
                     device: Any = None) -> Tuple[CostPlan, _Activity]:
    """Run ``x`` once and record every layer's activity: ``(plan, activity)``, from which
    :func:`metrics_from_activity` gives the metrics for any steps used (one run serves
    the full T and the cutoff)."""
    backend = check_choice(backend, "backend", MEASURE_BACKENDS)
    input_message_bits = check_int(input_message_bits, "input_message_bits", 0,
                                   C.GRADED_MESSAGE_BITS, allow_none=True)
    if isinstance(net, NetSpec):
        spec = net
    else:
        spec = read_netx(check_path(net, "net"))
    from loihi_snn.netx.lower import input_message_bits as bits_of   # graded input?
    xa = np.asarray(x)
    bits = bits_of(xa) if input_message_bits is None else int(input_message_bits)
    plan = cost_plan(spec, bits)
    if backend == "emulator":
        activity = _emulator_activity(spec if isinstance(net, NetSpec) else net, plan, xa,
                                      steps, input_message_bits, reset_interval, reset_offset,
                                      device)
    else:
        if isinstance(net, NetSpec) or reset_interval is not None or device is not None:
            raise OptionError("backend 'lava-fixed' measures a .net path with its own reset "
                              "schedule (no NetSpec, reset_interval or device)")
        activity = _lava_activity(os.fspath(net), plan, xa, steps, backend)
    return plan, activity


def measure(net: Union[str, os.PathLike, NetSpec], x: Any, *, steps: Optional[int] = None,
            used_steps: Optional[Sequence[int]] = None, backend: str = "emulator",
            input_message_bits: Optional[int] = None, reset_interval: Optional[int] = None,
            reset_offset: int = 0, device: Any = None) -> DeploymentMetrics:
    """NeuroBench's metrics of the deployed network on a batch of inputs.

    Parameters
    ----------
    net : str or NetSpec
        NetX file (or a validated spec; ``backend="emulator"`` only).
    x : np.ndarray
        (N, *input_shape, T), as :func:`loihi_snn.emulate` takes it.
    steps : int, optional
        steps to run (default T; input beyond T is zero).
    used_steps : sequence of int, optional
        steps each sample used (the cutoff's decisions, 1..steps): only those count.
        Default: every step.
    backend : {"emulator", "lava-fixed"}
        where the network runs: the bit-exact emulator (every metric), or Lava fixed_pt
        with every layer recorded, one run per sample (slow: for checks; no membrane
        updates, Lava records no state).
    input_message_bits, reset_interval, reset_offset, device :
        as :func:`loihi_snn.emulate`.

    Returns
    -------
    DeploymentMetrics
    """
    plan, activity = measure_activity(net, x, steps=steps, backend=backend,
                                      input_message_bits=input_message_bits,
                                      reset_interval=reset_interval, reset_offset=reset_offset,
                                      device=device)
    source = ("emulator (bit-exact fixed_pt)" if backend == "emulator"
              else f"{backend} (every layer recorded)")
    return metrics_from_activity(plan, activity, used_steps, source=source)


# ---------------------------------------------------------------------------- text
def _count(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.1f}"


def format_metrics(m: Union[DeploymentMetrics, Dict[str, Any]]) -> str:
    """The metrics as the lines ``loihi-snn eval --metrics`` prints."""
    d = m.to_dict() if isinstance(m, DeploymentMetrics) else m
    syn, act, con = d["synaptic_operations"], d["activation_sparsity"], d["connection_sparsity"]
    lat, fp, l2 = d["latency"], d["footprint"], d["loihi2"]
    where = "with the cutoff" if d["cutoff"] else "all steps"
    lines = [f"deployment cost (NeuroBench's definitions on the fixed-point network, "
             f"{d['source']}; per sample, {where}):"]
    rows = [("effective ACs", _count(syn["effective_acs"])),
            ("effective MACs", _count(syn["effective_macs"])),
            ("dense synaptic ops", _count(syn["dense"])),
            ("activation sparsity", f"{act['overall']:.4f}"),
            ("connection sparsity", f"{con['overall']:.4f}")]
    if d.get("membrane_updates") is not None:
        mu = d["membrane_updates"]
        rows.append(("membrane updates", f"{_count(mu['per_sample'])} (every neuron every "
                                         f"step: {_count(mu['neuron_updates_dense'])})"))
    rows += [("latency", f"{lat['mean_steps']:.2f} steps (min {lat['min_steps']}, max "
                         f"{lat['max_steps']}; pipeline depth {lat['pipeline_depth_steps']})"),
             ("footprint", f"{fp['bytes']:,} bytes at Loihi precision (weights "
                           f"{fp['weights_bytes']:,}, state {fp['state_bytes']:,}, biases "
                           f"{fp['biases_bytes']:,}, delays {fp['delays_bytes']:,}); "
                           f"{fp['parameters']:,} parameters"),
             ("Loihi 2 (estimate)", f"~{l2['cores']} NeuroCores, {l2['chips']} chip(s) "
                                    f"({100 * l2['chip_fraction']:.1f}% of one)"),
             ("energy", "not estimated (no published per-operation energy for Loihi 2)")]
    lines += [f"  {k:<20s} {v}" for k, v in rows]
    lines.append("  per connection:     " + "; ".join(
        f"{c['source']}->layer {c['layer']}{' (rec)' if c['kind'] == 'recurrent' else ''} "
        f"{_count(c['effective'])} {c['operation']}s" for c in syn["layers"]))
    lines.append("  sparsity per layer: " + ", ".join(
        f"layer {a['layer']} {a['sparsity']:.3f}" for a in act["layers"]))
    return "\n".join(lines)

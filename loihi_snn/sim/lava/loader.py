"""Load a NetX HDF5 file into a Lava process graph.

``load(path)`` validates the file (:func:`loihi_snn.netx.schema.read_netx`) and
builds one block per layer from lava's processes.  It loads what lava-dl's netx
loads (input, dense, dense with axonal delays, dense_rec, conv, flatten; CUBA/LOIHI
and SDNN neurons) plus ``pool`` and ``average`` layers, and wires the input layer's
port to its neuron.  For CUBA layers the processes and parameters are the ones stock
netx builds, so fixed-point spikes are identical to stock netx.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core.errors import NetxFormatError
from loihi_snn.netx.schema import LayerSpec, NetSpec, read_netx

PRECISIONS = ("fixed", "float")
GRADED_MESSAGE_BITS = 24    # Loihi 2 graded spikes carry up to 24 bits


def chw_to_whc(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """File order (C, H, W) -> Lava order (W, H, C); vectors unchanged."""
    return tuple(int(s) for s in shape[::-1])


def broadcast_to_layer(values: Optional[np.ndarray], shape_chw: Tuple[int, ...]) -> Optional[np.ndarray]:
    """A scalar, per-channel or per-neuron array -> float64 array of ``shape_chw`` (file order).

    Returns None if ``values`` is None.  The schema has already checked the size.
    """
    if values is None:
        return None
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    n = int(np.prod(shape_chw))
    if v.size == 1:
        return np.full(shape_chw, v[0])
    if v.size == n:
        return v.reshape(shape_chw)
    return np.broadcast_to(v.reshape((-1,) + (1,) * (len(shape_chw) - 1)), shape_chw)


def per_neuron(values: Optional[np.ndarray], shape_chw: Tuple[int, ...]) -> Optional[np.ndarray]:
    """:func:`broadcast_to_layer`, then transposed to Lava order ``chw_to_whc(shape_chw)``."""
    full = broadcast_to_layer(values, shape_chw)
    if full is None:
        return None
    return np.ascontiguousarray(np.transpose(full, tuple(range(len(shape_chw)))[::-1]))


# ----------------------------------------------------------------------------- neurons

class NeuronBuild:
    """What a neuron builder returns: the Lava process and its output message bits."""

    def __init__(self, process, out_bits: int = 0) -> None:
        self.process = process
        self.out_bits = out_bits


NeuronBuilder = Callable[..., NeuronBuild]
NEURON_BUILDERS: Dict[str, NeuronBuilder] = {}


def register_neuron_builder(*names: str) -> Callable[[NeuronBuilder], NeuronBuilder]:
    """Decorator: register how a NetX neuron type becomes a Lava process.

    The builder is called as ``fn(layer, shape, bias, precision, reset, is_input,
    controlled)`` with ``shape`` in Lava order, ``bias`` already broadcast to it (or
    None), ``precision`` ``"fixed"``/``"float"``, ``reset`` ``(interval, offset)`` or
    None, and ``controlled`` True when the neurons must take a ``reset_in`` port from a
    cutoff controller.
    """
    def deco(fn: NeuronBuilder) -> NeuronBuilder:
        for n in names:
            NEURON_BUILDERS[n.upper()] = fn
        return fn
    return deco


@register_neuron_builder("CUBA", "LOIHI")
def _cuba(layer: LayerSpec, shape, bias, precision, reset, is_input,
          controlled=False) -> NeuronBuild:
    """CUBA-LIF as lava's LIF, with stock netx's parameter mapping.

    fixed: du = iDecay - 1, dv = vDecay, vth = vThMant, bias_mant = bias, bias_exp = 6.
    float: the same dynamics in weight units: du = iDecay / 4096, dv = vDecay / 4096,
    vth = vThMant, bias = bias (lava's float LIF does not scale a_in by 2**6).
    """
    from lava.proc.lif.process import LIF, LIFReset
    if controlled:   # same arithmetic (tests prove it), plus the controller's reset port
        return _lif_variant(layer, shape, bias, precision, reset, is_input, controlled)
    p = layer.neuron.params
    kw: Dict[str, Any] = {"shape": shape}
    if precision == "fixed":
        kw.update(vth=p["vThMant"], du=p["iDecay"] - 1, dv=p["vDecay"], bias_exp=6)
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.int32)
    else:
        kw.update(vth=float(p["vThMant"]), du=p["iDecay"] / 4096.0,
                  dv=p["vDecay"] / 4096.0, bias_exp=0)
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.float64)
    if reset is not None:
        return NeuronBuild(LIFReset(reset_interval=reset[0], reset_offset=reset[1], **kw))
    return NeuronBuild(LIF(**kw))


TERNARY_MESSAGE_BITS = 2   # signed graded spikes in {-1, 0, +1}


@register_neuron_builder("LIF", "TERNARY")
def _lif_variant(layer: LayerSpec, shape, bias, precision, reset, is_input,
                 controlled=False) -> NeuronBuild:
    """Our LIF family as :class:`loihi_snn.sim.lava.procs.lif.process.LIFVariant`.

    fixed: du = iDecay, dv = vDecay (effective 12-bit decays), vth = vThMant,
    bias_exp = 6; float: fractions of 4096 and weight units, as for CUBA.  TERNARY
    neurons send signed graded spikes (``TERNARY_MESSAGE_BITS``) that the next
    synapse multiplies with its weights.
    """
    from loihi_snn.sim.lava.procs.lif.process import ControlledLIFVariant, LIFVariant
    p = layer.neuron.params
    ternary = layer.neuron.type == "TERNARY"
    kw: Dict[str, Any] = {"shape": shape, "reset_mode": p.get("resetMode", "hard"),
                          "spike_mode": "ternary" if ternary else "binary"}
    if reset is not None:
        kw.update(reset_interval=reset[0], reset_offset=reset[1])
    if precision == "fixed":
        kw.update(du=p["iDecay"], dv=p["vDecay"], vth=p["vThMant"], bias_exp=6)
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.int32)
    else:
        kw.update(du=p["iDecay"] / 4096.0, dv=p["vDecay"] / 4096.0, vth=float(p["vThMant"]))
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.float64)
    bits = TERNARY_MESSAGE_BITS if ternary else 0
    if controlled:
        return NeuronBuild(ControlledLIFVariant(drop_input_on_reset=not is_input, **kw), bits)
    return NeuronBuild(LIFVariant(**kw), bits)


@register_neuron_builder("SDNN")
def _sdnn(layer: LayerSpec, shape, bias, precision, reset, is_input,
          controlled=False) -> NeuronBuild:
    """Sigma-delta neurons as lava-dl netx builds them (Delta for the input layer,
    Sigma for a ``sigma_output`` layer, SigmaDelta otherwise)."""
    from lava.proc.sdn.process import Delta, Sigma, SigmaDelta
    if controlled:
        raise ValueError("sigma-delta (SDNN) neurons cannot be reset by the cutoff "
                         "controller; use CUBA, LIF or TERNARY neurons")
    p = layer.neuron.params
    bits = int(p.get("messageBits", 16))
    if is_input:
        return NeuronBuild(Delta(shape=shape, vth=p["vThMant"], spike_exp=6, state_exp=6), bits)
    kw: Dict[str, Any] = {"shape": shape}
    if bias is not None:
        kw["bias"] = bias.astype(np.int32)
    if p.get("sigma_output"):
        return NeuronBuild(Sigma(**kw), bits)
    return NeuronBuild(SigmaDelta(vth=p["vThMant"], spike_exp=6, state_exp=6, **kw), bits)


def _build_neuron(path: str, layer: LayerSpec, shape, precision, reset,
                  is_input, controlled: bool = False) -> NeuronBuild:
    if layer.neuron is None:
        # a synapse without neurons: a non-leaky integrator that never fires, as netx
        from loihi_snn.netx.schema import NeuronSpec
        layer = LayerSpec(layer.index, layer.type, layer.shape, layer.in_shape, layer.fields,
                          NeuronSpec("CUBA", {"iDecay": 0, "vDecay": 4096,
                                              "vThMant": (1 << 17) - 1}))
    ntype = layer.neuron.type
    if ntype not in NEURON_BUILDERS:
        raise NetxFormatError(path, f"neuron type '{ntype}' has no Lava "
                              f"process in this version", layer=layer.index,
                              field="neuron/type")
    if precision == "float" and ntype == "SDNN":
        raise NetxFormatError(path, "sigma-delta (SDNN) layers run only in "
                              "fixed point; use backend 'lava-fixed'", layer=layer.index,
                              field="neuron/type")
    bias = per_neuron(layer.fields.get("bias"), layer.shape)
    try:
        return NEURON_BUILDERS[ntype](layer, shape, bias, precision, reset, is_input,
                                      controlled=controlled)
    except ValueError as exc:
        raise NetxFormatError(path, str(exc), layer=layer.index, field="neuron/type") from None


# ----------------------------------------------------------------------------- synapses

def _dense_weights(w: np.ndarray, precision: str):
    """(weight, num_weight_bits, weight_exp) as lava-dl netx optimises them."""
    if precision == "float":
        return w.astype(np.float64), 8, 0
    from loihi_snn.core.lavadl import lava_dl
    w = np.asarray(w).astype(np.int64)
    if not np.any(w):
        # lava-dl divides by the largest weight (OverflowError on an all-zero matrix,
        # e.g. a pruned layer): zero weights need no packing
        return w, 8, 0
    with np.errstate(divide="ignore"):      # 127 / 0 when no weight is positive
        w_opt, bits, exp, _sign = lava_dl().netx.utils.optimize_weight_bits(w)
    return w_opt, int(bits), int(exp)


def _conv_weight_to_lava(w: np.ndarray) -> np.ndarray:
    """SLAYER (Cout, Cin/g, kH, kW) -> Lava (Cout, kW, kH, Cin/g), kernel flipped as netx does."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def load(path: str, *, precision: str = "fixed", input_message_bits: int = 0,
         reset_interval: Optional[int] = None, reset_offset: int = 0,
         controlled: bool = False):
    """Load a NetX HDF5 network as a Lava process.

    Parameters
    ----------
    path : str
        NetX ``.net`` file.
    precision : {"fixed", "float"}
        ``"fixed"`` builds integer (Loihi) parameters, to be run with
        ``Loihi2SimCfg(select_tag="fixed_pt")``; ``"float"`` builds the same network in
        float units for ``select_tag="floating_pt"``.
    input_message_bits : int
        0 when the input is binary spikes; >0 (up to 24) for graded input values.
    reset_interval, reset_offset : int, optional
        reset every CUBA layer's state every ``reset_interval`` steps, staggered by one
        step per layer as lava-dl netx does (layer i resets when
        ``t % reset_interval == reset_offset + 1 + i``).
    controlled : bool
        give every neuron a ``reset_in`` port (listed in ``net.reset_ports``) for the
        cutoff controller; CUBA layers then run as the bit-identical
        :class:`~loihi_snn.sim.lava.procs.lif.process.ControlledLIFVariant`.

    Returns
    -------
    loihi_snn.sim.lava.procs.blocks.process.Network
        a Lava process with ``inp`` (shape ``net.input_shape``, Lava order (W, H, C)
        or (N,)), ``out`` and ``layers``.

    Raises
    ------
    NetxFormatError
        for a missing, unreadable or inconsistent file (names file, layer, field).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if not 0 <= int(input_message_bits) <= GRADED_MESSAGE_BITS:
        raise ValueError(f"input_message_bits must be in 0..{GRADED_MESSAGE_BITS}")
    path = os.fspath(path)
    spec = read_netx(path)
    return build_network(spec, precision=precision, input_message_bits=input_message_bits,
                         reset_interval=reset_interval, reset_offset=reset_offset,
                         controlled=controlled)


def build_network(spec: NetSpec, *, precision: str = "fixed", input_message_bits: int = 0,
                  reset_interval: Optional[int] = None, reset_offset: int = 0,
                  controlled: bool = False):
    """Build the Lava process graph of an already validated :class:`NetSpec`."""
    from loihi_snn.sim.lava.procs.blocks.process import (AverageBlock, ConvBlock, DenseBlock, InputBlock,
                                       Network)
    blocks = []
    in_bits = int(input_message_bits)
    flatten_next = False
    next_reset = reset_offset + 1      # lava time starts at 1, as in netx

    def reset_cfg():
        return None if reset_interval is None else (int(reset_interval), next_reset)

    for layer in spec.layers:
        shape = chw_to_whc(layer.shape)
        name = f"layer{layer.index}_{layer.type}"
        if layer.type == "flatten":
            flatten_next = True
            continue
        if layer.type == "input":
            if layer.neuron is None:
                continue            # shape only: the next layer receives the input
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=True,
                               controlled=controlled)
            block = InputBlock(shape=shape, neuron=nb.process, out_bits=nb.out_bits, name=name)
        elif layer.type in ("dense", "dense_rec"):
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            w = layer.fields["weight"]
            wr = layer.fields.get("weight_rec")
            if wr is not None:
                both, bits, exp = _dense_weights(np.hstack([w, wr]), precision)
                w, wr = both[:, :w.shape[1]], both[:, w.shape[1]:]
            else:
                w, bits, exp = _dense_weights(w, precision)
            block = DenseBlock(shape=shape, neuron=nb.process, weight=w, weight_exp=exp,
                               num_weight_bits=bits, input_message_bits=in_bits,
                               delay=layer.fields.get("delay"), weight_rec=wr,
                               out_bits=nb.out_bits, name=name)
        elif layer.type in ("conv", "pool"):
            nb = _build_neuron(spec.path, layer, shape, precision, reset_cfg(), is_input=False,
                               controlled=controlled)
            f = layer.fields
            if layer.type == "conv":
                weight, groups = _conv_weight_to_lava(f["weight"]), f["groups"]
            else:
                c = layer.shape[0]
                weight = _conv_weight_to_lava(np.broadcast_to(f["weight"], (c, 1) + f["weight"].shape))
                groups = c
            if precision == "float":
                weight = weight.astype(np.float64)
            gate = None
            if "asa" in f:      # ASA gate between synapse and neuron (validated by the schema)
                from loihi_snn.sim.lava.procs.asa.process import ASAGate
                gate = ASAGate(shape=shape, **f["asa"])
            block = ConvBlock(shape=shape, neuron=nb.process, weight=weight,
                              input_shape=chw_to_whc(layer.in_shape),
                              stride=np.array(f["stride"][::-1]),
                              padding=np.array(f["padding"][::-1]),
                              dilation=np.array(f["dilation"][::-1]), groups=int(groups),
                              input_message_bits=in_bits, out_bits=nb.out_bits,
                              kind=layer.type, gate=gate, name=name)
        elif layer.type == "average":
            block = AverageBlock(shape=shape, group_size=layer.fields["group_size"], name=name)
        else:  # pragma: no cover - the schema rejects unknown types
            raise NetxFormatError(spec.path, f"unsupported layer type {layer.type}",
                                  layer=layer.index, field="type")
        block.layer_index = layer.index
        block.spec = layer
        if blocks:
            src = blocks[-1].out
            if flatten_next or (len(src.shape) != len(block.inp.shape)):
                src = src.transpose([2, 1, 0]).flatten() if len(src.shape) == 3 else src
            src.connect(block.inp)
        flatten_next = False
        if block.neuron is not None and layer.type != "average":
            next_reset += 1
        blocks.append(block)
        in_bits = block.output_message_bits

    if not blocks:
        raise NetxFormatError(spec.path, "the network has no layer with neurons or synapses",
                              field="layer")
    net = Network(layers=blocks, spec=spec, precision=precision,
                  name=os.path.splitext(os.path.basename(spec.path))[0])
    net.reset_ports = [b.neuron.reset_in for b in blocks
                       if b.neuron is not None and hasattr(b.neuron, "reset_in")]
    return net

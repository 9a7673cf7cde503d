"""Lower a validated NetX layer to the integer values a runner executes.

The Lava loader (:mod:`loihi_snn.sim.lava.loader`) and the emulator
(:mod:`loihi_snn.sim.emulator`) both start from these functions, so the weights, biases,
kernel layouts and substitute neurons they run are the same by construction:

- :func:`dense_weights` -- a dense (and recurrent) weight matrix packed into Loihi's
  8-bit mantissa + shared exponent, exactly as lava-dl netx packs it;
- :func:`weight_precision` -- the bits / exponent that packing needs (``info``, Loihi 2 report);
- :func:`conv_weight_to_lava` -- SLAYER's conv kernel in Lava's layout;
- :func:`broadcast_to_layer`, :func:`per_neuron`, :func:`bias_mantissa` -- per-layer values;
- :func:`reset_schedule` -- the (reset_interval, reset_offset) every runner uses: the
  caller's, or the one that makes each layer start at its first input when the file
  declares ``layer_start = "first_input"``;
- :func:`with_neuron` -- the non-leaky, never-firing CUBA integrator netx substitutes
  for a synapse-only layer;
- :func:`is_graded` / :func:`message_bits` -- how an input travels (binary spikes, or
  graded spikes of ``GRADED_MESSAGE_BITS``), and :func:`output_transform` -- what the
  runners make of the output layer (population means of an ``average`` layer, times the
  file's ``output_scale``): the same for every runner.

Shapes: a :class:`~loihi_snn.netx.schema.LayerSpec` is in file order ((C, H, W) or (N,));
Lava uses the reverse (W, H, C) (:func:`chw_to_whc`).  Values are raw Loihi integers.
Nothing here imports Lava.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

from loihi_snn.core.constants import (DECAY_UNITY, GRADED_MESSAGE_BITS, VTH_MANT_MAX,
                                      WEIGHT_MANTISSA_BITS)
from loihi_snn.core.errors import OptionError
from loihi_snn.netx.schema import LayerSpec, NetSpec, NeuronSpec

PRECISIONS = ("fixed", "float")

#: the neurons of a synapse-only layer: a non-leaky integrator that never fires (as netx)
INTEGRATOR = NeuronSpec("CUBA", {"iDecay": 0, "vDecay": DECAY_UNITY, "vThMant": VTH_MANT_MAX})


def chw_to_whc(shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """File order (C, H, W) -> Lava order (W, H, C); vectors unchanged."""
    return tuple(int(s) for s in shape[::-1])


def with_neuron(layer: LayerSpec) -> LayerSpec:
    """``layer`` itself, or a copy with :data:`INTEGRATOR` neurons when it has none."""
    if layer.neuron is not None:
        return layer
    return LayerSpec(layer.index, layer.type, layer.shape, layer.in_shape, layer.fields,
                     INTEGRATOR)


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


def bias_mantissa(layer: LayerSpec) -> Optional[np.ndarray]:
    """The layer's bias mantissa per neuron, file order, int64, truncated toward zero as
    the loader's ``astype(np.int32)`` -- or None when the layer has no bias."""
    full = broadcast_to_layer(layer.fields.get("bias"), tuple(layer.shape))
    return None if full is None else np.ascontiguousarray(full).astype(np.int32).astype(np.int64)


def has_bias(layer: LayerSpec) -> bool:
    """True when some neuron of ``layer`` has a non-zero bias (after the loader's
    truncation, :func:`bias_mantissa`); False for a layer without neurons."""
    bias = bias_mantissa(layer) if layer.neuron is not None else None
    return bias is not None and bool(np.any(bias))


#: the reset interval of ``layer_start = "first_input"``: a power of two far longer than
#: any run, so block k is zeroed exactly once, at its first input step
FIRST_INPUT_RESET_INTERVAL = 1 << 30


def lava_blocks(spec: NetSpec) -> int:
    """Number of Lava blocks the per-layer loader builds for ``spec``: every layer but
    ``flatten`` and a shape-only input layer (no neurons)."""
    return sum(1 for l in spec.layers
               if l.type not in ("flatten", "concat")
               and not (l.type == "input" and l.neuron is None))


def latency_blocks(spec: NetSpec) -> int:
    """Blocks that add one step of latency each (:func:`lava_blocks` but an ``average``
    layer, which acts within the step): the depth, in steps, of the first input."""
    return lava_blocks(spec) - sum(1 for l in spec.layers if l.type == "average")


def first_input_offset(spec: NetSpec) -> int:
    """The ``reset_offset`` at which neuron block k (counted from 0) is zeroed at the
    Lava step its first input arrives, ``reset_offset + 1 + k``: 0 when layer 0 is an
    input layer with neurons (it receives the input at step 1, each later block one
    synapse, one step, after the one before), else 1 (block 0 sits behind a synapse)."""
    first = spec.layers[0]
    return 0 if first.type == "input" and first.neuron is not None else 1


def reset_schedule(spec: NetSpec, reset_interval: Optional[int] = None,
                   reset_offset: int = 0) -> Tuple[Optional[int], int]:
    """The (reset_interval, reset_offset) a runner builds ``spec`` with.

    An explicit ``reset_interval`` (steps) wins: returned unchanged with
    ``reset_offset``.  Without one, a file that declares ``layer_start =
    "first_input"`` (:attr:`NetSpec.layer_start`) gets (:data:`FIRST_INPUT_RESET_INTERVAL`,
    :func:`first_input_offset`): each neuron block is zeroed once, at the step its first
    input arrives, so a layer with a bias starts integrating it with its input (NIR's
    timing) instead of at step 1; anything else gets (None, ``reset_offset``): no reset.

    What a block emits before its reset (spikes its bias alone drives) never reaches the
    next block's neurons after *their* reset, so a feed-forward network runs exactly as
    NIR times it.  The residual differences: a recurrent (``dense_rec``) layer whose
    bias alone fires it within the ``k + 1`` steps before its first input (block k, no
    input layer) gets those spikes of the step before its reset back through its
    recurrent synapse together with its first input (Lava and the emulator alike; NIR
    has none -- ``from_nir`` notes it); axonal delays can carry such spikes past the
    next block's reset; and the output layer's own spikes before its first input stay
    in the output's first steps (before the window aligned with NIR's output).
    """
    if reset_interval is not None:
        if any(l.type == "concat" for l in spec.layers):
            raise OptionError(f"{spec.path}: a network with concat (skip) layers cannot run "
                              f"with a staggered reset_interval: its branches reach a layer "
                              f"at different steps, so one reset per block would cut a "
                              f"sample (run each sample fresh: run, run_many, the emulator)")
        return int(reset_interval), int(reset_offset)
    if getattr(spec, "layer_start", "step_1") == "first_input":
        return FIRST_INPUT_RESET_INTERVAL, first_input_offset(spec)
    return None, int(reset_offset)


def weight_precision(w: np.ndarray) -> Tuple[int, int, str]:
    """(num_weight_bits, weight_exp, sign_mode) of an integer weight matrix.

    The packing of lava-dl 0.6's ``netx.utils.optimize_weight_bits`` (see
    :func:`dense_weights`): the mantissa bits Loihi needs to hold ``w`` exactly with one
    shared exponent.  ``sign_mode`` is ``"mixed"``, ``"excitatory"`` or
    ``"inhibitory"``.  An all-zero matrix needs 0 bits.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.any(w):
        return 0, 0, "excitatory"
    wmax, wmin = float(w.max()), float(w.min())
    if wmax < 0:
        mode, signed, scale = "inhibitory", 0, -256.0 / wmin
    elif wmin >= 0:
        mode, signed, scale = "excitatory", 0, 255.0 / wmax
    else:
        mode, signed = "mixed", 1
        scale = min(127.0 / wmax if wmax > 0 else math.inf, -128.0 / wmin)
    scale_bits = int(math.floor(math.log2(scale))) + signed
    n = WEIGHT_MANTISSA_BITS
    while n > 0 and np.sum(np.abs(w / 2.0 ** n - np.round(w / 2.0 ** n))) != 0:
        n -= 1
    n -= signed
    return int(WEIGHT_MANTISSA_BITS - scale_bits - n), int(-scale_bits), mode


def dense_weights(w: np.ndarray, precision: str = "fixed") -> Tuple[np.ndarray, int, int]:
    """``(weight, num_weight_bits, weight_exp)`` of a dense layer as lava-dl netx packs it.

    fixed: the mantissas shifted left by the free scale bits (so that ``weight <<
    weight_exp`` equals the file's weights), lava-dl's ``optimize_weight_bits`` exactly,
    including its clip of mixed-sign weights to [-256, 254]; an all-zero matrix is
    passed as is (8 bits, exponent 0).  float: the weights as float64, 8 bits, exponent 0.
    """
    if precision == "float":
        return np.asarray(w).astype(np.float64), WEIGHT_MANTISSA_BITS, 0
    w = np.asarray(w).astype(np.int64)
    if not np.any(w):
        return w, WEIGHT_MANTISSA_BITS, 0
    if w.max() > 254 and w.min() < 0 or w.min() < -256 and w.max() > 0:
        w = np.clip(w, -256, 254)
    bits, exp, _mode = weight_precision(w)
    return np.left_shift(w.astype(np.int32), -exp).astype(int), bits, exp


def dense_layer_weights(layer: LayerSpec, precision: str = "fixed"):
    """``(weight, weight_rec, num_weight_bits, weight_exp)`` of a dense / dense_rec layer.

    A recurrent layer packs its feed-forward and recurrent matrices together (one shared
    exponent), as the loader gives both to one Lava block; ``weight_rec`` is None for a
    plain dense layer.
    """
    w = layer.fields["weight"]
    wr = layer.fields.get("weight_rec")
    if wr is None:
        w, bits, exp = dense_weights(w, precision)
        return w, None, bits, exp
    both, bits, exp = dense_weights(np.hstack([w, wr]), precision)
    return both[:, :w.shape[1]], both[:, w.shape[1]:], bits, exp


def complex_layer_weights(layer: LayerSpec, precision: str = "fixed"):
    """``((weight_real, bits, exp), (weight_imag, bits, exp))`` of a complex dense layer
    (``fields["weight_imag"]``): each matrix packed on its own, as lava-dl netx's
    ``ComplexDense`` gets them."""
    return (dense_weights(layer.fields["weight"], precision),
            dense_weights(layer.fields["weight_imag"], precision))


def conv_weight_to_lava(w: np.ndarray) -> np.ndarray:
    """SLAYER (Cout, Cin/g, kH, kW) -> Lava (Cout, kW, kH, Cin/g), kernel flipped as netx does."""
    return np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(0, 3, 2, 1))


def pool_kernel(layer: LayerSpec) -> np.ndarray:
    """A pool layer's shared kernel as a grouped conv kernel (C, 1, kH, kW), file order."""
    c = layer.shape[0]
    return np.broadcast_to(layer.fields["weight"], (c, 1) + layer.fields["weight"].shape)


def is_graded(x: np.ndarray) -> bool:
    """True when an input holds values other than 0/1 (it is then sent as graded spikes)."""
    return not np.isin(x, (0, 1)).all()


def message_bits(graded: bool) -> int:
    """Bits per input message: ``GRADED_MESSAGE_BITS`` (24) for graded spikes, 0 for
    binary spikes -- the ``input_message_bits`` of the loader, FusedRun and the emulator."""
    return GRADED_MESSAGE_BITS if graded else 0


def input_message_bits(x: np.ndarray) -> int:
    """:func:`message_bits` of an input ``x`` (any shape): 24 when :func:`is_graded`."""
    return message_bits(is_graded(x))


def output_transform(y: np.ndarray, group_size: Optional[int], output_scale: float) -> np.ndarray:
    """A network's output as every runner returns it (any shape, time last).

    An ``average`` output layer (``group_size`` not None) gives the population mean
    (group sums / ``group_size``); then the file's ``/loihi_snn/output_scale`` (the
    folded ternary amplitude, 1.0 when absent) multiplies it.
    """
    if group_size is not None:
        y = y / float(group_size)
    if output_scale != 1.0:
        y = y * output_scale
    return y

"""Fold ternary spike amplitudes into the next layer's weights (re-parameterisation).

A ternary layer emits ``alpha * s`` with ``s`` in {-1, 0, +1}.  Since the next layer
computes ``W (alpha s) = (alpha W) s``, the deployed network can send plain +-1
(signed graded spikes) if ``alpha`` is multiplied into ``W`` -- and into the layer's
own recurrent weight when it is recurrent.  When ``alpha W`` would not fit the 8-bit
weight range (or would lose most of its precision), the weights are scaled by a power
of two ``c`` and the receiving neuron's threshold by the same ``c``: the dynamics are
linear in the input, so the spikes are unchanged.  The last layer's amplitude has no
next layer: it is returned as the network's output scale (stored in the exported
file and applied by the runners).
"""
from __future__ import annotations

import copy
import math
from typing import Iterable, List, Tuple

import torch

WEIGHT_LIMIT = 254 / 64          # largest 8-bit weight in weight units (SLAYER quantizer)


def _synapses(block) -> Tuple[object, object]:
    """(input synapse, recurrent synapse or None) of a block."""
    if hasattr(block, "input_synapse"):
        return block.input_synapse, getattr(block, "recurrent_synapse", None)
    return getattr(block, "synapse", None), None


def _amplitude(neuron):
    """The neuron's spike amplitude parameter (ternary, or binary with a learned one), or None."""
    return getattr(neuron, "amplitude", None) if neuron is not None else None


def has_ternary(blocks: Iterable) -> bool:
    """Whether any layer is ternary or carries a spike amplitude (both are folded)."""
    return any(getattr(getattr(b, "neuron", None), "spike_mode", "binary") == "ternary"
               or _amplitude(getattr(b, "neuron", None)) is not None for b in blocks)


def _power_of_two_scale(max_abs: float) -> float:
    """c = 2**k bringing max_abs * c into (WEIGHT_LIMIT / 16, WEIGHT_LIMIT]; 1 if already there."""
    if max_abs == 0 or WEIGHT_LIMIT / 16 < max_abs <= WEIGHT_LIMIT:
        return 1.0
    return 2.0 ** math.floor(math.log2(WEIGHT_LIMIT / max_abs))


def fold_amplitudes(blocks) -> Tuple[torch.nn.ModuleList, float]:
    """Return ``(folded_copy, output_scale)``; ``blocks`` itself is not modified.

    In the copy every ternary neuron has amplitude 1 and every synapse fed by a
    ternary layer carries that layer's amplitude.  ``output_scale`` is the amplitude of
    the last spiking layer (1.0 if it has none): multiply the deployed output by it.
    A binary layer with a learned amplitude (``learn_amplitude=True``) is folded alike.
    """
    folded = copy.deepcopy(blocks)
    pending = 1.0
    for block in folded:
        neuron = getattr(block, "neuron", None)
        if neuron is None:                       # flatten, average: pass through
            continue
        amp = _amplitude(neuron)
        own = float(amp.detach()) if amp is not None else 1.0
        syn, rec = _synapses(block)
        with torch.no_grad():
            weights: List[torch.nn.Parameter] = []
            for s, alpha in ((syn, pending), (rec, own)):
                if s is None:
                    continue
                if getattr(s, "weight_norm_enabled", False):
                    s.disable_weight_norm()
                s.weight.mul_(alpha)
                weights.append(s.weight)
            if weights and (pending != 1.0 or own != 1.0):
                c = _power_of_two_scale(max(float(w.abs().max()) for w in weights))
                if c != 1.0:
                    for w in weights:
                        w.mul_(c)
                    neuron._threshold = neuron._threshold * c
            if amp is not None:
                neuron.amplitude.fill_(1.0)
        pending = own
    return folded, pending

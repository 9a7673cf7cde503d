"""Lava's weight and wrap rules for its bit-accurate synapse models, without Lava.

lava-nc 0.10's ``Dense`` / ``DelayDense`` ``fixed_pt`` models derive a sign mode from
their weights on the first step, clip the weights to 8 bits and truncate them to
``num_weight_bits`` (``lava/utils/weightutils.py``); its ``Conv`` model wraps a result to
24 signed bits (``lava/proc/conv/utils.py``, ``signed_clamp``).  The emulator needs
exactly these rules, and must run where Lava cannot be installed (any Python but 3.10,
numpy 2), so they are written here once, operation for operation as in lava: the same
dtypes (``int32`` after ``astype``), the same shifts and clips, so that they give the
same integers for every input, edge cases included (all-zero weights are EXCITATORY,
shifts past the width behave as numpy's, ...).  tests/parity/test_weight_rules.py
compares them with lava's functions on random and edge-case inputs in the Lava venv.

Dense numpy arrays only (the emulator never passes scipy sparse matrices).
"""
from __future__ import annotations

from enum import Enum, unique
from typing import Any

import numpy as np

__all__ = ["SignMode", "determine_sign_mode", "clip_weights", "truncate_weights",
           "signed_clamp"]


@unique
class SignMode(Enum):
    """Sign mode of a weight matrix (the values of lava's ``SignMode``)."""
    NULL = 0
    MIXED = 1
    EXCITATORY = 2
    INHIBITORY = 3


def _mode(sign_mode: Any) -> SignMode:
    """Our SignMode for ours or lava's (same names and values)."""
    if isinstance(sign_mode, SignMode):
        return sign_mode
    return SignMode(getattr(sign_mode, "value", sign_mode))


def determine_sign_mode(weights: np.ndarray) -> SignMode:
    """EXCITATORY when no weight is negative (all zero included), INHIBITORY when none
    is positive, else MIXED (lava's ``determine_sign_mode``)."""
    if np.min(weights) >= 0:
        return SignMode.EXCITATORY
    if np.max(weights) <= 0:
        return SignMode.INHIBITORY
    return SignMode.MIXED


def clip_weights(weights: np.ndarray, sign_mode: Any, num_bits: int,
                 learning_simulation: bool = False) -> np.ndarray:
    """Clip to ``num_bits`` (lava's ``clip_weights``): int32; MIXED to
    [-2**num_bits, 2**num_bits - 1 (- 1 when learning)], EXCITATORY to
    [0, 2**num_bits - 1], INHIBITORY the negated range."""
    mode = _mode(sign_mode)
    weights = np.array(weights, copy=True).astype(np.int32)
    mixed_flag = int(mode == SignMode.MIXED)
    inhibitory_flag = int(mode == SignMode.INHIBITORY)
    if inhibitory_flag:
        weights = -weights
    min_wgt = (-2 ** num_bits) * mixed_flag
    max_wgt = 2 ** num_bits - 1 - learning_simulation * mixed_flag
    weights = np.clip(weights, min_wgt, max_wgt)
    if inhibitory_flag:
        weights = -weights
    return weights


def truncate_weights(weights: np.ndarray, sign_mode: Any, num_weight_bits: int,
                     max_num_weight_bits: int = 8) -> np.ndarray:
    """Drop the low ``max_num_weight_bits - num_weight_bits (+1 when MIXED)`` bits of the
    magnitude (lava's ``truncate_weights``: int32, arithmetic shifts; INHIBITORY weights
    are negated around the shifts, so they too are truncated toward zero)."""
    mode = _mode(sign_mode)
    weights = np.array(weights, copy=True).astype(np.int32)
    if mode == SignMode.INHIBITORY:
        weights = -weights
    mixed_flag = int(mode == SignMode.MIXED)
    num_truncate_bits = max_num_weight_bits - num_weight_bits + mixed_flag
    weights = (weights >> num_truncate_bits) << num_truncate_bits
    if mode == SignMode.INHIBITORY:
        weights = -weights
    return weights


def signed_clamp(x, bits: int):
    """Wrap ``x`` into ``bits`` signed bits, ``(x + 2**(bits-1)) mod 2**bits -
    2**(bits-1)`` with a non-negative modulo (lava's ``signed_clamp``); numpy arrays,
    torch tensors and Python numbers alike, in their own dtype."""
    base = 1 << bits
    return (x + base // 2) % base - base // 2

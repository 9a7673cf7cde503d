"""Checking one layer's fields: the checker that names file, layer and field in every
error, and the limits it checks against (bias ranges, layer sizes, message length).

:class:`_Checker` implements :class:`loihi_snn.core.spec.FieldChecker`, what the neuron
families' validators receive.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core.constants import (ACT_SHIFT, BIAS_MANT_MAX, BIAS_MANT_MIN, SDNN_BIAS_BITS,
                                      STATE_BITS)
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.core.spec import NeuronSpec


BIAS_LIMIT = BIAS_MANT_MAX      # kept for readers: the LIF-family bias mantissa limit
#: the bias mantissa range of each neuron type as lava's fixed-point model holds it:
#: LIF-family ``bias_mant`` is 13-bit signed (an int16 that wraps above 2**15 in
#: ``lava-fixed``), sigma-delta ``bias`` 16-bit signed.  Others use the LIF range.
BIAS_RANGES = {"SDNN": (-(1 << (SDNN_BIAS_BITS - 1)), (1 << (SDNN_BIAS_BITS - 1)) - 1)}
#: the largest |weight| of an input layer (its input is multiplied by it on the host and
#: one step of it must fit the 24-bit current: ``|w| << 6 <= 2**24``)
INPUT_WEIGHT_MAX = 1 << (STATE_BITS - ACT_SHIFT)


def bias_range(neuron: Optional["NeuronSpec"]) -> Tuple[int, int]:
    """(lowest, highest) bias mantissa a layer with these neurons may have."""
    ntype = neuron.type if neuron is not None else "CUBA"
    return BIAS_RANGES.get(ntype, (BIAS_MANT_MIN, BIAS_MANT_MAX))

MAX_LAYER_NEURONS = 1 << 24     # 16 Mi neurons (16 Loihi 2 chips' worth) in one layer
MAX_MESSAGE_LENGTH = 500        # characters of an error message (values are abbreviated)


def _one_line(text: Any, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """``text`` on one line (whitespace collapsed), cut to ``limit`` characters."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_size(c: "_Checker", key: str, shape: Tuple[int, ...]) -> int:
    """Number of neurons of ``shape`` (exact, no int64 overflow), at most MAX_LAYER_NEURONS."""
    size = math.prod(int(s) for s in shape)
    if size > MAX_LAYER_NEURONS:
        c.fail(key, f"shape {_one_line(shape, 80)} has {size:.3g} neurons, more than the "
                    f"{MAX_LAYER_NEURONS} per layer that loihi_snn builds (16 Loihi 2 chips); "
                    f"a corrupt shape or a network to split")
    return size

class _Checker:
    """Helpers that raise NetxFormatError naming file, layer and field."""

    def __init__(self, path: str, index: Optional[int] = None) -> None:
        self.path, self.index = path, index

    def fail(self, field_name: Optional[str], message: str) -> None:
        raise NetxFormatError(self.path, _one_line(message), layer=self.index,
                              field=None if field_name is None else _one_line(field_name, 80))

    def require(self, raw: Dict[str, Any], key: str, what: str) -> Any:
        if key not in raw:
            self.fail(key, f"missing (required for {what})")
        return raw[key]

    def array(self, raw: Dict[str, Any], key: str, *, required: bool = True,
              integer: bool = False, lo: Optional[float] = None,
              hi: Optional[float] = None, what: str = "this layer") -> Optional[np.ndarray]:
        if key not in raw:
            if required:
                self.fail(key, f"missing (required for {what})")
            return None
        value = raw[key]
        if isinstance(value, (dict, str, list)):
            self.fail(key, f"expected a numeric array, found {type(value).__name__}")
        kind = getattr(np.asarray(value) if isinstance(value, (np.ndarray, np.generic, int,
                                                                float, bool)) else None,
                       "dtype", None)
        if kind is None or kind.kind not in "biuf":
            self.fail(key, f"expected real numbers, found "
                           f"{kind if kind is not None else type(value).__name__}")
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            self.fail(key, "expected a numeric array")
        if not np.all(np.isfinite(arr)):
            bad = np.argwhere(~np.isfinite(arr))[0]
            self.fail(key, f"contains NaN or infinite values (first at index "
                           f"{tuple(int(b) for b in bad)}); re-export the network from a "
                           f"trained model with finite parameters")
        if integer and not np.all(arr == np.round(arr)):
            bad = np.argwhere(arr != np.round(arr))[0]
            self.fail(key, f"must be integers (quantized fixed-point mantissas); found "
                           f"{arr[tuple(bad)]:g} at index {tuple(int(b) for b in bad)}; "
                           f"export with the block's quantizing pre_hook_fx")
        if lo is not None and arr.size and arr.min() < lo:
            self.fail(key, f"value {arr.min():g} is below the allowed minimum {lo:g}")
        if hi is not None and arr.size and arr.max() > hi:
            self.fail(key, f"value {arr.max():g} is above the allowed maximum {hi:g}")
        return arr

    def scalar(self, raw: Dict[str, Any], key: str, *, required: bool = True,
               default: Any = None, lo: Optional[float] = None, hi: Optional[float] = None,
               integer: bool = True, what: str = "this layer") -> Any:
        arr = self.array(raw, key, required=required, integer=integer, lo=lo, hi=hi,
                         what=what)
        if arr is None:
            return default
        if arr.size != 1:
            self.fail(key, f"expected a scalar, found an array of shape {arr.shape}")
        value = arr.reshape(-1)[0]
        return int(value) if integer else float(value)

    def pair(self, raw: Dict[str, Any], key: str, default: int, lo: int = 0) -> Tuple[int, int]:
        """A (H, W) geometry pair; a scalar means both."""
        if key not in raw:
            return (default, default)
        arr = self.array(raw, key, integer=True, lo=lo)
        flat = arr.reshape(-1)
        if flat.size == 1:
            return (int(flat[0]), int(flat[0]))
        if flat.size < 2:
            self.fail(key, f"expected 1 or 2 values, found {flat.size}")
        return (int(flat[0]), int(flat[1]))

    def shape(self, raw: Dict[str, Any], key: str = "shape") -> Tuple[int, ...]:
        arr = self.array(raw, key, integer=True, lo=1)
        shape = tuple(int(s) for s in arr.reshape(-1))
        if len(shape) == 0 or len(shape) > 3:
            self.fail(key, f"expected 1 to 3 dimensions (C, H, W), found {shape}")
        check_size(self, key, shape)
        return shape

    def flag(self, raw: Dict[str, Any], key: str, default: bool = False) -> bool:
        """A boolean field: a numeric or boolean scalar (0 = False)."""
        if key not in raw:
            return default
        value = raw[key]
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        return self.scalar(raw, key, integer=False) != 0

"""The input boundary every runner shares: what an input may be, checked once, before
any Lava process (or emulator state) exists.

An input is what the network's input port receives, time last: (N, T), (C, H, W, T),
or a batch (S, ..., T).  It is accepted when Loihi 2 can carry it and every backend
(``lava-fixed``, ``lava-fused``, the emulator) then computes the same thing:

- **dtype**: bool, signed or unsigned integers, or floats holding integers.  Complex,
  strings, bytes, dates, durations, objects and structured records are refused
  (``lava-float`` alone also takes real-valued floats).
- **shape**: at least 2-D, time last, no empty axis (checked against the network by
  the runners, which know its input shape).
- **range**: a value other than 0/1 travels as a *graded spike* of
  ``GRADED_MESSAGE_BITS`` (24) signed bits: ``|x| <= 2**23 - 1``.  Then the synaptic
  input one step of it gives a neuron of the first layer it reaches must fit that
  neuron's 24-bit current (``|a| << 6 <= 2**24``, :func:`max_graded_input`): lava's
  fixed-point models keep their state in int32 and wrap the current only once, so a
  larger input would overflow them and make ``lava-fixed`` differ from the others.

Every refusal is one line (:class:`~loihi_snn.core.errors.ShapeError`) that names the
file and, for a range error, the layer and the largest value this network accepts.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from loihi_snn.core.constants import (ACT_SHIFT, GRADED_MESSAGE_BITS, SDNN_EXP, STATE_BITS)
from loihi_snn.core.errors import ShapeError
from loihi_snn.netx.concat import concat_pieces
from loihi_snn.netx.schema import INPUT_UNIT_WEIGHT, LayerSpec, NetSpec
from loihi_snn.netx.transposed import TRANSPOSED_TYPES, lower_transposed

#: the largest magnitude of a graded input value: a signed 24-bit payload
GRADED_PAYLOAD_MAX = (1 << (GRADED_MESSAGE_BITS - 1)) - 1
#: the largest synaptic input per step, in weight units, that keeps lava's int32 current
#: exact: shifted left by 6 (CUBA/LIF; 12 for sigma-delta) it must not exceed 2**24
STATE_INPUT_LIMIT = 1 << STATE_BITS

_DTYPE_NAMES = {"c": "complex numbers", "U": "strings", "S": "bytes", "O": "Python objects",
                "M": "dates", "m": "time differences", "V": "structured records"}


def _where(path: Optional[str]) -> str:
    return f"{path}: " if path else ""


def check_input(x: Any, *, path: Optional[str] = None, integer: bool = True,
                batch: bool = False) -> np.ndarray:
    """One input (or a batch of inputs) as a numeric array, or a one-line ShapeError.

    Parameters
    ----------
    x : array-like
        (*shape, T) -- or (S, *shape, T) when ``batch`` -- time last.
    path : str, optional
        the network file, named in messages.
    integer : bool
        True for the fixed-point backends: values must be integers (floats holding
        integers are accepted) within the graded payload (:data:`GRADED_PAYLOAD_MAX`).
        False (``lava-float``) accepts any finite real value.
    batch : bool
        ``x`` has a leading sample axis (at least 3-D).

    Returns
    -------
    np.ndarray
        ``x`` unchanged in value: bool becomes uint8, an integer-valued float or an
        unsigned integer becomes int64 (fixed point); a float stays float64 otherwise.
    """
    where = _where(path)
    try:
        arr = np.asarray(x)
    except Exception as exc:  # noqa: BLE001 - ragged lists, odd objects
        raise ShapeError(f"{where}input cannot be read as an array "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None
    kind = arr.dtype.kind
    if kind in _DTYPE_NAMES or arr.dtype.fields is not None or kind not in "biuf":
        what = _DTYPE_NAMES.get(kind, f"dtype {arr.dtype}")
        raise ShapeError(f"{where}input holds {what} (dtype {arr.dtype}); give spikes (bool "
                         f"or 0/1) or integers (graded values), time last")
    least = 3 if batch else 2
    if arr.ndim < least and batch:
        raise ShapeError(f"{where}input of shape {arr.shape} does not match a batch of "
                         f"samples (S, N, T) or (S, C, H, W, T): samples first, time last")
    if arr.ndim < least:
        raise ShapeError(f"{where}input must have time as its last axis, e.g. (N, T) or "
                         f"(C, H, W, T); got shape {arr.shape}")
    if 0 in arr.shape:
        raise ShapeError(f"{where}input of shape {arr.shape} is empty (an axis of length 0)")
    if kind == "b":
        return arr.view(np.uint8)           # same bytes: no copy of a large input
    if kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ShapeError(f"{where}input contains NaN or infinite values")
        if not integer:
            return arr.astype(np.float64, copy=False)
        frac = arr != np.round(arr)
        if frac.any():
            bad = tuple(int(i) for i in np.argwhere(frac)[0])
            raise ShapeError(f"{where}fixed-point backends need integer input (spikes or "
                             f"graded integers), found {arr[bad]:g} at index {bad}; scale "
                             f"and round real-valued input first")
    # two reductions decide the range (8- and 16-bit integers always fit); the element
    # that does not fit is searched for only when one exists
    if integer and not (kind in "iu" and arr.dtype.itemsize <= 2) and \
            (arr.max() > GRADED_PAYLOAD_MAX or arr.min() < -GRADED_PAYLOAD_MAX):
        big = np.abs(arr.astype(np.float64)) > GRADED_PAYLOAD_MAX
        if big.any():
            bad = tuple(int(i) for i in np.argwhere(big)[0])
            raise ShapeError(f"{where}input value {arr[bad]} at index {bad} does not fit a "
                             f"graded spike of {GRADED_MESSAGE_BITS} signed bits "
                             f"(|x| <= {GRADED_PAYLOAD_MAX})")
    if integer and (kind == "f" or (kind == "u" and arr.dtype.itemsize > 1)
                    or arr.dtype.itemsize > 8):
        arr = arr.astype(np.int64)          # uint8 stays (as bool input becomes)
    return arr


def _fan(layer: LayerSpec) -> Optional[int]:
    """The largest sum of |weights| into one neuron of a synapse layer (None: no synapse)."""
    w = layer.fields.get("weight")
    if layer.type in ("dense", "dense_rec"):
        fan = np.abs(w).sum(axis=1)
        wi = layer.fields.get("weight_imag")         # complex dense: each part on its own
        return int(max(fan.max(initial=0), np.abs(wi).sum(axis=1).max(initial=0)
                       if wi is not None else 0))
    if layer.type == "conv":
        return int(np.abs(w).reshape(w.shape[0], -1).sum(axis=1).max(initial=0))
    if layer.type == "pool":
        return int(np.abs(w).sum())
    if layer.type in TRANSPOSED_TYPES:
        k = lower_transposed(layer).kernel
        return int(np.abs(k).reshape(k.shape[0], -1).sum(axis=1).max(initial=0))
    return None


def _receivers(spec: NetSpec) -> List[Tuple[LayerSpec, int]]:
    """Every (layer whose neurons receive the raw input, the largest sum of |weights|
    into one of its neurons per unit of input): the first layer with synapses, and the
    layer after a ``concat`` that takes the raw input (its whole row: an upper bound)."""
    first = spec.layers[0]
    if first.type == "input" and first.neuron is not None:
        if first.neuron.type == "SDNN":
            return [(first, 1)]
        return [(first, int(np.ceil(abs(first.fields.get("weight", INPUT_UNIT_WEIGHT)))))]
    out: List[Tuple[LayerSpec, int]] = []
    for i, layer in enumerate(spec.layers):
        if layer.type in ("input", "flatten", "concat"):
            continue
        before = [l for l in spec.layers[:i] if l.type != "flatten"]
        feeder = before[-1] if before else None
        takes_raw = feeder is None or feeder.type == "input" or (
            feeder.type == "concat" and any(k == 0 for k, _, _ in concat_pieces(spec, feeder)))
        if not takes_raw:
            continue
        fan = _fan(layer)
        if fan is None:
            break                   # an average layer: no neurons, no state
        out.append((layer, fan))
    return out


def _first_receiver(spec: NetSpec) -> Tuple[Optional[LayerSpec], int]:
    """(the receiver of the raw input with the largest fan (:func:`_receivers`), that
    fan), or (None, 0)."""
    rec = _receivers(spec)
    return max(rec, key=lambda r: r[1]) if rec else (None, 0)


def max_graded_input(spec: NetSpec) -> Optional[int]:
    """The largest |x| of a graded input this network accepts (None: no limit below
    :data:`GRADED_PAYLOAD_MAX`).

    One step of input ``x`` gives a neuron of the first layer at most
    ``|x| * F`` of synaptic input (weight units), ``F`` the largest sum of |weights|
    into one neuron (the input layer's weight for an input layer with neurons).
    Shifted left by 6 (12 for sigma-delta neurons, ``spike_exp + state_exp``), it must
    stay within 2**24 so that lava's int32 state arithmetic cannot overflow.
    """
    layer, fan = _first_receiver(spec)
    if layer is None or fan <= 0:
        return None
    ntype = layer.neuron.type if layer.neuron is not None else "CUBA"
    shift = 2 * SDNN_EXP if ntype == "SDNN" else ACT_SHIFT
    return min(GRADED_PAYLOAD_MAX, (STATE_INPUT_LIMIT >> shift) // fan)


def check_input_range(spec: NetSpec, x: np.ndarray) -> None:
    """ShapeError when a graded input ``x`` (values other than 0/1) exceeds
    :func:`max_graded_input` for ``spec`` (binary input always passes)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "b" or not arr.size:
        return
    peak = float(np.max(np.abs(arr)))
    if peak <= 1 and np.isin(arr, (0, 1)).all():
        return
    limit = max_graded_input(spec)
    if limit is None or peak <= limit:
        return
    layer, fan = _first_receiver(spec)
    bad = tuple(int(i) for i in np.argwhere(np.abs(arr) == peak)[0])
    raise ShapeError(f"{spec.path}: layer {layer.index}: graded input value {int(arr[bad])} at "
                     f"index {bad} is too large for this network: its largest synaptic "
                     f"input per step ({fan} x |x|) must fit the neuron's 24-bit state, so "
                     f"|x| <= {limit}; scale the input down")

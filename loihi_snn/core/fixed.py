"""Loihi 2 fixed-point primitives, defined once for numpy and torch.

These functions are the integer pieces of every neuron step (the LIF-family step
itself is :func:`loihi_snn.core.lif.lif_fixed_step`, built on them).  They reproduce
lava's bit-accurate LIF model (``lava/proc/lif/models.py``, ``PyLifModelBitAcc``)
exactly:

- decay constants are 12-bit: ``x * (4096 - d) >> 12`` with the shift applied to
  the magnitude, i.e. rounded toward zero;
- the current decays by ``du + 1`` (Loihi's ``ds_offset``), the voltage by ``dv``;
- synaptic input and threshold are MSB-aligned by 6 bits (``a_in << 6``,
  ``vth << 6``);
- the current ``u`` wraps at 24 bits, the voltage ``v`` saturates to +-(2**23 - 1);
- a neuron spikes when ``v > vth << 6``.

Every function takes integer arrays (``np.ndarray`` or ``torch.Tensor``, int64
recommended) of any shape and returns the same kind.  Units: raw Loihi integers.

They also take ``float64`` arrays/tensors that hold integers (the emulator's fast
path): every step is then computed exactly as well -- products of 24-bit states and
13-bit decay factors stay far below 2**53, the decay's ``>> 12`` is an exact
multiplication by 2**-12 followed by ``trunc`` (toward zero) and shifts are exact
multiplications by powers of two -- so the results are the same integers, held in
float64 (tests/unit/test_fixed_float64.py compares both forms bit for bit).  A float32
synaptic input ``a_in`` (integers below 2**24, e.g. a float32 GEMM's exact sums) is
taken as is, and :func:`accumulate_weight_exp` scales float32 sums by powers of two
exactly; a float32 *state* is widened to float64 by :func:`decay`.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from loihi_snn.core.constants import (ACT_SHIFT, BIAS_EXP, CURRENT_WRAP, DECAY_SHIFT, DECAY_UNITY,
                                      V_LIMIT)


def _is_torch(x: Any) -> bool:
    """True for a torch tensor (without importing torch; also traceable by torch.compile)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_np_int(x: Any) -> bool:
    """True for a numpy *integer array*: the fast path (fewer temporaries, in-place ops).

    Every fast path below computes exactly what the generic expression next to it
    computes (tests/unit/test_fixed.py compares them bit for bit); torch tensors, numpy
    scalars and float arrays take the generic expression.
    """
    return type(x) is np.ndarray and x.dtype.kind == "i"


def is_float(x: Any) -> bool:
    """True for a floating-point array/tensor/scalar (float64 integers: see the module doc)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind == "f"
    if isinstance(x, (int, float)):
        return isinstance(x, float)
    if _is_torch(x):
        return x.dtype.is_floating_point
    return np.asarray(x).dtype.kind == "f"


def torch_fast_path(x: Any) -> bool:
    """True for a float64 torch tensor outside autograd: the in-place fast paths below
    apply to it (same results as the generic expressions, fewer temporaries)."""
    if type(x) is np.ndarray or not _is_torch(x):
        return False
    return x.dtype == _torch_float64() and not x.requires_grad


def is_torch_bool(x: Any) -> bool:
    """True for a boolean torch tensor."""
    return type(x) is not np.ndarray and _is_torch(x) and x.dtype == sys.modules["torch"].bool


def _outside(x, lo_excl: float, hi_excl: float) -> bool:
    """Whether some element of a torch tensor is > ``hi_excl`` or <= ``lo_excl``;
    True (take the exact masked path) on accelerators, where a host check would
    synchronise every step."""
    if x.device.type != "cpu":
        return True
    if x.numel() == 0:
        return False
    import torch
    lo, hi = torch.aminmax(x)
    return bool(hi > hi_excl) or bool(lo <= lo_excl)


def has_np_fast_path(x: Any) -> bool:
    """True for a numpy int or float64 array: the in-place fast paths apply (same results)."""
    return type(x) is np.ndarray and (x.dtype.kind == "i" or x.dtype == np.float64)


def _trunc(x):
    if type(x) is not np.ndarray and _is_torch(x):
        import torch
        return torch.trunc(x)
    return np.trunc(x)


def _torch_float64():
    torch = sys.modules.get("torch")
    return None if torch is None else torch.float64


def shift_left(x, shift: int):
    """``x << shift`` (exact multiplication by ``2**shift`` for float64 integers)."""
    return x * float(1 << shift) if is_float(x) else x << shift


def _is_int_scalar(x: Any) -> bool:
    return type(x) is int or (isinstance(x, np.integer))


def _fits(acc: np.ndarray, x: Any) -> bool:
    """True when ``acc += x`` gives exactly ``acc + x`` (same shape and dtype)."""
    if type(x) is int:
        return True
    return (type(x) is np.ndarray
            and (x.dtype == acc.dtype or (acc.dtype == np.float64 and x.dtype == np.float32))
            and (x.shape == acc.shape or np.broadcast_shapes(acc.shape, x.shape) == acc.shape))


def where(cond, a, b):
    """``np.where`` / ``torch.where`` for whichever library ``cond`` belongs to."""
    if type(cond) is not np.ndarray and _is_torch(cond):
        import torch
        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def sign(x):
    if type(x) is not np.ndarray and _is_torch(x):
        import torch
        return torch.sign(x)
    return np.sign(x)


def clip(x, lo: int, hi: int):
    if type(x) is np.ndarray:
        out = np.minimum(x, hi)
        return np.maximum(out, lo, out=out)
    if _is_torch(x):
        return x.clamp(lo, hi)
    return np.clip(x, lo, hi)


def _shift_toward_zero_(x: np.ndarray, shift: int) -> np.ndarray:
    """In place on an int (or float64) numpy array ``x`` that the caller owns:
    ``sign(x) * (|x| >> s)``."""
    if x.dtype.kind == "f":
        x *= 2.0 ** -shift              # exact (a power of two), then toward zero
        return np.trunc(x, out=x)
    s = np.sign(x)
    np.abs(x, out=x)
    x >>= shift
    x *= s
    return x


def shift_toward_zero(x, shift: int):
    """``x >> shift`` applied to the magnitude (rounds toward zero), as Loihi does."""
    if has_np_fast_path(x):
        return _shift_toward_zero_(x.copy(), shift)
    if is_float(x):
        return _trunc(x * 2.0 ** -shift)
    return sign(x) * (abs(x) >> shift)


def decay(x, d):
    """One 12-bit decay step: ``x * (4096 - d) >> 12``, rounded toward zero.

    ``d`` is the effective decay constant in 0..4096 (scalar or broadcastable).
    """
    if is_float(x):
        if x.dtype not in (np.float64, _torch_float64()):
            x = x.astype(np.float64) if type(x) is np.ndarray else x.double()
        # (4096 - d) / 4096 is exact and has at most 13 significant bits: one exact
        # product, truncated toward zero, is x * (4096 - d) >> 12 on the magnitude
        y = x * ((DECAY_UNITY - d) / DECAY_UNITY)
        if type(y) is np.ndarray:
            return np.trunc(y, out=y)
        return y.trunc_() if torch_fast_path(y) else _trunc(y)
    y = x * (DECAY_UNITY - d)
    if is_np_int(y):
        return _shift_toward_zero_(y, DECAY_SHIFT)
    return shift_toward_zero(y, DECAY_SHIFT)


def _wrap_current_(u: np.ndarray) -> np.ndarray:
    """In place on an int numpy array the caller owns; see :func:`wrap_current`.

    A value above 2**23 loses 2**24; one at or below -2**23 gains 2**24 (the two
    cases exclude each other, so testing the second on the updated array is the same
    as testing it on the original).
    """
    # the masks only matter when some |u| >= 2**23, which is rare: one cheap check first
    if u.size and (u.max() > CURRENT_WRAP or u.min() <= -CURRENT_WRAP):
        np.subtract(u, 2 * CURRENT_WRAP, out=u, where=u > CURRENT_WRAP)
        np.add(u, 2 * CURRENT_WRAP, out=u, where=u <= -CURRENT_WRAP)
    return u


def wrap_current(u):
    """Wrap a current that left the 24-bit range, exactly as lava's LIF model does."""
    if has_np_fast_path(u):
        return _wrap_current_(u.copy())
    if torch_fast_path(u) and not _outside(u, -CURRENT_WRAP, CURRENT_WRAP):
        return u                        # nothing to wrap (the common case): no copy
    wrapped = where(u > CURRENT_WRAP, u - 2 * CURRENT_WRAP, u)
    return where(wrapped <= -CURRENT_WRAP, u + 2 * CURRENT_WRAP, wrapped)


def saturate_voltage(v):
    """Clip a voltage to the 24-bit signed range +-(2**23 - 1)."""
    return clip(v, -V_LIMIT, V_LIMIT)


def scale_bias(bias_mant, bias_exp: int = BIAS_EXP):
    """Effective bias ``bias_mant << bias_exp`` (``>>`` for a negative exponent)."""
    if is_float(bias_mant):
        return bias_mant * 2.0 ** bias_exp if bias_exp >= 0 else \
            _floor(bias_mant * 2.0 ** bias_exp)
    return bias_mant << bias_exp if bias_exp >= 0 else bias_mant >> (-bias_exp)


def current_update(u, a_in, du):
    """CUBA current: ``u <- wrap(decay(u, du + 1) + (a_in << 6))``.

    ``du`` is lava's register value (netx sets ``du = iDecay - 1``; -1 means no decay).
    ``a_in`` is the integer synaptic input (weight mantissas summed, after the
    weight exponent).
    """
    if (has_np_fast_path(u) and _is_int_scalar(du) and du + 1 == DECAY_UNITY
            and type(a_in) is np.ndarray and a_in.shape == u.shape and _fits(u, a_in)):
        # full decay (a single-state neuron): decay(u, 4096) is 0 for every u, so the
        # new current is the shifted input alone -- one pass instead of four
        return _wrap_current_(np.multiply(a_in, 1 << ACT_SHIFT, dtype=u.dtype))
    u = decay(u, du + 1)
    if has_np_fast_path(u) and _fits(u, a_in):
        u += shift_left(a_in, ACT_SHIFT)    # u is a temporary of decay(): add, wrap in place
        return _wrap_current_(u)
    if torch_fast_path(u) and _is_torch(a_in) and a_in.shape == u.shape \
            and a_in.dtype.is_floating_point and not a_in.requires_grad:
        u.add_(a_in, alpha=float(1 << ACT_SHIFT))      # exact: a power of two, in place
        return wrap_current(u)
    return wrap_current(u + shift_left(a_in, ACT_SHIFT))


def voltage_update(v, u, dv, bias=0):
    """CUBA voltage: ``v <- saturate(decay(v, dv) + u + bias)`` (bias already scaled)."""
    v = decay(v, dv)
    if has_np_fast_path(v) and _fits(v, u) and _fits(v, bias):
        v += u                          # v is a temporary of decay(): add and clip in place
        if not (type(bias) is int and bias == 0):
            v += bias
        # saturation only matters when some |v| > V_LIMIT, which is rare: check first
        # (two reductions cost a fraction of numpy's in-place minimum/maximum)
        if v.size and (v.max() > V_LIMIT or v.min() < -V_LIMIT):
            np.minimum(v, V_LIMIT, out=v)
            np.maximum(v, -V_LIMIT, out=v)
        return v
    if torch_fast_path(v) and _is_torch(u) and u.shape == v.shape and not u.requires_grad \
            and (type(bias) in (int, float) or (_is_torch(bias) and not bias.requires_grad
                                                and bias.dtype.is_floating_point)):
        v += u                          # v is a temporary of decay(): add in place
        if not (type(bias) in (int, float) and bias == 0):
            v += bias
        if _outside(v, -V_LIMIT - 1, V_LIMIT):
            v.clamp_(-V_LIMIT, V_LIMIT)
        return v
    return saturate_voltage(v + u + bias)


def accumulate_weight_exp(a, weight_exp: int):
    """Apply a shared weight exponent to accumulated synaptic input, as lava's Dense."""
    if is_float(a):                     # float64 integers: exact powers of two, floor as >>
        if weight_exp >= 0:
            return a * float(1 << weight_exp) if weight_exp else a
        y = a * 2.0 ** weight_exp      # a temporary: floored in place
        return np.floor(y, out=y) if type(y) is np.ndarray else _floor(y)
    return a << weight_exp if weight_exp > 0 else a >> (-weight_exp)


def _floor(x):
    if type(x) is not np.ndarray and _is_torch(x):
        import torch
        return torch.floor(x)
    return np.floor(x)


def decay_bound(start: float, drive: float, d, steps: int) -> float:
    """An upper bound of ``|x|`` over ``steps`` steps of ``x <- decay(x, d) + e`` with
    ``|x_0| <= start`` and every ``|e| <= drive`` (no wrap or saturation assumed).

    ``d`` is the effective 12-bit decay (scalar or array: the smallest decay is the
    worst case).  The magnitude obeys ``|x'| <= |x| * k + drive`` with
    ``k = (4096 - d) / 4096`` (the truncation toward zero only lowers it); that
    sequence moves monotonically to its fixed point, so its maximum is at the first or
    the last step.  A small relative margin covers the float arithmetic of the bound.
    """
    d_min = float(np.min(d))
    k = (DECAY_UNITY - d_min) / DECAY_UNITY
    start, drive = float(start), float(drive)
    if k >= 1.0:
        last = start + steps * drive
    elif k <= 0.0:
        last = drive
    else:
        kt = k ** steps
        last = kt * start + drive * (1.0 - kt) / (1.0 - k)
    return max(start, last) * (1.0 + 1e-9) + 1.0


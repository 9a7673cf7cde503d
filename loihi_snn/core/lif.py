"""Step arithmetic of the LIF family (leak on/off, reset hard/soft/none), defined once.

Two forms of the same current-based (CUBA) dynamics, both usable with numpy arrays
and torch tensors:

- :func:`lif_fixed_step` -- Loihi 2 integer arithmetic (built on :mod:`loihi_snn.core.fixed`),
  used by the torch quantized (eval) forward, the Lava ``fixed_pt`` model and the
  emulator.  Units: raw Loihi integers; decays are 12-bit (0..4096), ``vth`` is the
  threshold mantissa compared as ``vth << 6``, ``a_in`` the integer synaptic input.
- :func:`lif_float_step` -- the same dynamics in floating point, in weight units
  (``a_in`` is the weighted input sum, ``vth`` the threshold in weight units,
  decays are fractions in [0, 1]), used by the torch training forward (with a
  surrogate spike function) and the Lava ``floating_pt`` model.

Dynamics (per step)::

    u <- u * (1 - du) + a_in                     (current; du = current decay)
    v <- v * (1 - dv) + u + bias                 (voltage; dv = 0 when leak is off)
    s <- v > vth                                 (binary spikes)
         +1 if v > vth, -1 if v < -vth, else 0   (ternary spikes)
    v <- 0 if s != 0       (reset "hard", stock Loihi CUBA)
         v - s * vth       (reset "soft", subtract threshold)
         v                 (reset "none")
"""
from __future__ import annotations

import sys
from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import (ACT_SHIFT, CURRENT_WRAP, DECAY_UNITY, V_LIMIT,
                                      VTH_SHIFT)
from loihi_snn.core.args import show
from loihi_snn.core.errors import OptionError

RESET_MODES = ("hard", "soft", "none")


class LIFParams(NamedTuple):
    """Parameters of one LIF-family layer: the record every step function takes.

    Integer form (:func:`lif_fixed_step`), raw Loihi units: ``du``/``dv`` are the
    *effective* 12-bit decays (0 = no decay, 4096 = full decay; NetX ``iDecay`` /
    ``vDecay``), ``vth`` the threshold mantissa compared as ``vth << 6``, ``bias`` the
    effective bias ``bias_mant << bias_exp``.  Float form (:func:`lif_float_step`),
    weight units: decays are fractions in [0, 1], ``vth`` and ``bias`` in weight units.
    Any field may be a scalar or an array broadcastable to the state.

    ``reset`` is ``"hard"`` (v to 0, stock Loihi CUBA), ``"soft"`` (subtract the
    threshold) or ``"none"``; ``ternary`` makes spikes in {-1, 0, +1} (thresholds +-vth).
    """
    du: Any
    dv: Any
    vth: Any
    bias: Any = 0
    reset: str = "hard"
    ternary: bool = False

    @classmethod
    def cuba(cls, du_lava, dv, vth, bias=0) -> "LIFParams":
        """Stock CUBA as lava's ``LIF`` process holds it: ``du_lava`` is lava's register
        value (netx sets ``du = iDecay - 1``; lava decays the current by ``du + 1``)."""
        return cls(du_lava + 1, dv, vth, bias, "hard", False)


def check_reset_mode(reset: str) -> str:
    if not isinstance(reset, str) or reset not in RESET_MODES:
        raise OptionError(f"unknown reset mode {show(reset)}; choose one of "
                          f"{', '.join(RESET_MODES)}")
    return reset


def _apply_reset(v, spike, vth_eff, reset: str):
    """``spike`` is boolean (binary) or an integer array in {-1, 0, 1} (ternary)."""
    fast = fixed.has_np_fast_path(v) and type(spike) is np.ndarray and spike.shape == v.shape
    if reset == "hard":
        if fast:                          # v is a temporary of voltage_update(): in place
            np.putmask(v, spike if spike.dtype == np.bool_ else spike != 0, 0)
            return v
        if fixed.torch_fast_path(v) and fixed.is_torch_bool(spike) and spike.shape == v.shape:
            return v.masked_fill_(spike, 0)     # v is a temporary of voltage_update()
        return fixed.where(spike != 0, v * 0, v)
    if reset == "soft":
        if fast:                          # in place; bool spikes multiply as 0/1 bytes
            s = spike.view(np.uint8) if spike.dtype == np.bool_ else spike
            v -= np.multiply(s, vth_eff, dtype=v.dtype)
            return v
        return v - spike * vth_eff
    return v


def ternary_compare(v, vth):
    """+1 where ``v > vth``, -1 where ``v < -vth``, else 0 (integer/float as ``v``)."""
    if type(v) is np.ndarray:
        return np.subtract(v > vth, v < -vth, dtype=np.int64)
    return (v > vth) * 1 - (v < -vth) * 1


def lif_fixed_step(u, v, a_in, p: LIFParams):
    """One integer step of the LIF family -- the one definition that the torch quantized
    forward, the Lava ``fixed_pt`` models (our ``LIFVariant`` and, through the emulator,
    the fused process) and the emulator's CUBA/LIF/TERNARY layers all call.

    ``u``, ``v`` (state) and ``a_in`` (integer synaptic input: weight mantissas summed,
    after the weight exponent) are integer arrays/tensors of one shape; ``p`` is an
    integer :class:`LIFParams`.  Returns ``(spike, u, v)``: ``spike`` boolean, or integer
    in {-1, 0, +1} when ``p.ternary``.  With ``reset="hard"`` this is exactly lava's
    bit-accurate ``LIF`` (``PyLifModelBitAcc``) with ``du_lava = p.du - 1``.
    """
    u = fixed.current_update(u, a_in, p.du - 1)     # decays by du (lava's register du - 1)
    v = fixed.voltage_update(v, u, p.dv, p.bias)
    vth_eff = p.vth << VTH_SHIFT
    if p.ternary:
        spike = ternary_compare(v, vth_eff)
    else:
        spike = v > vth_eff
    return spike, u, _apply_reset(v, spike, vth_eff, p.reset)


def lif_fixed_steps(u, v, a_block, p: LIFParams):
    """``T`` integer steps of the LIF family at once: exactly ``T`` calls of
    :func:`lif_fixed_step` (the emulator's block of steps between two resets).

    ``u``, ``v``: state ``(N, ...)``; ``a_block``: ``(T, N, ...)``, the synaptic input
    of each step (raw integers, as ``a_in``).  Returns ``(spikes, u, v)`` with
    ``spikes`` ``(T, N, ...)`` (boolean, or int64 in {-1, 0, +1} when ``p.ternary``)
    and the state after the last step.

    For ``float64`` state (the emulator's float form, numpy or torch) a block whose bounds
    (:func:`loihi_snn.core.fixed.decay_bound`) prove that no current wraps and no
    voltage saturates inside it runs in place with the fewest array passes: the
    wrap and the saturation are then the identity, and every other operation is the
    step's own (same products, truncation toward zero, compare and reset), so the
    integers are the same (tests/unit/test_lif_steps.py checks both forms bit for bit,
    across the bounds).  Every other case steps :func:`lif_fixed_step`.
    """
    T = int(a_block.shape[0])
    lib = _block_in_range(u, v, a_block, p) if T else None
    if lib == "numpy":
        return _steps_in_range_numpy(u, v, a_block, p)
    if lib == "torch":
        if u.device.type == "cpu" and not any(
                isinstance(getattr(p, f), sys.modules["torch"].Tensor) for f in ("bias", "vth")):
            # host tensors: the numpy form on the same memory (numpy's in-place float64
            # loops take about half the time of torch's per-op dispatch here)
            s, u2, v2 = _steps_in_range_numpy(u.numpy(), v.numpy(), a_block.numpy(), p)
            torch = sys.modules["torch"]
            return torch.from_numpy(s), torch.from_numpy(u2), torch.from_numpy(v2)
        return _steps_in_range_torch(u, v, a_block, p)
    out = None
    for t in range(T):
        s, u, v = lif_fixed_step(u, v, a_block[t], p)
        if out is None:
            out = np.empty((T,) + tuple(s.shape), s.dtype) if type(s) is np.ndarray else \
                s.new_empty((T,) + tuple(s.shape))
        out[t] = s
    return out, u, v


def _abs_max(x) -> float:
    if type(x) is np.ndarray:
        return float(max(x.max(), -x.min())) if x.size else 0.0
    if x.numel() == 0:
        return 0.0
    lo, hi = sys.modules["torch"].aminmax(x)
    return float(max(hi.item(), -lo.item()))


def _library(u, v, a_block) -> Optional[str]:
    """"numpy" / "torch" when ``u`` and ``v`` are float64 arrays (tensors outside
    autograd) of one shape and ``a_block`` a float block of the same kind, else None."""
    if type(u) is np.ndarray:
        ok = (type(v) is np.ndarray and type(a_block) is np.ndarray and u.dtype == np.float64
              and v.dtype == np.float64 and a_block.dtype in (np.float32, np.float64))
        lib = "numpy"
    else:
        torch = sys.modules.get("torch")
        ok = (torch is not None and all(isinstance(x, torch.Tensor) for x in (u, v, a_block))
              and u.dtype == v.dtype == torch.float64
              and a_block.dtype in (torch.float32, torch.float64)
              and not (u.requires_grad or v.requires_grad or a_block.requires_grad)
              and u.device == v.device == a_block.device)
        lib = "torch"
    ok = ok and tuple(u.shape) == tuple(v.shape) and tuple(a_block.shape[1:]) == tuple(u.shape)
    return lib if ok else None


def _block_in_range(u, v, a_block, p: LIFParams) -> Optional[str]:
    """The library of the in-place block form when it applies, else None: float64
    state (:func:`_library`; scalar parameters for torch), and bounds proving
    ``|u| < 2**23`` (no wrap) and ``|v| <= 2**23 - 1`` (no saturation) at every step of
    the block.  A reset only shrinks ``|v|`` (a non-negative threshold), so the bounds
    hold with it."""
    lib = _library(u, v, a_block)
    if lib is None or p.reset not in RESET_MODES:
        return None
    if lib == "torch" and not all(np.ndim(x) == 0 for x in (p.du, p.dv, p.vth)):
        return None
    if np.min(p.vth) < 0 or np.min(p.du) < 0 or np.min(p.dv) < 0 \
            or np.max(p.du) > DECAY_UNITY or np.max(p.dv) > DECAY_UNITY:
        return None
    steps = int(a_block.shape[0])
    u_bound = fixed.decay_bound(_abs_max(u), _abs_max(a_block) * (1 << ACT_SHIFT), p.du, steps)
    if u_bound >= CURRENT_WRAP:
        return None
    bias = 0.0 if (np.ndim(p.bias) == 0 and p.bias == 0) else _abs_max(
        p.bias if not isinstance(p.bias, (int, float)) else np.asarray(float(p.bias)))
    if fixed.decay_bound(_abs_max(v), u_bound + bias, p.dv, steps) > V_LIMIT:
        return None
    return lib


def _keep(d):
    """``(4096 - d) / 4096`` as float64 (scalar or array): the factor of one decay."""
    return (DECAY_UNITY - np.asarray(d, np.float64)) / DECAY_UNITY


def _block_constants(p: LIFParams):
    """(ku, kv, full_u, keep_u, keep_v, has_bias) of the block form."""
    ku, kv = _keep(p.du), _keep(p.dv)
    full_u = np.ndim(ku) == 0 and ku == 0.0     # a single-state neuron: u = input
    keep_u = np.ndim(ku) == 0 and ku == 1.0     # no current decay
    keep_v = np.ndim(kv) == 0 and kv == 1.0     # no leak
    has_bias = not (np.ndim(p.bias) == 0 and p.bias == 0)
    return ku, kv, full_u, keep_u, keep_v, has_bias


def _steps_in_range_numpy(u, v, a_block, p: LIFParams):
    """The block form of :func:`lif_fixed_steps` on numpy (bounds checked by the caller):
    each line is the step's operation, in place."""
    T = a_block.shape[0]
    u, v = u.copy(), v.copy()                # the caller's arrays stay as they were
    ku, kv, full_u, keep_u, keep_v, has_bias = _block_constants(p)
    vth = np.asarray(p.vth << VTH_SHIFT, np.float64)
    scale = float(1 << ACT_SHIFT)
    tmp = np.empty(u.shape, np.float64)
    out = np.empty((T,) + u.shape, np.int64 if p.ternary else np.bool_)
    for t in range(T):
        if full_u:
            np.multiply(a_block[t], scale, out=u)
        else:
            if not keep_u:
                np.multiply(u, ku, out=u)
                np.trunc(u, out=u)               # decay, rounded toward zero
            np.multiply(a_block[t], scale, out=tmp)
            u += tmp
        if not keep_v:
            np.multiply(v, kv, out=v)
            np.trunc(v, out=v)
        v += u
        if has_bias:
            v += p.bias
        s = out[t]
        if p.ternary:
            np.subtract(v > vth, v < -vth, out=s, dtype=np.int64)
        else:
            np.greater(v, vth, out=s)
        if p.reset == "hard":
            np.putmask(v, s, 0.0)
        elif p.reset == "soft":
            np.multiply(s, vth, out=tmp)
            v -= tmp
    return out, u, v


def _steps_in_range_torch(u, v, a_block, p: LIFParams):
    """The block form of :func:`lif_fixed_steps` on torch tensors (scalar parameters;
    bounds checked by the caller), the same operations as the numpy form."""
    torch = sys.modules["torch"]
    T = a_block.shape[0]
    u, v = u.clone(), v.clone()
    ku, kv, full_u, keep_u, keep_v, has_bias = _block_constants(p)
    ku, kv = float(ku), float(kv)
    vth = float(p.vth << VTH_SHIFT)
    scale = float(1 << ACT_SHIFT)
    out = torch.empty((T,) + tuple(u.shape), dtype=torch.int64 if p.ternary else torch.bool,
                      device=u.device)
    for t in range(T):
        if full_u:
            torch.mul(a_block[t], scale, out=u)
        else:
            if not keep_u:
                u.mul_(ku).trunc_()              # decay, rounded toward zero
            u.add_(a_block[t], alpha=scale)      # exact: a power of two
        if not keep_v:
            v.mul_(kv).trunc_()
        v.add_(u)
        if has_bias:
            v.add_(p.bias)
        if p.ternary:
            out[t] = (v > vth).to(torch.int64) - (v < -vth).to(torch.int64)
            fired = out[t] != 0
        else:
            fired = torch.gt(v, vth, out=out[t])
        if p.reset == "hard":
            v.masked_fill_(fired, 0.0)
        elif p.reset == "soft":
            v.sub_(out[t].to(v.dtype).mul_(vth))
    return out, u, v


def binary_spike(v, vth):
    """Spike function of inference: ``v > vth`` (boolean)."""
    return v > vth


def lif_float_step(u, v, a_in, p: LIFParams, spike_fn: Optional[Callable] = None):
    """One floating-point step in weight units (a float :class:`LIFParams`).  Returns
    ``(spike, u, v)``; arrays or tensors of one shape.

    ``spike_fn(v, vth)`` makes the spike: default :func:`binary_spike` (boolean), or
    :func:`ternary_compare` when ``p.ternary``; training passes a surrogate-gradient
    function returning a float tensor.  The reset uses the spike without gradient.
    """
    u = u * (1 - p.du) + a_in
    v = v * (1 - p.dv) + u + p.bias
    if spike_fn is None:
        spike_fn = ternary_compare if p.ternary else binary_spike
    spike = spike_fn(v, p.vth)
    s = spike.detach() if hasattr(spike, "detach") else spike
    if p.reset == "hard":
        v = fixed.where(s != 0, v * 0, v)
    elif p.reset == "soft":
        v = v - s * p.vth
    return spike, u, v

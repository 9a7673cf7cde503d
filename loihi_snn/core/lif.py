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

from typing import Any, Callable, NamedTuple, Optional

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import VTH_SHIFT
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

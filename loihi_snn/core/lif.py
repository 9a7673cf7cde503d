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

from typing import Callable, Optional

import numpy as np

from loihi_snn.core import fixed

RESET_MODES = ("hard", "soft", "none")


def check_reset_mode(reset: str) -> str:
    if reset not in RESET_MODES:
        raise ValueError(f"unknown reset mode {reset!r}; choose one of {RESET_MODES}")
    return reset


def _apply_reset(v, spike, vth_eff, reset: str):
    """``spike`` is boolean (binary) or an integer array in {-1, 0, 1} (ternary)."""
    if reset == "hard":
        if fixed._np_int(v):            # v is a temporary of voltage_update(): in place
            np.copyto(v, 0, where=spike if spike.dtype == np.bool_ else spike != 0)
            return v
        return fixed.where(spike != 0, v * 0, v)
    if reset == "soft":
        return v - spike * vth_eff
    return v


def ternary_compare(v, vth):
    """+1 where ``v > vth``, -1 where ``v < -vth``, else 0 (integer/float as ``v``)."""
    if type(v) is np.ndarray:
        return np.subtract(v > vth, v < -vth, dtype=np.int64)
    return (v > vth) * 1 - (v < -vth) * 1


def lif_fixed_step(u, v, a_in, du, dv, vth, bias=0, reset: str = "hard",
                   ternary: bool = False):
    """One integer step.  Returns ``(spike, u, v)``; ``spike`` is boolean, or integer in
    {-1, 0, +1} when ``ternary`` (two thresholds +-vth).

    ``du``/``dv`` are the *effective* 12-bit decay constants (0 = no decay, 4096 = full
    decay); for ``reset="hard"`` the result equals lava's bit-accurate LIF with
    ``du_lava = du - 1`` (see :func:`loihi_snn.core.fixed.lif_step`).  ``bias`` is the
    effective bias (``bias_mant << bias_exp``).
    """
    u = fixed.current_update(u, a_in, du - 1)      # decays by du (lava's register du - 1)
    v = fixed.voltage_update(v, u, dv, bias)
    vth_eff = vth << fixed.VTH_SHIFT
    spike = ternary_compare(v, vth_eff) if ternary else v > vth_eff
    return spike, u, _apply_reset(v, spike, vth_eff, reset)


def binary_spike(v, vth):
    """Spike function of inference: ``v > vth`` (boolean)."""
    return v > vth


def lif_float_step(u, v, a_in, du, dv, vth, bias=0.0, reset: str = "hard",
                   spike_fn: Optional[Callable] = None):
    """One floating-point step in weight units.  Returns ``(spike, u, v)``.

    ``spike_fn(v, vth)`` makes the spike: default :func:`binary_spike` (boolean);
    :func:`ternary_compare` for ternary neurons; training passes a surrogate-gradient
    function returning a float tensor.  The reset uses the spike without gradient.
    """
    u = u * (1 - du) + a_in
    v = v * (1 - dv) + u + bias
    spike = (spike_fn or binary_spike)(v, vth)
    s = spike.detach() if hasattr(spike, "detach") else spike
    if reset == "hard":
        v = fixed.where(s != 0, v * 0, v)
    elif reset == "soft":
        v = v - s * vth
    return spike, u, v

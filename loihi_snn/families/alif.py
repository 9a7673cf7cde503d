"""ALIF: SLAYER's adaptive-threshold LIF (``slayer.block.alif``), which stock netx cannot
load, run exactly as Loihi 2's adaptive threshold-and-refractoriness neuron (lava's
``ATRLIF``, whose fixed_pt model is bit-accurate to Loihi 2).

NetX fields (``/layer/<i>/neuron``, as SLAYER's ``alif`` exports them): ``type`` ``ALIF``,
``iDecay`` / ``vDecay`` / ``thDecay`` / ``refDecay`` 0..4096 (12-bit decays of the current,
voltage, threshold excess and refractory state), ``vThMant`` (resting threshold
``theta_0``) and ``vThStep`` (the threshold's increase per spike), both mantissas compared
as ``<< 6``, ``refDelay`` (ignored: SLAYER writes 1, the refractoriness is the decaying
``r``), ``gradedSpike`` (must be false: ATRLIF's spikes are binary).

SLAYER's quantized forward (``leaky_integrator`` + ``adaptive_threshold`` with
``right_shift_to_zero``) and ATRLIF's fixed_pt model compute the same integers, per step
(state scaled by 2**12 for a threshold of 1.0; input ``a_in << 6``)::

    i     <- wrap24(decay(i, iDecay) + (a_in << 6))
    v     <- sat24(decay(v, vDecay) + i + (bias << 6))         (never reset)
    theta <- decay(theta - theta_0, thDecay) + theta_0
    r     <- decay(r, refDecay)
    s     =  v - r >= theta                    (SLAYER: v >= theta + r)
    r     <- r + 2 theta,   theta <- theta + (vThStep << 6)    where s

``decay(x, d) = x * (4096 - d) >> 12`` toward zero: :mod:`loihi_snn.core.fixed`, the
primitives of the LIF family.  SLAYER keeps no 24-bit wrap or saturation (its states are
int64): equal while the states fit 24 bits, as for CUBA.  The emulator holds
``theta - theta_0`` so that its zero state is the rest state.  ATRLIF has no reset input:
no scheduled reset, no cutoff controller (as RF).  Fixed point only.
"""
from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import BIAS_EXP, DECAY_UNITY, VTH_MANT_MAX
from loihi_snn.core.spec import FieldChecker, LayerSpec
from loihi_snn.families.base import LavaNeuron, NeuronFamily, NeuronStep

#: the shift of a threshold mantissa into the state's scale (``vThMant << 6``)
VTH_SHIFT = 6


class ALIFIntegers(NamedTuple):
    """The integer parameters of an ALIF layer (decays 0..4096; thresholds already
    shifted into the state's scale)."""
    i_decay: int
    v_decay: int
    th_decay: int
    ref_decay: int
    theta_0: int
    theta_step: int


def alif_integers(p: Dict[str, Any]) -> ALIFIntegers:
    """:class:`ALIFIntegers` of validated ``/layer/<i>/neuron`` fields."""
    return ALIFIntegers(int(p["iDecay"]), int(p["vDecay"]), int(p["thDecay"]),
                        int(p["refDecay"]), int(p["vThMant"]) << VTH_SHIFT,
                        int(p["vThStep"]) << VTH_SHIFT)


def validate_alif_fields(c: FieldChecker, raw: Dict[str, Any]) -> Dict[str, Any]:
    what = "ALIF neurons"
    out = dict(raw)
    for key in ("iDecay", "vDecay", "thDecay", "refDecay"):
        out[key] = c.scalar(raw, key, lo=0, hi=DECAY_UNITY, what=what)
    out["vThMant"] = c.scalar(raw, "vThMant", lo=0, hi=VTH_MANT_MAX, what=what)
    out["vThStep"] = c.scalar(raw, "vThStep", lo=0, hi=VTH_MANT_MAX, what=what)
    out["refDelay"] = c.scalar(raw, "refDelay", required=False, default=1, lo=0)
    out["gradedSpike"] = c.flag(raw, "gradedSpike")
    if out["gradedSpike"]:
        c.fail("gradedSpike", "graded ALIF spikes (SLAYER sends the voltage) have no Loihi 2 "
                              "form: lava's ATRLIF sends binary spikes; export with "
                              "graded_spike=False")
    return out


def alif_fixed_step(i, v, th_ex, r, a_in, q: ALIFIntegers, bias=0):
    """One ALIF step (see the module docstring) on integer-valued arrays (int64, float64
    holding integers, or torch tensors); ``th_ex`` is ``theta - theta_0``, ``bias`` the
    scaled bias (``bias_mant << 6``) or 0.  Returns ``(spike, i, v, th_ex, r)``."""
    i = fixed.current_update(i, a_in, q.i_decay - 1)      # lava's du + 1 = iDecay
    v = fixed.voltage_update(v, i, q.v_decay, bias)
    th_ex = fixed.decay(th_ex, q.th_decay)
    r = fixed.decay(r, q.ref_decay)
    theta = th_ex + q.theta_0
    s = (v - r) >= theta
    r = fixed.where(s, r + 2 * theta, r)
    th_ex = fixed.where(s, th_ex + q.theta_step, th_ex)
    return s, i, v, th_ex, r


def _lava(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
          precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
          controlled: bool = False) -> LavaNeuron:
    """lava's ``ATRLIF`` (fixed point): decays as the fractions its fixed model scales
    by 4096 (the current's ``+ 1`` offset taken back), thresholds as mantissas."""
    # (a scheduled reset is ignored: ATRLIF has none, as RF)
    if controlled:
        raise ValueError("ALIF neurons cannot be reset by the cutoff controller (lava's "
                         "ATRLIF process has no reset); use CUBA, LIF or TERNARY neurons")
    from lava.proc.atrlif.process import ATRLIF  # lazy: importing Lava is slow
    p = layer.neuron.params
    return LavaNeuron(ATRLIF(
        shape=shape, delta_i=(int(p["iDecay"]) - 1) / DECAY_UNITY,
        delta_v=int(p["vDecay"]) / DECAY_UNITY, delta_theta=int(p["thDecay"]) / DECAY_UNITY,
        delta_r=int(p["refDecay"]) / DECAY_UNITY, theta_0=int(p["vThMant"]),
        theta=int(p["vThMant"]), theta_step=int(p["vThStep"]),
        bias_mant=0 if bias is None else bias.astype(np.int32), bias_exp=BIAS_EXP))


def _step(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
    q = alif_integers(layer.neuron.params)
    scaled = 0 if bias is None else fixed.scale_bias(bias)

    def step(state, a_in):
        s, i, v, th_ex, r = alif_fixed_step(*state, a_in, q, scaled)
        return s, (i, v, th_ex, r)

    return NeuronStep(step=step, num_states=4, out_bits=0, resettable=False)


FAMILY = NeuronFamily(
    netx_types=("ALIF",),
    description="adaptive threshold and refractoriness LIF (SLAYER's alif; lava's ATRLIF, "
                "Loihi 2's arithmetic; stock netx cannot load it)",
    validate=validate_alif_fields, lava=_lava, emulator_step=_step, float_ok=False,
    controllable=False, on_chip=False)

"""What the LIF-family neurons (CUBA, LIF, TERNARY) share: their NetX fields, their
integer parameters and their Lava process parameters.  Used by the family modules
:mod:`~loihi_snn.families.cuba`, :mod:`~loihi_snn.families.lif` and
:mod:`~loihi_snn.families.ternary`; not a family itself.
"""
from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import BIAS_EXP, DECAY_UNITY, VTH_MANT_MAX
from loihi_snn.core.lif import RESET_MODES, LIFParams, lif_fixed_step, lif_fixed_steps
from loihi_snn.core.spec import FieldChecker, LayerSpec
from loihi_snn.families.base import LavaNeuron, NeuronStep


#: NetX neuron types of the LIF family: stock CUBA (binary spikes, hard reset; stock netx
#: loads it), ours for the other variants
NETX_CUBA, NETX_LIF, NETX_TERNARY = "CUBA", "LIF", "TERNARY"


def lif_netx_neuron(i_decay: int, v_decay: int, v_th_mant: int, *, reset: str = "hard",
                    leak: bool = True, ternary: bool = False) -> Dict[str, Any]:
    """The NetX ``/layer/<i>/neuron`` fields of a LIF-family neuron -- the ONE encoding
    the torch export and the NIR import write.

    Binary spikes with a hard reset are plain ``CUBA`` (stock netx loads them; no leak is
    ``v_decay = 0``); any other variant is our ``LIF`` (binary) or ``TERNARY`` type with
    ``resetMode`` and ``leak``.  Integers: decays in 0..4096 (12-bit), threshold mantissa.
    """
    params: Dict[str, Any] = {"type": NETX_CUBA, "iDecay": int(i_decay),
                              "vDecay": int(v_decay), "vThMant": int(v_th_mant),
                              "refDelay": 1, "gradedSpike": bool(ternary)}
    if ternary or reset != "hard":
        params.update(type=NETX_TERNARY if ternary else NETX_LIF, resetMode=reset,
                      leak=bool(leak))
    return params


class LIFDynamics(NamedTuple):
    """What a LIF-family NetX neuron computes: ``reset`` mode, effective 12-bit decays
    (``v_decay`` 0 when the neuron has no leak), threshold mantissa, spike kind."""
    reset: str
    i_decay: int
    v_decay: int
    v_th_mant: int
    ternary: bool


def lif_netx_dynamics(neuron_type: str, params: Dict[str, Any]) -> LIFDynamics:
    """The inverse of :func:`lif_netx_neuron` for validated fields of a ``CUBA``/``LOIHI``,
    ``LIF`` or ``TERNARY`` neuron (the NIR export reads files through it)."""
    ntype = str(neuron_type).upper()
    ours = ntype in (NETX_LIF, NETX_TERNARY)
    reset = params.get("resetMode", "hard") if ours else "hard"
    v_decay = int(params["vDecay"])
    if ours and not params.get("leak", True):
        v_decay = 0
    return LIFDynamics(reset, int(params["iDecay"]), v_decay, int(params["vThMant"]),
                       ntype == NETX_TERNARY)


def validate_cuba_fields(c: FieldChecker, raw: Dict[str, Any]) -> Dict[str, Any]:
    """The CUBA fields every LIF-family neuron has (``c`` is the schema's checker)."""
    what = "CUBA neurons"
    out = dict(raw)
    out["iDecay"] = c.scalar(raw, "iDecay", lo=0, hi=DECAY_UNITY, what=what)
    out["vDecay"] = c.scalar(raw, "vDecay", lo=0, hi=DECAY_UNITY, what=what)
    out["vThMant"] = c.scalar(raw, "vThMant", lo=0, hi=VTH_MANT_MAX, what=what)
    out["refDelay"] = c.scalar(raw, "refDelay", required=False, default=1, lo=0)
    out["gradedSpike"] = c.flag(raw, "gradedSpike")
    return out


def fixed_params(p: Dict[str, Any], bias: Optional[np.ndarray], reset: str = "hard",
                 ternary: bool = False) -> LIFParams:
    """Integer :class:`LIFParams` of a validated LIF-family neuron group.

    ``bias`` is the bias mantissa broadcast to the layer (or None); the effective bias
    is ``bias << 6`` as netx builds it.
    """
    eff_bias = 0 if bias is None else fixed.scale_bias(bias, BIAS_EXP)
    return LIFParams(int(p["iDecay"]), int(p["vDecay"]), int(p["vThMant"]), eff_bias,
                     reset, ternary)


def lava_kwargs(p: Dict[str, Any], bias, precision: str) -> Dict[str, Any]:
    """Decays, threshold and bias of a Lava LIF-family process (our ``LIFVariant``).

    fixed: effective 12-bit decays ``du = iDecay``, ``dv = vDecay``, ``vth = vThMant``,
    ``bias_exp = 6``; float: fractions of 4096 and weight units (lava's float models do
    not scale ``a_in`` by 2**6).
    """
    if precision == "fixed":
        kw: Dict[str, Any] = dict(du=p["iDecay"], dv=p["vDecay"], vth=p["vThMant"],
                                  bias_exp=BIAS_EXP)
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.int32)
    else:
        kw = dict(du=p["iDecay"] / DECAY_UNITY, dv=p["vDecay"] / DECAY_UNITY,
                  vth=float(p["vThMant"]))
        if bias is not None:
            kw["bias_mant"] = bias.astype(np.float64)
    return kw


def validate_lif_fields(c: FieldChecker, raw: Dict[str, Any]) -> Dict[str, Any]:
    """CUBA fields + ``resetMode`` + ``leak`` (``c`` is the schema's checker)."""
    out = validate_cuba_fields(c, raw)
    mode = raw.get("resetMode", "hard")
    if not isinstance(mode, str) or mode not in RESET_MODES:
        c.fail("resetMode", f"unknown reset mode {mode!r}; expected one of {RESET_MODES}")
    out["resetMode"] = mode
    leak = raw.get("leak", True)
    if not isinstance(leak, (bool, int, np.bool_)):
        c.fail("leak", f"expected a boolean, found {leak!r}")
    out["leak"] = bool(leak)
    return out


def lava_lif_variant(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
                     precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
                     controlled: bool = False,
                     ternary: bool = False, out_bits: int = 0) -> LavaNeuron:
    """Our ``LIFVariant`` (or ``ControlledLIFVariant`` with the controller's reset port)."""
    # lazy: the process module imports Lava
    from loihi_snn.families.lava.lif_variant.process import ControlledLIFVariant, LIFVariant
    p = layer.neuron.params
    kw: Dict[str, Any] = {"shape": shape, "reset_mode": p.get("resetMode", "hard"),
                          "spike_mode": "ternary" if ternary else "binary",
                          **lava_kwargs(p, bias, precision)}
    if reset is not None:
        kw.update(reset_interval=reset[0], reset_offset=reset[1])
    if controlled:
        return LavaNeuron(ControlledLIFVariant(drop_input_on_reset=not is_input, **kw), out_bits)
    return LavaNeuron(LIFVariant(**kw), out_bits)


def lif_step_builder(ternary: bool, out_bits: int):
    """Emulator step of the LIF family (binary or ternary spikes)."""
    def build(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
        params = fixed_params(layer.neuron.params, bias, layer.neuron.params.get("resetMode", "hard"),
                              ternary)

        def step(state, a_in):
            u, v = state
            s, u, v = lif_fixed_step(u, v, a_in, params)
            return s, (u, v)

        def run(state, a_block):
            u, v = state
            s, u, v = lif_fixed_steps(u, v, a_block, params)
            return s, (u, v)

        return NeuronStep(step=step, num_states=2, out_bits=out_bits, resettable=True,
                          run=run)
    return build



"""SDNN: sigma-delta neurons as lava-dl netx builds them (fixed point only).

NetX fields: ``vThMant`` 0..2**24-1, ``sigma_output`` (bool), optional ``messageBits``
1..32 (bits of the graded spikes sent; default 16), ``activation`` ``relu`` | ``identity``.
On Lava: ``Delta`` for an input layer, ``Sigma`` for a ``sigma_output`` layer,
``SigmaDelta`` otherwise (``spike_exp = state_exp = 6``).  The emulator step
(:func:`sdnn_step`) is lava's fixed_pt ``PyDeltaModelFixed`` / ``PySigmaDeltaModelFixed`` /
``PySigmaModelFixed`` integer for integer.  Neither stock netx nor the cutoff controller
resets them (a scheduled reset is ignored, as netx warns).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import SDNN_DEFAULT_MESSAGE_BITS, SDNN_EXP, SDNN_VTH_MAX
from loihi_snn.core.errors import RunError
from loihi_snn.core.spec import FieldChecker, LayerSpec
from loihi_snn.families.base import LavaNeuron, NeuronFamily, NeuronStep

ACTIVATIONS = ("relu", "identity", "none")


def validate_sdnn_fields(c: FieldChecker, raw: Dict[str, Any]) -> Dict[str, Any]:
    out = dict(raw)
    out["vThMant"] = c.scalar(raw, "vThMant", lo=0, hi=SDNN_VTH_MAX, what="SDNN neurons")
    out["sigma_output"] = c.flag(raw, "sigma_output")
    if "messageBits" in raw:     # bits of the graded spikes sent (int32 ports: at most 32)
        out["messageBits"] = c.scalar(raw, "messageBits", lo=1, hi=32, what="SDNN neurons")
    out["activation"] = str(raw.get("activation", "relu"))
    if out["activation"] not in ACTIVATIONS:
        c.fail("neuron/activation", f"unknown SDNN activation '{out['activation']}'; "
                                     f"supported: relu, identity")
    return out


def _lava(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
          precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
          controlled: bool = False) -> LavaNeuron:
    from lava.proc.sdn.process import Delta, Sigma, SigmaDelta  # lazy: importing Lava is slow
    if controlled:
        raise ValueError("sigma-delta (SDNN) neurons cannot be reset by the cutoff "
                         "controller; use CUBA, LIF or TERNARY neurons")
    p = layer.neuron.params
    bits = int(p.get("messageBits", SDNN_DEFAULT_MESSAGE_BITS))
    if is_input:
        return LavaNeuron(Delta(shape=shape, vth=p["vThMant"], spike_exp=SDNN_EXP,
                                state_exp=SDNN_EXP), bits)
    kw: Dict[str, Any] = {"shape": shape}
    if bias is not None:
        kw["bias"] = bias.astype(np.int32)
    if p.get("sigma_output"):
        return LavaNeuron(Sigma(**kw), bits)
    return LavaNeuron(SigmaDelta(vth=p["vThMant"], spike_exp=SDNN_EXP, state_exp=SDNN_EXP,
                                 **kw), bits)


#: lava's fixed_pt sigma-delta models hold their state in int32; the step below is exact
#: while every intermediate stays inside it (it raises otherwise instead of wrapping)
INT32_LIMIT = 1 << 31


def _abs_max(x) -> float:
    if type(x) is np.ndarray:
        return float(max(x.max(), -x.min())) if x.size else 0.0
    return float(x.abs().max().item()) if x.numel() else 0.0


def _check_int32(layer: LayerSpec, what: str, *arrays) -> None:
    for x in arrays:
        if _abs_max(x) >= INT32_LIMIT:
            raise RunError(f"layer {layer.index}: the SDNN {what} left the int32 range that "
                           f"lava's fixed_pt sigma-delta model wraps in; the emulator does not "
                           f"reproduce the wrap (run this input with backend 'lava-fixed')")


def _relu(x):
    return fixed.where(x > 0, x, x * 0)


def sdnn_step(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
    """The emulator step of one SDNN layer, as lava's fixed_pt models (netx's mapping).

    With ``e = spike_exp + state_exp = 12`` and ``vth = vThMant << e``:

    - input layer (``Delta``): ``a = a_in << e``; ``delta = a - act + residue``;
      ``s = delta`` where ``|delta| >= vth`` else 0; ``residue = delta - s``; ``act = a``;
      sends ``s >> 6`` (floor).  State ``(act, residue)``.
    - ``sigma_output`` layer (``Sigma``): ``sigma += a_in``, sends ``sigma`` (no bias, as
      lava's model).  State ``(sigma,)``.
    - otherwise (``SigmaDelta``, ReLU): ``sigma += a_in``;
      ``act = relu(sigma + (bias << e))``; then the delta step above on ``act``.  State
      ``(sigma, act, residue)``.

    Exact for every input whose intermediates stay inside int32 (lava's state type);
    beyond that lava wraps and this step raises :class:`RunError`.
    """
    p = layer.neuron.params
    bits = int(p.get("messageBits", SDNN_DEFAULT_MESSAGE_BITS))
    e = 2 * SDNN_EXP
    vth = int(p["vThMant"]) << e
    if is_input:
        def delta_in(state, a_in):
            act, residue = state
            a = fixed.shift_left(a_in, e)
            delta = a - act + residue
            _check_int32(layer, "input", a, delta)
            s = fixed.where(abs(delta) >= vth, delta, delta * 0)
            return fixed.accumulate_weight_exp(s, -SDNN_EXP), (a, delta - s)

        return NeuronStep(step=delta_in, num_states=2, out_bits=bits, resettable=False)

    if p.get("sigma_output"):
        def sigma(state, a_in):
            (acc,) = state
            acc = acc + a_in
            _check_int32(layer, "sigma", acc)
            return acc, (acc,)

        return NeuronStep(step=sigma, num_states=1, out_bits=bits, resettable=False)

    b = None if bias is None else bias * (1 << e)      # lava: bias * (1 << e), int32

    def sigma_delta(state, a_in):
        acc, act, residue = state
        acc = acc + a_in
        pre = acc if b is None else acc + b
        new = _relu(pre)
        delta = new - act + residue
        _check_int32(layer, "state", pre, delta)
        s = fixed.where(abs(delta) >= vth, delta, delta * 0)
        return fixed.accumulate_weight_exp(s, -SDNN_EXP), (acc, new, delta - s)

    return NeuronStep(step=sigma_delta, num_states=3, out_bits=bits, resettable=False)


FAMILY = NeuronFamily(
    netx_types=("SDNN",),
    description="sigma-delta neurons (lava-dl netx SDNN), graded spikes, fixed point only",
    validate=validate_sdnn_fields,
    lava=_lava,
    emulator_step=sdnn_step,
    float_ok=False,
    controllable=False,
    on_chip=True,
)

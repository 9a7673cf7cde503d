"""SDNN: sigma-delta neurons as lava-dl netx builds them (fixed point only).

NetX fields: ``vThMant`` 0..2**24-1, ``sigma_output`` (bool), optional ``messageBits``
1..32 (bits of the graded spikes sent; default 16), ``activation`` ``relu`` | ``identity``.
On Lava: ``Delta`` for an input layer, ``Sigma`` for a ``sigma_output`` layer,
``SigmaDelta`` otherwise (``spike_exp = state_exp = 6``).  No emulator step yet, and the
cutoff controller cannot reset them.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

from loihi_snn.core.constants import SDNN_DEFAULT_MESSAGE_BITS, SDNN_EXP, SDNN_VTH_MAX
from loihi_snn.families.base import LavaNeuron, NeuronFamily

ACTIVATIONS = ("relu", "identity", "none")


def validate_sdnn_fields(c, raw: Dict[str, Any]) -> Dict[str, Any]:
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


def _lava(layer, shape, bias, precision, reset, is_input, controlled=False) -> LavaNeuron:
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


FAMILY = NeuronFamily(
    netx_types=("SDNN",),
    description="sigma-delta neurons (lava-dl netx SDNN), graded spikes, fixed point only",
    validate=validate_sdnn_fields,
    lava=_lava,
    emulator_step=None,
    float_ok=False,
    controllable=False,
    on_chip=True,
)

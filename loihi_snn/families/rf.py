"""RF_PHASE and RF_IZHIKEVICH: resonate-and-fire neurons (Loihi 2's own neuron models),
as lava-dl netx builds them from ``lava.proc.rf`` / ``lava.proc.rf_iz`` (SLAYER trains
them with ``slayer.block.rf`` / ``rf_iz``).

NetX fields (``/layer/<i>/neuron``): ``type`` ``RF_PHASE`` (phase spikes) or
``RF_IZHIKEVICH`` (Izhikevich reset; stock netx builds ``RF_IZ`` for every type with
``RF`` in it but without ``PHASE``, so ``RF`` and ``RF_IZ`` are read as it too),
``sinDecay`` / ``cosDecay`` (the 12-bit rotation-and-decay of the complex state, units
1/4096), ``vThMant`` (threshold mantissa, compared as ``vThMant << 6``), ``gradedSpike``
(ignored: RF spikes are binary).  The layer is a complex dense synapse (``dense_comp``,
or SLAYER's ``dense`` with ``weight/real`` and ``weight/imag``): the real and imaginary
weights feed ``a_real_in`` / ``a_imag_in``.

On Lava: lava's own ``RF`` / ``RF_IZ`` process with stock netx's parameters (``period``
and ``alpha`` recovered from ``sinDecay`` / ``cosDecay`` by
``lava.lib.dl.slayer.neuron.rf.neuron_params``, ``state_exp = 6``, ``decay_bits = 12``),
fixed point only.  The integer decays are what lava's process makes of them
(``int32((1 - alpha) sin(2 pi / period) 4096)``, truncated: :func:`rf_integers`, the one
computation the emulator shares), and :func:`rf_fixed_step` is lava's
``PyRFModelFixed`` / ``PyRF_IZModelFixed`` integer for integer::

    re, im  <- a_re << 6, a_im << 6 + (cos re - sin im, sin re + cos im) >> 12 (toward 0)
    re, im  clipped to +-(2**23 - 1)
    RF_PHASE: s = re' >= vth and im' >= 0 and im < 0        (vth = vThMant << 6)
    RF_IZ:    s = im' >= vth; then re' = 0, im' = vth - 1 where s

No bias, no scheduled or controller reset (lava's RF processes have none): files with
``layer_start = first_input`` and the cutoff controller refuse them, as stock netx runs
them.
"""
from __future__ import annotations

from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import VTH_MANT_MAX
from loihi_snn.core.spec import FieldChecker, LayerSpec
from loihi_snn.families.base import LavaNeuron, NeuronFamily, NeuronStep, TrainingFamily

#: lava's RF processes as netx builds them: input shift and decay precision
RF_STATE_EXP, RF_DECAY_BITS = 6, 12
#: 24-bit real / imaginary state (lava: 2 * 12 bits), clipped to +-(2**23 - 1)
RF_LIMIT = (1 << 23) - 1
DECAY_ONE = 1 << RF_DECAY_BITS


class RFIntegers(NamedTuple):
    """What lava's RF process holds: integer sin / cos decays, threshold (``vThMant << 6``)
    and the ``period`` / ``alpha`` it was built from."""
    sin_decay: int
    cos_decay: int
    vth: int
    period: float
    alpha: float


def rf_params(p: Dict[str, Any]) -> Tuple[float, float]:
    """(period, alpha) as stock netx computes them (``slayer.neuron.rf.neuron_params``)."""
    sin_decay = p["sinDecay"] / DECAY_ONE
    cos_decay = p["cosDecay"] / DECAY_ONE
    decay = 1 - np.sqrt(sin_decay ** 2 + cos_decay ** 2)
    frequency = np.arctan2(sin_decay, cos_decay) / 2 / np.pi
    with np.errstate(divide="ignore"):
        period = 1 / frequency
    return period, decay


def rf_integers(p: Dict[str, Any]) -> RFIntegers:
    """The integers lava's ``RF(period, alpha, state_exp=6, decay_bits=12, vth)`` holds --
    the same float operations as ``lava.proc.rf.process.RF.__init__``."""
    period, alpha = rf_params(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        sin_decay = (1 - alpha) * np.sin(np.pi * 2 * 1 / period)
        cos_decay = (1 - alpha) * np.cos(np.pi * 2 * 1 / period)
    vth = int(p["vThMant"] * (1 << RF_STATE_EXP))
    return RFIntegers(int(np.int32(sin_decay * (1 << RF_DECAY_BITS))),
                      int(np.int32(cos_decay * (1 << RF_DECAY_BITS))), vth, float(period),
                      float(alpha))


def validate_rf_fields(c: FieldChecker, raw: Dict[str, Any]) -> Dict[str, Any]:
    what = "RF neurons"
    out = dict(raw)
    out["sinDecay"] = c.scalar(raw, "sinDecay", lo=-DECAY_ONE, hi=DECAY_ONE, what=what)
    out["cosDecay"] = c.scalar(raw, "cosDecay", lo=-DECAY_ONE, hi=DECAY_ONE, what=what)
    if out["sinDecay"] == 0:
        c.fail("sinDecay", "must not be 0 (no rotation: lava's RF has an infinite period)")
    if out["sinDecay"] ** 2 + out["cosDecay"] ** 2 > DECAY_ONE ** 2:
        c.fail("cosDecay", "sinDecay**2 + cosDecay**2 exceeds 4096**2: the state would grow "
                           "(a negative decay)")
    out["vThMant"] = c.scalar(raw, "vThMant", lo=0, hi=VTH_MANT_MAX, what=what)
    out["gradedSpike"] = c.flag(raw, "gradedSpike")
    return out


def _int64(x):
    """``x`` (numpy, or a torch tensor of the emulator's torch backend) as int64."""
    if isinstance(x, np.ndarray) or np.isscalar(x):
        return np.asarray(x).astype(np.int64)
    return x.long()


def _clip(x, limit: int):
    return np.clip(x, -limit, limit) if isinstance(x, np.ndarray) else x.clamp(-limit, limit)


def _scale_volt(x):
    """lava's ``sign(x) * (|x| >> decay_bits)``: x / 4096 rounded toward zero."""
    t = abs(x) >> RF_DECAY_BITS
    return fixed.where(x < 0, -t, t)


def rf_fixed_step(real, imag, a_real, a_imag, q: RFIntegers, izhikevich: bool):
    """One step of lava's ``PyRFModelFixed`` (``izhikevich``: ``PyRF_IZModelFixed``) on
    int64 arrays; returns ``(spike, real, imag)``, ``spike`` boolean."""
    a_real = _int64(a_real) << RF_STATE_EXP
    a_imag = _int64(a_imag) << RF_STATE_EXP
    real, imag = _int64(real), _int64(imag)
    new_real = _scale_volt(q.cos_decay * real) - _scale_volt(q.sin_decay * imag) + a_real
    new_imag = _scale_volt(q.sin_decay * real) + _scale_volt(q.cos_decay * imag) + a_imag
    new_real, new_imag = _clip(new_real, RF_LIMIT), _clip(new_imag, RF_LIMIT)
    if not izhikevich:
        spike = (new_real >= q.vth) & (new_imag >= 0) & (imag < 0)
        return spike, new_real, new_imag
    spike = new_imag >= q.vth
    new_real = fixed.where(spike, new_real * 0, new_real)
    new_imag = fixed.where(spike, new_imag * 0 + (q.vth - 1), new_imag)
    return spike, new_real, new_imag


def _builder(izhikevich: bool):
    def lava(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
             precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
             controlled: bool = False) -> LavaNeuron:
        """lava's ``RF`` / ``RF_IZ`` with stock netx's parameters (fixed point)."""
        # (a scheduled reset is ignored, as stock netx builds RF without one)
        if controlled:
            raise ValueError("resonate-and-fire (RF) neurons cannot be reset by the cutoff "
                             "controller (lava's RF process has no reset); use CUBA, LIF or "
                             "TERNARY neurons")
        if is_input or bias is not None:
            raise ValueError("resonate-and-fire (RF) neurons on an input layer or with a "
                             "bias have no Lava process (lava's RF has neither)")
        # lazy: importing Lava is slow
        if izhikevich:
            from lava.proc.rf_iz.process import RF_IZ as Proc
        else:
            from lava.proc.rf.process import RF as Proc
        q = rf_integers(layer.neuron.params)
        return LavaNeuron(Proc(shape=shape, period=q.period, alpha=q.alpha,
                               state_exp=RF_STATE_EXP, decay_bits=RF_DECAY_BITS,
                               vth=layer.neuron.params["vThMant"]))

    def step_builder(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
        q = rf_integers(layer.neuron.params)

        def step(state, a_in):
            s, re, im = rf_fixed_step(state[0], state[1], a_in[:, 0], a_in[:, 1], q,
                                      izhikevich)
            return s, (re, im)

        return NeuronStep(step=step, num_states=2, out_bits=0, resettable=False)

    return lava, step_builder


#: SLAYER's ``rf.Neuron`` parameters a training config may set
RF_PARAMS = ("threshold", "period", "decay", "tau_grad", "scale_grad", "scale", "norm",
             "dropout", "requires_grad", "graded_spike")
#: the training defaults (weight units; ``period`` in steps, ``decay`` per step; the
#: threshold a multiple of 1/64, as the export truncates it); the trainer builds
#: :class:`loihi_snn.torch.blocks.rf.Dense` (dense layers, one period and decay per
#: layer: ``shared_param``, since the NetX fields are scalars)
RF_DEFAULTS = {"threshold": 0.125, "period": 8, "decay": 0.1, "tau_grad": 1.0,
               "scale_grad": 1.0, "requires_grad": False}


_rf_lava, _rf_step = _builder(False)
_iz_lava, _iz_step = _builder(True)

RF_FAMILY = NeuronFamily(
    netx_types=("RF_PHASE",),
    description="resonate-and-fire, phase spikes (lava's RF; stock netx loads it)",
    validate=validate_rf_fields, lava=_rf_lava, emulator_step=_rf_step, float_ok=False,
    controllable=False, on_chip=True, complex_input=True,
    training=(TrainingFamily(
        name="rf",
        description="lava-dl SLAYER resonate-and-fire (slayer.block.rf, phase spikes), dense "
                    "layers; one period and decay per layer; runs on stock netx",
        blocks="loihi-snn-rf", defaults=dict(RF_DEFAULTS), allowed_params=RF_PARAMS),))

RF_IZ_FAMILY = NeuronFamily(
    netx_types=("RF_IZHIKEVICH", "RF_IZ", "RF"),
    description="resonate-and-fire, Izhikevich reset (lava's RF_IZ; stock netx loads it)",
    validate=validate_rf_fields, lava=_iz_lava, emulator_step=_iz_step, float_ok=False,
    controllable=False, on_chip=True, complex_input=True)

# a module registers its FAMILY, or each of its FAMILIES (families._MODULES)
FAMILY = RF_FAMILY
FAMILIES = (RF_FAMILY, RF_IZ_FAMILY)

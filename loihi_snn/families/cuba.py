"""CUBA (and LOIHI): stock current-based LIF neurons, as lava-dl netx reads and runs them.

NetX fields (``/layer/<i>/neuron``): ``iDecay`` 0..4096 (current decay, 12-bit),
``vDecay`` 0..4096 (voltage decay), ``vThMant`` 0..2**17-1 (threshold mantissa, compared
as ``vThMant << 6``), optional ``refDelay`` and ``gradedSpike``.  On Lava it is lava's own
``LIF`` process with stock netx's mapping (``du = iDecay - 1``, ``dv = vDecay``,
``bias_exp = 6``), so fixed-point spikes equal stock netx; its step is
:func:`loihi_snn.core.lif.lif_fixed_step` with a hard reset.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from loihi_snn.core.spec import LayerSpec
from loihi_snn.families.base import (DEFAULT_NEURON_PARAMS, LavaNeuron, NeuronFamily,
                                     TrainingFamily)
from loihi_snn.families.lif_common import (lava_kwargs, lava_lif_variant, lif_step_builder,
                                           validate_cuba_fields)


def _lava(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
          precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
          controlled: bool = False) -> LavaNeuron:
    """lava's ``LIF`` / ``LIFReset`` with stock netx's parameters; under the cutoff
    controller the bit-identical :class:`~loihi_snn.families.lava.lif_variant.process.ControlledLIFVariant`
    (it has the controller's reset port)."""
    if controlled:      # same arithmetic (tests prove it), plus the controller's reset port
        return lava_lif_variant(layer, shape, bias, precision, reset, is_input, controlled)
    from lava.proc.lif.process import LIF, LIFReset  # lazy: importing Lava is slow
    kw = lava_kwargs(layer.neuron.params, bias, precision)
    kw["shape"] = shape
    if precision == "fixed":
        kw["du"] = kw["du"] - 1                       # lava's register value
    else:
        kw["bias_exp"] = 0
    if reset is not None:
        return LavaNeuron(LIFReset(reset_interval=reset[0], reset_offset=reset[1], **kw))
    return LavaNeuron(LIF(**kw))


#: lava's ``LIF`` fixed_pt as the loader builds it: the LIF-family step (a CUBA layer has
#: no ``resetMode``, so the reset is hard)
_step = lif_step_builder(ternary=False, out_bits=0)


CUBA_PARAMS = ("threshold", "current_decay", "voltage_decay", "tau_grad", "scale_grad",
               "scale", "norm", "dropout", "shared_param", "persistent_state",
               "requires_grad", "graded_spike")

FAMILY = NeuronFamily(
    netx_types=("CUBA", "LOIHI"),
    description="current-based LIF, hard reset (lava's LIF; stock netx loads it)",
    validate=validate_cuba_fields,
    lava=_lava,
    emulator_step=_step,
    on_chip=True,
    training=(TrainingFamily(
        name="cuba",
        description="lava-dl SLAYER current-based LIF (slayer.block.cuba); runs on stock netx",
        blocks="slayer-cuba",
        defaults={**DEFAULT_NEURON_PARAMS, "scale_grad": 3, "requires_grad": False},
        allowed_params=CUBA_PARAMS),),
)

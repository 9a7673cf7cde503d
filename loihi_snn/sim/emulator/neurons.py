"""Neuron dynamics of the emulator, dispatched by NetX neuron type.

The emulator never defines neuron arithmetic itself: each registered builder wraps
the single definition (``loihi_snn.core.fixed`` for CUBA) in a :class:`NeuronStep`.
A new neuron type becomes runnable in the emulator (and so in the fused Lava
process, which calls the emulator) by registering one builder::

    from loihi_snn.sim.emulator.neurons import NeuronStep, register_neuron_step

    @register_neuron_step("MYTYPE")
    def _my_type(layer, bias, is_input):
        p = layer.neuron.params
        def step(state, a_in):
            u, v = state
            s, u, v = my_fixed_step(u, v, a_in, p["iDecay"], p["vDecay"], p["vThMant"], bias)
            return s, (u, v)
        return NeuronStep(step=step, num_states=2)

Conventions (all raw Loihi integers, numpy ``int64``):

- ``a_in`` has shape ``(N, *layer.shape)`` (file order, batch first): what lava's
  neuron receives on ``a_in`` at that step (weight mantissas summed, after the
  synapse's weight exponent), or the network input for an input layer;
- ``state`` is a tuple of ``num_states`` arrays of that shape; the emulator creates
  them as zeros and zeroes them again on a scheduled reset (``reset_interval``);
- ``step`` returns ``(out, state)``: ``out`` the values the neuron sends (a boolean
  or 0/1 array for binary spikes, integers for graded spikes; ``out_bits`` > 0 then).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.netx.schema import LayerSpec

State = Tuple[np.ndarray, ...]
StepFn = Callable[[State, np.ndarray], Tuple[np.ndarray, State]]


@dataclass(frozen=True)
class NeuronStep:
    """Integer dynamics of one layer's neurons, as the emulator calls them.

    Attributes
    ----------
    step : callable
        ``step(state, a_in) -> (out, state)``; see the module docstring for shapes.
    num_states : int
        number of state arrays (2 for CUBA: current ``u`` and voltage ``v``).
    out_bits : int
        0 when ``out`` is binary spikes; the message width (bits) of graded output.
    resettable : bool
        whether a scheduled reset (``reset_interval``) zeroes this layer's state, as
        the Lava loader's reset does for this neuron type.
    """
    step: StepFn
    num_states: int = 2
    out_bits: int = 0
    resettable: bool = True

    def init_state(self, shape: Tuple[int, ...]) -> State:
        """Zero state for a batch: ``num_states`` int64 arrays of ``shape``."""
        return tuple(np.zeros(shape, np.int64) for _ in range(self.num_states))


# builder(layer, bias, is_input) -> NeuronStep.  ``bias`` is the layer's bias mantissa
# broadcast to ``layer.shape`` (file order, int64, truncated toward zero as the loader's
# ``astype(np.int32)``) or None; ``is_input`` is True for an input layer with neurons.
NeuronStepBuilder = Callable[[LayerSpec, Optional[np.ndarray], bool], NeuronStep]
NEURON_STEPS: Dict[str, NeuronStepBuilder] = {}


def register_neuron_step(*names: str) -> Callable[[NeuronStepBuilder], NeuronStepBuilder]:
    """Decorator: register how the emulator steps a NetX neuron type (upper-case names)."""
    def deco(fn: NeuronStepBuilder) -> NeuronStepBuilder:
        for n in names:
            NEURON_STEPS[n.upper()] = fn
        return fn
    return deco


@register_neuron_step("CUBA", "LOIHI")
def _cuba(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
    """CUBA-LIF exactly as the loader builds it on Lava: lava ``LIF`` fixed_pt with
    ``du = iDecay - 1``, ``dv = vDecay``, ``vth = vThMant``, ``bias_exp = 6``."""
    p = layer.neuron.params
    du, dv, vth = int(p["iDecay"]) - 1, int(p["vDecay"]), int(p["vThMant"])
    eff_bias = 0 if bias is None else fixed.scale_bias(bias, fixed.BIAS_EXP)

    def step(state: State, a_in: np.ndarray):
        u, v = state
        s, u, v = fixed.lif_step(u, v, a_in, du, dv, vth, eff_bias)
        return s, (u, v)

    return NeuronStep(step=step, num_states=2, out_bits=0, resettable=True)


@register_neuron_step("LIF", "TERNARY")
def _lif_family(layer: LayerSpec, bias: Optional[np.ndarray], is_input: bool) -> NeuronStep:
    """Our LIF family exactly as :class:`~loihi_snn.sim.lava.procs.lif.process.LIFVariant`
    computes it: :func:`loihi_snn.core.lif.lif_fixed_step` with the effective
    decays ``du = iDecay``, ``dv = vDecay``; TERNARY sends signed graded spikes."""
    from loihi_snn.sim.lava.loader import TERNARY_MESSAGE_BITS
    from loihi_snn.core.lif import lif_fixed_step

    p = layer.neuron.params
    du, dv, vth = int(p["iDecay"]), int(p["vDecay"]), int(p["vThMant"])
    reset = p.get("resetMode", "hard")
    ternary = layer.neuron.type == "TERNARY"
    eff_bias = 0 if bias is None else fixed.scale_bias(bias, fixed.BIAS_EXP)

    def step(state: State, a_in: np.ndarray):
        u, v = state
        s, u, v = lif_fixed_step(u, v, a_in, du, dv, vth, eff_bias, reset, ternary=ternary)
        return s, (u, v)

    return NeuronStep(step=step, num_states=2,
                      out_bits=TERNARY_MESSAGE_BITS if ternary else 0, resettable=True)

"""What a neuron family is: the record each ``families/<type>.py`` module fills in.

A family is everything loihi_snn knows about one kind of neuron, in one place:

- its NetX neuron type names and the validation of its ``/layer/<i>/neuron`` fields;
- its integer step as the emulator (and so the fused Lava process) calls it;
- its Lava process (a builder that imports Lava lazily);
- its message width, whether scheduled / controller resets apply, Loihi 2 placement;
- the torch side: the training-config name, default and accepted parameters and which
  block library builds it (``"slayer-cuba"``: lava-dl's ``slayer.block.cuba``;
  ``"loihi-snn"``: :mod:`loihi_snn.torch.blocks`).

Everything here is plain data and numpy; nothing imports Lava or torch at import time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core.spec import FieldChecker, LayerSpec

State = Tuple[np.ndarray, ...]
StepFn = Callable[[State, np.ndarray], Tuple[np.ndarray, State]]
RunFn = Callable[[State, np.ndarray], Tuple[np.ndarray, State]]

#: Neuron parameters every family's training config starts from (float, weight units;
#: decays are fractions per step, the surrogate's ``tau_grad`` / ``scale_grad`` as SLAYER
#: defines them).  Defined once; ``train.config`` presets and the families use it.
DEFAULT_NEURON_PARAMS: Dict[str, Any] = {
    "threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
    "tau_grad": 0.03, "scale_grad": 3.0,
}


@dataclass(frozen=True)
class NeuronStep:
    """Integer dynamics of one layer's neurons, as the emulator calls them.

    Attributes
    ----------
    step : callable
        ``step(state, a_in) -> (out, state)``.  ``a_in`` has shape ``(N, *layer.shape)``
        (file order, batch first): what the Lava neuron receives on ``a_in`` at that
        step (weight mantissas summed, after the synapse's weight exponent), or the
        network input for an input layer.  ``out`` is a boolean / 0-1 array for binary
        spikes, integers for graded spikes.  Raw Loihi integers, ``int64``.
    num_states : int
        number of state arrays (2 for the LIF family: current ``u`` and voltage ``v``).
    out_bits : int
        0 when ``out`` is binary spikes; the message width (bits) of graded output.
    resettable : bool
        whether a scheduled reset (``reset_interval``) zeroes this layer's state, as
        the Lava loader's reset does for this neuron type.
    run : callable, optional
        ``run(state, a_block) -> (out_block, state)``: ``T`` steps at once, exactly
        ``T`` calls of ``step`` (``a_block`` ``(T, N, *layer.shape)``, ``out_block``
        ``(T, N, *layer.shape)``); the emulator uses it between two resets when
        nothing needs the state of each step.  None: the emulator calls ``step``.
    """
    step: StepFn
    num_states: int = 2
    out_bits: int = 0
    resettable: bool = True
    run: Optional[RunFn] = None

    def init_state(self, shape: Tuple[int, ...]) -> State:
        """Zero state for a batch: ``num_states`` int64 arrays of ``shape``."""
        return tuple(np.zeros(shape, np.int64) for _ in range(self.num_states))


@dataclass(frozen=True)
class LavaNeuron:
    """What a family's Lava builder returns: the process and its output message bits."""
    process: Any
    out_bits: int = 0


@dataclass(frozen=True)
class TrainingFamily:
    """How a training config (``neuron["type"]``) builds torch blocks of a family.

    Attributes
    ----------
    name : str
        value of ``neuron["type"]`` in a config (``"cuba"``, ``"lif"``, ``"lif-asa"``).
    description : str
        one line for help and error messages.
    blocks : str or callable
        block library: ``"slayer-cuba"``, ``"loihi-snn"`` or ``"loihi-snn-rf"``
        (``loihi_snn.train.models.BLOCK_LIBRARIES``), or a ``make_block(kind,
        neuron_params, **slayer_kwargs) -> torch.nn.Module`` of your own.
    defaults : dict
        neuron parameters filled in when a config leaves them out.
    allowed_params : tuple of str, optional
        parameter names accepted (None: anything).
    asa_conv : bool
        conv layers get an ASA gate (:class:`loihi_snn.torch.blocks.ASAConv`).
    """
    name: str
    description: str
    blocks: Any
    defaults: Dict[str, Any] = field(default_factory=dict)
    allowed_params: Optional[Tuple[str, ...]] = None
    asa_conv: bool = False


# (layer, shape_lava, bias, precision, reset, is_input, controlled) -> LavaNeuron;
# ``shape_lava`` the layer's shape in Lava order, ``reset`` (interval, phase) or None
LavaBuilder = Callable[..., LavaNeuron]
# (layer, bias, is_input) -> NeuronStep; ``bias`` is the layer's bias mantissa broadcast
# to ``layer.shape`` (file order, int64, truncated toward zero) or None
StepBuilder = Callable[[LayerSpec, Optional[np.ndarray], bool], NeuronStep]
# (checker, raw neuron dict) -> validated params dict; ``checker`` is the schema's
# field checker (``scalar``, ``flag``, ``fail``), its errors name file, layer and field
Validator = Callable[[FieldChecker, Dict[str, Any]], Dict[str, Any]]


@dataclass(frozen=True)
class NeuronFamily:
    """One neuron type, registered once (see :mod:`loihi_snn.families`).

    Attributes
    ----------
    netx_types : tuple of str
        upper-case NetX ``neuron/type`` values this family reads (first = the one written).
    description : str
        one line for ``info`` and error messages.
    validate : callable
        checks and normalises the ``/layer/<i>/neuron`` fields (see :data:`Validator`).
    lava : callable
        builds the Lava neuron process (see :data:`LavaBuilder`); imports Lava lazily.
    emulator_step : callable, optional
        the integer step for the emulator and the fused Lava process; None when the
        emulator cannot run this type (runs then need a per-layer Lava backend).
    float_ok : bool
        whether a ``floating_pt`` (``lava-float``) network can be built.
    controllable : bool
        whether the cutoff controller can reset these neurons between samples (so
        ``run_cutoff`` / ``run_many`` on Lava can stream them).
    on_chip : bool
        lava-loihi has a NeuroCore model for it (others need microcode or the CPUs).
    neurons_per_core : int
        ESTIMATE of neurons per Loihi 2 NeuroCore (see :mod:`loihi_snn.core.constants`).
    training : tuple of TrainingFamily
        the training-config names that build this family.
    complex_input : bool
        the neurons take a complex input (real and imaginary ``a_in``, e.g. resonate-and-
        fire): their layer is a complex dense synapse (``dense_comp`` or ``dense`` with
        ``weight/real`` and ``weight/imag``), and the emulator step receives ``a_in``
        of shape ``(N, 2, *layer.shape)`` (real, imaginary).
    """
    netx_types: Tuple[str, ...]
    description: str
    validate: Validator
    lava: LavaBuilder
    emulator_step: Optional[StepBuilder] = None
    float_ok: bool = True
    controllable: bool = True
    on_chip: bool = False
    neurons_per_core: int = 4096
    training: Tuple[TrainingFamily, ...] = ()
    complex_input: bool = False

    @property
    def name(self) -> str:
        """The NetX type this family writes (first of ``netx_types``)."""
        return self.netx_types[0]

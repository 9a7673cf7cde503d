"""Batched bit-exact emulator of Lava fixed-point NetX networks (numpy, no Lava runtime).

- :func:`emulate` -- run a ``.net`` file on a batch ``(N, *input_shape, T)`` and get
  exactly what per-layer Lava ``fixed_pt`` returns for each sample.
- :class:`Emulator` -- the compiled network: ``init_state(batch)``, ``step(state, x, t)``
  (what the fused LoihiProtocol process calls every step), ``run_block(state, x, t)``
  (T steps at once, layer by layer: what ``run`` and the standalone fused process use)
  and ``run(x, steps)``.
- :data:`NEURON_STEPS` / :func:`register_neuron_step` -- neuron arithmetic per NetX
  neuron type (CUBA/LOIHI -> :func:`loihi_snn.core.fixed.lif_step`).

Numerics: numpy only (no torch, no Lava runtime): ``int64`` state; synaptic sums by
BLAS in float32/float64, chosen per call so that every partial sum is exact (bounded
below 2**24 / 2**53), else int64.
"""
from loihi_snn.sim.emulator.network import (  # noqa: F401
    Emulator, EmulatorState, UnsupportedByEmulator, emulate, is_graded,
)
from loihi_snn.sim.emulator.neurons import NEURON_STEPS, NeuronStep, register_neuron_step  # noqa: F401

__all__ = ["emulate", "Emulator", "EmulatorState", "UnsupportedByEmulator", "NEURON_STEPS",
           "NeuronStep", "register_neuron_step", "is_graded"]

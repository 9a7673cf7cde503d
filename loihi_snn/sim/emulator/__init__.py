"""Batched bit-exact emulator of Lava fixed-point NetX networks (numpy, no Lava runtime).

- :func:`emulate` -- run a ``.net`` file on a batch ``(N, *input_shape, T)`` and get
  exactly what per-layer Lava ``fixed_pt`` returns for each sample.
- :class:`Emulator` -- the compiled network: ``init_state(batch)``, ``step(state, x, t)``
  (what the fused LoihiProtocol process calls every step), ``run_block(state, x, t)``
  (T steps at once, layer by layer: what ``run`` and the standalone fused process use)
  and ``run(x, steps)``.
- the neuron arithmetic of each layer is its family's step (:mod:`loihi_snn.families`,
  ``NeuronFamily.emulator_step``); a new neuron type registers there, nowhere here.

Numerics: numpy only (no torch, no Lava runtime): ``int64`` state; synaptic sums by
BLAS in float32/float64, chosen per call so that every partial sum is exact (bounded
below 2**24 / 2**53), else int64.
"""
from loihi_snn.sim.emulator.network import (  # noqa: F401
    Emulator, EmulatorState, UnsupportedByEmulator, emulate, is_graded,
)

__all__ = ["emulate", "Emulator", "EmulatorState", "UnsupportedByEmulator", "is_graded"]

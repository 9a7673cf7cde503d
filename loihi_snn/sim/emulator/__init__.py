"""Batched bit-exact emulator of Lava fixed-point NetX networks (numpy, no Lava runtime).

- :func:`emulate` -- run a ``.net`` file on a batch ``(N, *input_shape, T)`` and get
  exactly what per-layer Lava ``fixed_pt`` returns for each sample.
- :class:`Emulator` -- the compiled network: ``init_state(batch)``, ``step(state, x, t)``
  (what the fused LoihiProtocol process calls every step), ``run_block(state, x, t)``
  (T steps at once, layer by layer: what ``run`` and the standalone fused process use)
  and ``run(x, steps)``.
- the neuron arithmetic of each layer is its family's step (:mod:`loihi_snn.families`,
  ``NeuronFamily.emulator_step``); a new neuron type registers there, nowhere here.

Numerics (no Lava runtime): numpy by default, or torch tensors on a device
(``emulate(..., device="cpu"|"cuda")``, :mod:`~loihi_snn.sim.emulator.backend`).  The
neuron arithmetic is :mod:`loihi_snn.core` on ``float64`` arrays holding the Loihi
integers (exact; ``arithmetic="int64"`` runs the integer reference instead, same
results); synaptic sums are float32 GEMM / conv where a per-synapse bound (fan-in x
max|weight| x max|input| < 2**24) proves them exact, else exact int64 sums.
``emulate`` reuses the compiled network of a file while the file is unchanged.
"""
from loihi_snn.sim.emulator.network import (  # noqa: F401
    Emulator, EmulatorState, UnsupportedByEmulator, emulate, is_graded,
)

__all__ = ["emulate", "Emulator", "EmulatorState", "UnsupportedByEmulator", "is_graded"]

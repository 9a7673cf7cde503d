"""Process models of FusedNetwork and FusedRun: one Python process runs the emulator.

- ``PyFusedNetworkModelFixed`` (``LoihiProtocol``, ports): one :meth:`Emulator.step`
  per Lava time step, for composition with other processes;
- ``PyFusedRunModelAsync`` (``AsyncProtocol``, no ports): the standalone run, all
  steps of a ``run`` call in blocks (:meth:`Emulator.run_block`), no per-step handshake.

There is no floating-point model: the emulator is Loihi integer arithmetic, so a
``floating_pt`` run config cannot select this process (use the per-layer network
with backend ``lava-float`` for float dynamics).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyAsyncProcessModel, PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.async_protocol import AsyncProtocol
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.sim.lava.procs.fused.process import FusedNetwork, FusedRun


@implements(proc=FusedNetwork, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyFusedNetworkModelFixed(PyLoihiProcessModel):
    """Batch-of-one emulator state; ``run_spk`` = one :meth:`Emulator.step`."""

    inp: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.emulator = proc_params["emulator"]
        self.state = self.emulator.init_state(1)

    def run_spk(self) -> None:
        x = self.inp.recv()
        if x.ndim == 3:                       # Lava (W, H, C) -> file (C, H, W)
            x = x.transpose(2, 1, 0)
        y = self.emulator.step(self.state, x[None], self.time_step)[0]
        if y.ndim == 3:
            y = y.transpose(2, 1, 0)
        self.out.send(y.astype(np.int32))


@implements(proc=FusedRun, protocol=AsyncProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyFusedRunModelAsync(PyAsyncProcessModel):
    """Standalone fused run: ``run_async`` advances ``num_steps`` steps in blocks
    (:meth:`Emulator.run_block`) and writes the output into the shared buffer."""

    steps_done: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self.emulator = proc_params["emulator"]
        self.data = proc_params["data"]              # (T, B, *in)
        self.out = proc_params["out"]                # (steps, B, *out) int32, shared memory
        self.state = self.emulator.init_state(self.data.shape[1])

    def run_async(self) -> None:
        t = int(self.steps_done[0])
        end = t + int(self.num_steps)
        if end > self.out.shape[0]:
            raise ValueError(f"FusedRun was built for {self.out.shape[0]} steps; running to "
                             f"step {end} would exceed it (pass steps= to FusedRun)")
        block = self.emulator.block_steps(self.data.shape[1])
        while t < end:
            k = min(block, end - t)
            x = self.data[t:t + k]
            if x.shape[0] < k:                       # input beyond T is zero
                x = np.concatenate([x, np.zeros((k - x.shape[0],) + self.data.shape[1:],
                                                self.data.dtype)])
            self.out[t:t + k] = self.emulator.run_block(self.state, x, t + 1)
            t += k
        self.steps_done[0] = t

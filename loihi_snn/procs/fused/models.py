"""Process model of FusedNetwork: one Python process steps the emulator (fixed_pt).

There is no floating-point model: the emulator is Loihi integer arithmetic, so a
``floating_pt`` run config cannot select this process (use the per-layer network
with backend ``lava-float`` for float dynamics).
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.procs.fused.process import FusedNetwork


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

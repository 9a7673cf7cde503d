"""Process models of GroupSum (floating_pt and fixed_pt)."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.sim.lava.procs.average.process import GroupSum


def group_sum(x: np.ndarray, num_outputs: int) -> np.ndarray:
    """(num_outputs * g,) -> (num_outputs,) sums over consecutive groups of g."""
    return x.reshape(num_outputs, -1).sum(axis=1)


class _AbstractGroupSumModel(PyLoihiProcessModel):
    a_in = None
    s_out = None

    def run_spk(self) -> None:
        x = self.a_in.recv()
        self.s_out.send(group_sum(x, self.proc_params["num_outputs"]))


@implements(proc=GroupSum, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGroupSumModelFloat(_AbstractGroupSumModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)


@implements(proc=GroupSum, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyGroupSumModelFixed(_AbstractGroupSumModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)

"""Process models of Gather (floating_pt and fixed_pt): the same index copy."""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.sim.lava.procs.gather.process import Gather


class _AbstractGatherModel(PyLoihiProcessModel):
    a_in = None
    a_out = None
    index = None

    def run_spk(self) -> None:
        x = np.asarray(self.a_in.recv()).reshape(-1)
        idx = np.asarray(self.index).astype(np.int64)
        out = np.zeros(idx.size, dtype=x.dtype)
        keep = idx >= 0
        out[keep] = x[idx[keep]]
        self.a_out.send(out.reshape(self.proc_params["out_shape"]))


@implements(proc=Gather, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGatherModelFloat(_AbstractGatherModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    index: np.ndarray = LavaPyType(np.ndarray, np.int64)


@implements(proc=Gather, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyGatherModelFixed(_AbstractGatherModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    index: np.ndarray = LavaPyType(np.ndarray, np.int64)

"""Models of StreamSource and CutoffController (floating_pt and fixed_pt).

The decision is :func:`loihi_snn.core.cutoff.decide`, the same function the offline
analysis uses.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.core.cutoff import decide
from loihi_snn.sim.lava.procs.cutoff.process import CutoffController, StreamSource


class _AbstractSource(PyLoihiProcessModel):
    advance_in = None
    s_out = None
    data = None
    sample: np.ndarray = LavaPyType(np.ndarray, np.int64)
    t: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        if self.advance_in.recv()[0]:
            self.sample[0] += 1
            self.t[0] = 0
        n, t = int(self.sample[0]), int(self.t[0])
        if n < self.data.shape[0] and t < self.data.shape[-1]:
            frame = self.data[n, ..., t]
        else:
            frame = np.zeros(self.data.shape[1:-1], self.data.dtype)
        self.t[0] += 1
        self.s_out.send(frame)


@implements(proc=StreamSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyStreamSourceFloat(_AbstractSource):
    advance_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    data: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=StreamSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStreamSourceFixed(_AbstractSource):
    advance_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32)
    data: np.ndarray = LavaPyType(np.ndarray, np.int32)


class _AbstractController(PyLoihiProcessModel):
    s_in = None
    reset_out = None
    advance_out = None
    counts = None
    beta: np.ndarray = LavaPyType(np.ndarray, float)
    t: np.ndarray = LavaPyType(np.ndarray, np.int64)
    flag: np.ndarray = LavaPyType(np.ndarray, np.int64)
    num_done: np.ndarray = LavaPyType(np.ndarray, np.int64)
    results: np.ndarray = LavaPyType(np.ndarray, np.int64)

    def run_spk(self) -> None:
        flag = np.array([int(self.flag[0])])
        self.reset_out.send(flag)          # decision of the previous step first:
        self.advance_out.send(flag)        # the loop never waits on itself
        spikes = self.s_in.recv()
        p = self.proc_params
        if self.num_done[0] >= p["num_samples"]:
            self.flag[0] = 0
            return
        if flag[0]:
            self.counts[:] = 0
            self.t[0] = 0
            self.flag[0] = 0
        self.t[0] += 1
        self.counts[:] = self.counts + spikes
        scaled = self.counts * p["output_scale"]
        t = int(self.t[0])
        if decide(scaled, t, self.beta, p["max_steps"]):
            k = int(self.num_done[0])
            self.results[k, 0] = int(np.argmax(scaled))
            self.results[k, 1] = t
            self.num_done[0] = k + 1
            self.flag[0] = 1


@implements(proc=CutoffController, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyCutoffControllerFloat(_AbstractController):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    reset_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    advance_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    counts: np.ndarray = LavaPyType(np.ndarray, float)


@implements(proc=CutoffController, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyCutoffControllerFixed(_AbstractController):
    s_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)
    reset_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32)
    advance_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32)
    counts: np.ndarray = LavaPyType(np.ndarray, np.int64)

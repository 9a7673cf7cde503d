"""Process models of ASAGate: bit-accurate fixed_pt and floating_pt.

Both call the single definition in :mod:`loihi_snn.core.asa` after turning
Lava's (W, H, C) layout into the (C, H, W) layout of those functions.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.core import asa as af
from loihi_snn.sim.lava.procs.asa.process import ASAGate


def _chw(x: np.ndarray) -> np.ndarray:
    return np.transpose(x, (2, 1, 0))


@implements(proc=ASAGate, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyASAGateModelFixed(PyLoihiProcessModel):
    """Integer gate: ``a_out = asa_gate_fixed(a_in)`` in the same step."""
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    important: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    weight_imp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    weight_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    bias_imp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    sigmoid_table: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)

    def run_spk(self) -> None:
        a = _chw(np.asarray(self.a_in.recv()).astype(np.int64))
        y = af.asa_gate_fixed(a, self.important.astype(bool),
                              self.weight_imp.astype(np.int64), int(self.bias_imp[0]),
                              self.weight_sub.astype(np.int64), int(self.bias_sub[0]),
                              self.proc_params["sigmoid_shift"],
                              self.sigmoid_table.astype(np.int64))
        self.a_out.send(_chw(y).astype(np.int32))


@implements(proc=ASAGate, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyASAGateModelFloat(PyLoihiProcessModel):
    """Float gate: real mean / max / conv / sigmoid on ``a_in / 64``; sends ``64 * Y``."""
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    important: np.ndarray = LavaPyType(np.ndarray, float)
    weight_imp: np.ndarray = LavaPyType(np.ndarray, float)
    weight_sub: np.ndarray = LavaPyType(np.ndarray, float)
    bias_imp: np.ndarray = LavaPyType(np.ndarray, float)
    bias_sub: np.ndarray = LavaPyType(np.ndarray, float)
    sigmoid_table: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        x = _chw(np.asarray(self.a_in.recv(), dtype=np.float64)) / af.W_SCALE
        y = af.asa_gate_float(x, (self.important > 0.5).astype(np.float64),
                              self.weight_imp / af.W_SCALE, self.bias_imp[0] / af.B_SCALE,
                              self.weight_sub / af.W_SCALE, self.bias_sub[0] / af.B_SCALE)
        self.a_out.send(_chw(y * af.W_SCALE))

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


def _params(model) -> dict:
    """The gate's parameters (Vars + process params) as :func:`af.gate_params` keys."""
    return {"split": model.proc_params["split"],
            "num_important": model.proc_params["num_important"],
            "important": np.asarray(model.important).astype(np.int64),
            "weight_imp": np.asarray(model.weight_imp).astype(np.int64),
            "weight_sub": np.asarray(model.weight_sub).astype(np.int64),
            "bias_imp": int(np.asarray(model.bias_imp).reshape(-1)[0]),
            "bias_sub": int(np.asarray(model.bias_sub).reshape(-1)[0]),
            "sigmoid_shift": model.proc_params["sigmoid_shift"],
            "score_weight": np.asarray(model.score_weight).astype(np.int64),
            "score_bias": np.asarray(model.score_bias).astype(np.int64)}


@implements(proc=ASAGate, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyASAGateModelFixed(PyLoihiProcessModel):
    """Integer gate: ``a_out = apply_gate_fixed(a_in)`` in the same step."""
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    a_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    important: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=1)
    weight_imp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    weight_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    bias_imp: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    bias_sub: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    score_weight: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)
    score_bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    sigmoid_table: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=9)

    def run_spk(self) -> None:
        a = _chw(np.asarray(self.a_in.recv()).astype(np.int64))
        y = af.apply_gate_fixed(a, _params(self), self.sigmoid_table.astype(np.int64))
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
    score_weight: np.ndarray = LavaPyType(np.ndarray, float)
    score_bias: np.ndarray = LavaPyType(np.ndarray, float)
    sigmoid_table: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        x = _chw(np.asarray(self.a_in.recv(), dtype=np.float64)) / af.W_SCALE
        y = af.apply_gate_float(x, _params(self))
        self.a_out.send(_chw(y * af.W_SCALE))

"""Process models of LIFVariant: floating_pt and bit-accurate fixed_pt.

Both call the single definition of the dynamics in loihi_snn.core.lif.
"""
from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.core import fixed
from loihi_snn.core.lif import LIFParams, lif_fixed_step, lif_float_step
from loihi_snn.families.lava.lif_variant.process import ControlledLIFVariant, LIFVariant


class _ResetMixin:
    #: steps before the current sample's first step: 0 until a controller reset, then
    #: ``t_reset - 1`` (the scheduled reset counts the sample's own steps, from 1)
    _sample_origin = 0

    def _maybe_reset(self) -> None:
        interval = self.proc_params["reset_interval"]
        t = self.time_step - self._sample_origin
        if interval > 0 and t % interval == self.proc_params["reset_offset"] % interval:
            self.u[:] = 0
            self.v[:] = 0

    def _receive(self):
        """This step's input, after a controller reset if one is signalled."""
        a_in = self.a_in.recv()
        reset_in = getattr(self, "reset_in", None)
        if reset_in is not None and reset_in.recv()[0]:
            self.u[:] = 0
            self.v[:] = 0
            self._sample_origin = self.time_step - 1
            if self.proc_params["drop_input_on_reset"]:
                a_in = a_in * 0
        return a_in


class _AbstractLIFVariantFloat(_ResetMixin, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    u: np.ndarray = LavaPyType(np.ndarray, float)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    du: np.ndarray = LavaPyType(np.ndarray, float)
    dv: np.ndarray = LavaPyType(np.ndarray, float)
    vth: np.ndarray = LavaPyType(np.ndarray, float)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, float)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        a_in = self._receive()
        self._maybe_reset()
        p = LIFParams(self.du[0], self.dv[0], self.vth[0], self.bias_mant,
                      self.proc_params["reset_mode"],
                      self.proc_params["spike_mode"] == "ternary")
        s, u, v = lif_float_step(self.u, self.v, a_in, p)
        self.u[:] = u
        self.v[:] = v
        self.s_out.send(s.astype(float))


class _AbstractLIFVariantFixed(_ResetMixin, PyLoihiProcessModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    u: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    v: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=24)
    du: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    dv: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=13)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=17)
    bias_mant: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=13)
    bias_exp: np.ndarray = LavaPyType(np.ndarray, np.int16, precision=3)

    def run_spk(self) -> None:
        a_in = self._receive().astype(np.int64)
        self._maybe_reset()
        bias = fixed.scale_bias(self.bias_mant.astype(np.int64), int(self.bias_exp.flat[0]))
        p = LIFParams(int(self.du[0]), int(self.dv[0]), int(self.vth[0]), bias,
                      self.proc_params["reset_mode"],
                      self.proc_params["spike_mode"] == "ternary")
        s, u, v = lif_fixed_step(self.u.astype(np.int64), self.v.astype(np.int64), a_in, p)
        self.u[:] = u
        self.v[:] = v
        self.s_out.send(s.astype(np.int32))


@implements(proc=LIFVariant, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLIFVariantModelFloat(_AbstractLIFVariantFloat):
    pass


@implements(proc=LIFVariant, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyLIFVariantModelFixed(_AbstractLIFVariantFixed):
    pass


@implements(proc=ControlledLIFVariant, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyControlledLIFVariantModelFloat(_AbstractLIFVariantFloat):
    reset_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)


@implements(proc=ControlledLIFVariant, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt", "bit_accurate_loihi")
class PyControlledLIFVariantModelFixed(_AbstractLIFVariantFixed):
    reset_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

"""Test-only Lava process whose model fails or hangs on purpose.

Lives in a folder of its own because Lava scans every ``.py`` file in a Process's
directory for models.  ``Failing`` passes its input through unchanged (shape
``(n,)``, int32 values) until step ``fail_at``; then, depending on ``mode``:

- ``"raise"``: ``run_spk`` raises ``ValueError(message + " at step <t>")``;
- ``"hang"``: ``run_spk`` blocks for ``hang_s`` seconds (default: an hour) without
  sending anything, the way a deadlocked model looks to the runtime;
- ``"exit"``: the model's OS process exits at once (``os._exit(3)``), as if killed;
- ``"spin"``: ``run_spk`` computes for ``hang_s`` seconds without sending anything (a
  model busy in a loop that never finishes its step).
"""
from __future__ import annotations

import os
import time

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

MODES = ("raise", "hang", "exit", "spin")


class Failing(AbstractProcess):
    """Pass-through of ``n`` int32 values per step that fails at step ``fail_at``."""

    def __init__(self, *, n: int, fail_at: int = 3, mode: str = "raise",
                 message: str = "deliberate failure", hang_s: float = 3600.0) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        super().__init__(shape=(n,), fail_at=fail_at, mode=mode, message=message,
                         hang_s=hang_s)
        self.a_in = InPort(shape=(n,))
        self.s_out = OutPort(shape=(n,))
        self.count = Var(shape=(1,), init=0)


class _FailingModel(PyLoihiProcessModel):
    a_in = None
    s_out = None
    count = None

    def run_spk(self) -> None:
        p = self.proc_params
        if self.time_step >= p["fail_at"]:
            if p["mode"] == "raise":
                raise ValueError(f"{p['message']} at step {self.time_step}")
            if p["mode"] == "hang":
                time.sleep(p["hang_s"])
            if p["mode"] == "exit":
                os._exit(3)
            if p["mode"] == "spin":
                end = time.monotonic() + p["hang_s"]
                while time.monotonic() < end:
                    sum(range(1000))
        x = self.a_in.recv()
        self.count[0] += 1
        self.s_out.send(x)


@implements(proc=Failing, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyFailingModelFixed(_FailingModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    count: np.ndarray = LavaPyType(np.ndarray, np.int32)


@implements(proc=Failing, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyFailingModelFloat(_FailingModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    count: np.ndarray = LavaPyType(np.ndarray, int)

"""A backend added by one module, with no edit anywhere else: ``emulator-int64``.

The emulator's integer reference arithmetic (``arithmetic="int64"``: every sum and state
in int64) offered as a backend of its own.  ``register_int64_backend()`` adds it to
:mod:`loihi_snn.sim.runtime.backends`; tests remove it with ``unregister``.
"""
from __future__ import annotations

from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.runtime import backends
from loihi_snn.sim.runtime.backends import Backend
from loihi_snn.sim.runtime.io import match_input_port

NAME = "emulator-int64"


def run_one(plan, opts):
    x = match_input_port(plan.x, plan.spec.input_shape)
    return emulate(plan.spec, x[None], plan.steps, input_message_bits=plan.input_message_bits,
                   arithmetic="int64")[0]


def run_many(plan, opts):
    return emulate(plan.spec, plan.x, plan.steps, input_message_bits=plan.input_message_bits,
                   arithmetic="int64")


BACKEND = Backend(name=NAME, description="the emulator's int64 reference arithmetic",
                  run_one=run_one, run_many=run_many, uses_lava=False)


def register_int64_backend() -> Backend:
    return backends.register(BACKEND, replace=True)

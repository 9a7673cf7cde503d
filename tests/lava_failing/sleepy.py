"""A test-only neuron family whose dynamics never finish a step: ``SLEEPY``.

Registered by the stall tests (``register_sleepy()``), never by the package.  On the
per-layer Lava backends its neuron is :class:`failing.Failing` in ``"hang"`` mode (it
passes its input through, then sleeps in ``run_spk`` from step ``fail_at`` on); in the
emulator, and so in the fused Lava process, its step sleeps from the first call.  Both
look to Lava like a deadlocked model: every process waits, none uses the CPU.
"""
from __future__ import annotations

import time

import numpy as np

from loihi_snn import families
from loihi_snn.families import LavaNeuron, NeuronFamily, NeuronStep

SLEEP_S = 3600.0


def _validate(checker, raw):
    return {}


def _lava(layer, shape, bias, precision, reset, is_input, controlled=False):
    from failing import Failing          # lazy: imports Lava
    return LavaNeuron(Failing(n=int(np.prod(shape)), fail_at=2, mode="hang", hang_s=SLEEP_S))


def _step(layer, bias, is_input):
    def step(state, a_in):
        time.sleep(SLEEP_S)
        return a_in != 0, state
    return NeuronStep(step=step, num_states=1)


FAMILY = NeuronFamily(netx_types=("SLEEPY",), description="test only: never finishes a step",
                      validate=_validate, lava=_lava, emulator_step=_step)


def register_sleepy() -> NeuronFamily:
    """Register ``SLEEPY`` (idempotent)."""
    return families.register(FAMILY, replace=True)

"""Backend ``emulator``: the batched bit-exact emulator, no Lava process.

One sample is a batch of one; ``run_many`` runs the whole batch at once, every sample
from a zero state (fresh runs, as the controller-streamed Lava backends give them);
``run_cutoff`` applies the controller's rule offline to those outputs (the same
decisions as the Lava cutoff controller).
"""
from __future__ import annotations

import time

import numpy as np

from loihi_snn.core.cutoff import NEVER, offline_cutoff
from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.runtime.backends.base import Backend, CutoffRequest, CutoffResult
from loihi_snn.sim.runtime.io import match_input_port


def run_one(plan, opts) -> np.ndarray:
    """One sample: :func:`~loihi_snn.sim.emulator.emulate` on a batch of one."""
    x = match_input_port(plan.x, plan.spec.input_shape)
    return emulate(plan.spec, x[None], plan.steps,
                   input_message_bits=plan.input_message_bits)[0]


def run_many(plan, opts) -> np.ndarray:
    """A batch (N, *input, T) at once; each sample a fresh run of ``plan.steps``."""
    return emulate(plan.spec, plan.x, plan.steps, input_message_bits=plan.input_message_bits)


def run_cutoff(plan, opts, request: CutoffRequest) -> CutoffResult:
    """Every sample emulated from a zero state for ``max_steps`` (as the controller's
    reset gives), then the controller's rule applied offline
    (:func:`~loihi_snn.core.cutoff.offline_cutoff`: the same decisions on the same output
    spikes).  ``total_steps`` counts the sample-steps emulated (N x max_steps)."""
    t0 = time.perf_counter()
    X, max_steps = plan.x, request.max_steps
    out = emulate(plan.spec, X, max_steps, input_message_bits=plan.input_message_bits)
    flat = out.reshape(len(X), -1, max_steps)
    beta = np.full(max_steps, NEVER) if request.beta is None else request.beta
    preds, steps = offline_cutoff(flat, beta, max_steps)
    wall = time.perf_counter() - t0
    return CutoffResult(predictions=preds, steps=steps, total_steps=len(X) * max_steps,
                        wall_seconds=wall, outputs=out if request.record_output else None)


BACKENDS = (Backend(
    name="emulator",
    description="batched numpy emulator of lava-fixed without Lava (bit-exact, fastest)",
    run_one=run_one, run_many=run_many, run_cutoff=run_cutoff, uses_lava=False,
    takes_network=True),)

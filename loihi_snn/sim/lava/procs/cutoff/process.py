"""Streaming evaluation with early exit: a sample source and the cutoff controller.

Wiring (see :func:`loihi_snn.sim.runtime.cutoff_run.run_cutoff`)::

    StreamSource.s_out -> network -> CutoffController.s_in
    CutoffController.advance_out -> StreamSource.advance_in
    CutoffController.reset_out   -> every neuron's reset_in

At every step the controller first sends its previous step's decision (so the loop
has one step of latency and never deadlocks), then counts the output spikes and
decides.  On a decision made at step t, at t + 1 the source starts the next sample
and every neuron zeroes its state (neurons behind a synapse also drop the stale input
in flight), so the next sample starts exactly as in a fresh run.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class StreamSource(AbstractProcess):
    """Sends sample after sample on demand.

    Parameters
    ----------
    data : np.ndarray
        (N, *shape, T): N samples in Lava order, time last.  After a sample's T
        steps (and after the last sample) zeros are sent.

    Ports: ``advance_in`` (1,) -- a non-zero value starts the next sample this step;
    ``s_out`` (*shape) the current frame.
    """

    def __init__(self, *, data: np.ndarray, name: Optional[str] = None) -> None:
        super().__init__(num_samples=int(data.shape[0]), name=name)
        self.data = Var(shape=data.shape, init=data)
        self.sample = Var(shape=(1,), init=0)
        self.t = Var(shape=(1,), init=0)
        self.advance_in = InPort(shape=(1,))
        self.s_out = OutPort(shape=data.shape[1:-1])


class CutoffController(AbstractProcess):
    """Counts output spikes per sample and ends each sample by the Top-K rule.

    Parameters
    ----------
    num_classes : int
        size of the output layer.
    num_samples : int
        how many samples the source will send.
    max_steps : int
        steps after which a sample is decided regardless of the gap.
    beta : np.ndarray, optional
        (max_steps,) per-step thresholds on Top1 - Top2 of the cumulative counts;
        ``inf`` (the default) never stops early.
    output_scale : float
        multiplies the counts before deciding (a ternary output layer's amplitude).

    Vars: ``results`` (num_samples, 2) = (prediction, steps used) per sample, -1 until
    decided; ``num_done`` (1,) samples decided so far.
    """

    def __init__(self, *, num_classes: int, num_samples: int, max_steps: int,
                 beta: Optional[np.ndarray] = None, output_scale: float = 1.0,
                 name: Optional[str] = None) -> None:
        beta = np.full(max_steps, np.inf) if beta is None else np.asarray(beta, float)
        if beta.shape != (max_steps,):
            raise ValueError(f"beta must have shape ({max_steps},), got {beta.shape}")
        super().__init__(num_classes=num_classes, num_samples=num_samples,
                         max_steps=int(max_steps), output_scale=float(output_scale), name=name)
        self.s_in = InPort(shape=(num_classes,))
        self.reset_out = OutPort(shape=(1,))
        self.advance_out = OutPort(shape=(1,))
        self.beta = Var(shape=(max_steps,), init=beta)
        self.counts = Var(shape=(num_classes,), init=0)
        self.t = Var(shape=(1,), init=0)
        self.flag = Var(shape=(1,), init=0)
        self.num_done = Var(shape=(1,), init=0)
        self.results = Var(shape=(num_samples, 2), init=-1)

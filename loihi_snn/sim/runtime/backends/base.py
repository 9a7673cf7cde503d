"""What a backend is: the record each ``backends/<name>.py`` module fills in.

A backend runs a :class:`~loihi_snn.sim.runtime.plan.RunPlan` -- a network read and
checked once, with its input -- and returns what the public runners return.  It is a
record of plain functions, registered once in :mod:`loihi_snn.sim.runtime.backends`
the way neuron families are registered in :mod:`loihi_snn.families`; a new backend is a
new module with one :class:`Backend` (or a call of
:func:`~loihi_snn.sim.runtime.backends.register` from your own code).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np


@dataclass
class CutoffResult:
    """Per-sample decisions of a streamed run.

    ``predictions`` (N,) class indices; ``steps`` (N,) steps each sample used (1-based,
    counted from the sample's first step, including the network's latency);
    ``total_steps`` Lava steps executed; ``wall_seconds`` and ``steps_per_second``
    of the run itself (load and compile excluded); ``outputs`` (N, *output_shape, T)
    each sample's output spikes when recorded (``cutoff=False, record_output=True``).
    """
    predictions: np.ndarray
    steps: np.ndarray
    total_steps: int
    wall_seconds: float
    outputs: Optional[np.ndarray] = None

    @property
    def steps_per_second(self) -> float:
        return self.total_steps / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    @property
    def mean_steps(self) -> float:
        return float(np.mean(self.steps))


@dataclass(frozen=True)
class CutoffRequest:
    """What ``run_cutoff`` asks of a backend beside the plan: ``beta`` (max_steps,)
    thresholds or None (cutoff off), ``max_steps`` per sample, ``record_output``."""
    beta: Optional[np.ndarray]
    max_steps: int
    record_output: bool = False


# (plan, options) -> output, file order, time last: (*output, steps) for one sample
RunOne = Callable[[Any, Any], np.ndarray]
# (plan, options) -> (N, *output, T): each sample as a fresh single-sample run
RunMany = Callable[[Any, Any], np.ndarray]
# (plan, options, CutoffRequest) -> CutoffResult
RunCutoff = Callable[[Any, Any, CutoffRequest], CutoffResult]


@dataclass(frozen=True)
class Backend:
    """One way to run a network, registered once (:mod:`loihi_snn.sim.runtime.backends`).

    Attributes
    ----------
    name : str
        what ``backend=`` / ``--backend`` selects.
    description : str
        one line for ``--help`` and error messages.
    precision : {"fixed", "float"}
        the arithmetic: fixed point (inputs must be integers) or float.
    run_one : callable
        ``run_one(plan, options)`` -> one sample's output (:data:`RunOne`).
    run_many : callable, optional
        ``run_many(plan, options)`` for a batch plan (:data:`RunMany`); None: not
        offered (``run_many`` says which backends stream).
    run_cutoff : callable, optional
        ``run_cutoff(plan, options, request)`` (:data:`RunCutoff`): the early-exit
        stream; None when the backend has no controller (``offline_cutoff`` on
        ``run_many``'s output makes the same decisions).
    check_available : callable, optional
        raises a one-line BackendError saying what is missing (e.g. lava-loihi).
    uses_lava : bool
        the backend starts Lava processes (and so needs Lava installed).
    takes_network : bool
        ``run_one`` accepts a Network object from :func:`loihi_snn.load` in
        ``plan.network`` (else a path or spec is needed).
    """
    name: str
    description: str
    run_one: RunOne
    precision: str = "fixed"
    run_many: Optional[RunMany] = None
    run_cutoff: Optional[RunCutoff] = None
    check_available: Optional[Callable[[], None]] = None
    uses_lava: bool = True
    takes_network: bool = False

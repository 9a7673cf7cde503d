"""Run a network (a .net file, a NetSpec or a loaded Lava network) on one input.

``run`` plans the run once (:mod:`loihi_snn.sim.runtime.plan`: the file read and the
input checked) and hands the plan to the backend
(:mod:`loihi_snn.sim.runtime.backends`).  ``BACKENDS``, :func:`resolve_backend`,
:func:`precision_of`, :func:`check_backend` and :func:`run_config` answer questions
about backends by name for the CLI, ``eval`` and the bench.

The input ``x`` is in the network's file order with time last: (N, T) for a
dense input, (C, H, W, T) for an image input -- the layout SLAYER uses, without the
batch dimension.  The output comes back the same way: (N_out, T_out) or
(C, H, W, T_out).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Optional, Union

import numpy as np

from loihi_snn.core.args import check_flag
from loihi_snn.core.errors import BackendError
from loihi_snn.sim.runtime import backends
from loihi_snn.sim.runtime.backends.lava import run_config as lava_run_config
from loihi_snn.sim.runtime.io import MAX_RUN_BYTES  # noqa: F401  (the run-byte limit)
from loihi_snn.sim.runtime.lava_run import (RunOptions, check_timeout,  # noqa: F401
                                            stopping)
from loihi_snn.sim.runtime.plan import (check_network_argument, check_run_size,  # noqa: F401
                                        check_steps, plan_one)


class _Descriptions(Mapping):
    """name -> description of every registered backend and ``auto``: a live view of
    :mod:`loihi_snn.sim.runtime.backends` (a backend registered later shows up)."""

    def __getitem__(self, name: str) -> str:
        return backends.descriptions()[name]

    def __iter__(self):
        return iter(backends.names())

    def __len__(self) -> int:
        return len(backends.names())


#: name -> one-line description of every backend (the registry's, plus ``auto``)
BACKENDS: Mapping[str, str] = _Descriptions()


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``loihi2``, ``lava-fixed``, or ``emulator`` where Lava is not installed;
    a Lava backend without Lava, or ``loihi2`` without lava-loihi -> one-line BackendError.

    Every other valid name is returned unchanged.
    """
    return backends.get(backend).name


def precision_of(backend: str) -> str:
    """Backend name -> network precision used when loading ("fixed"/"float")."""
    return backends.get(backend, check=False).precision


def check_backend(backend: str) -> None:
    """BackendError (one line, listing the backends) unless ``backend`` is one of them."""
    backends.resolve_name(backend)


def run_config(backend: str):
    """The Lava run configuration for a backend name."""
    name = resolve_backend(backend)
    if not backends.REGISTRY[name].uses_lava:
        raise BackendError(f"backend '{name}' runs no Lava: it has no Lava run configuration")
    return lava_run_config("lava-fixed" if name == "lava-fused" else name)


def run(net_or_path: Union[str, os.PathLike, "object"], x: np.ndarray,
        steps: Optional[int] = None, backend: str = "lava-fixed", *,
        progress: Optional[bool] = None, timeout: Optional[float] = None,
        stall_timeout: Optional[float] = None) -> np.ndarray:
    """Run a network on one input and return its output spikes.

    Parameters
    ----------
    net_or_path : str or Network
        a NetX ``.net`` path (loaded for ``backend``) or a Network from
        :func:`loihi_snn.load` that has not been run yet.
    x : np.ndarray
        input with time last, in the network's file order: (N, T) or (C, H, W, T).
        Binary spikes, or integer graded values (sent as graded spikes).
    steps : int, optional
        number of time steps to run; defaults to T.  Input beyond T is zero.
    backend : {"lava-fixed", "lava-float", "lava-fused", "emulator"}
        see ``BACKENDS``.  ``lava-fused`` needs a path (then the run is one Lava
        process, :class:`~loihi_snn.sim.lava.procs.fused.process.FusedRun`) or a
        :class:`~loihi_snn.sim.lava.procs.fused.process.FusedNetwork` (run between a source
        and a sink, one Lava step at a time); ``emulator`` runs no Lava
        (a Network object passed to it is only read for its ``spec``).
        ``loihi2`` runs on Loihi 2 (BackendError without lava-loihi); ``auto`` is
        ``loihi2`` when lava-loihi is installed, else ``lava-fixed``, or ``emulator``
        where Lava is not installed (a Lava backend without Lava: one-line BackendError).
    progress : bool, optional
        show progress: a bar on a terminal, else plain lines on stderr (at the start,
        every 5 s and at the end); default: a bar when stderr is a terminal and
        steps >= 500 (a single run prints nothing else but its errors).
    timeout : float, optional
        wall-clock limit in seconds for the Lava part (compiling, running and
        stopping the processes; not loading the file).  A run past it is stopped and
        raises RunError saying how many steps were completed (the run goes in 20
        chunks when a timeout is given, so the count has that granularity).
    stall_timeout : float, optional
        seconds in which no Lava process uses the CPU (a deadlock) before the run ends
        as stalled (RunError, ``exc.stalled``); default ``$LOIHI_SNN_STALL_TIMEOUT`` or
        60 s.  Every Lava run has this deadline (see
        :mod:`loihi_snn.sim.runtime.guard`); it never ends a run that computes.

    Returns
    -------
    np.ndarray
        output of the last layer, file order, time last: (N_out, steps) or
        (C, H, W, steps).  Spikes are 0/1 (or signed/graded values for graded
        layers); an ``average`` output layer returns the population mean.

    Raises
    ------
    RunError
        a process model raised (the message names the process, the exception and
        its source line), a model process died, or the run timed out.  Lava runs in
        a supervised child process (:mod:`loihi_snn.sim.runtime.guard`): when this is
        raised every Lava process of the run has exited and its shared memory is freed.
    """
    check_flag(progress, "progress", allow_none=True)
    engine = backends.get(backend)
    opts = RunOptions(progress, timeout, stall_timeout).checked()
    plan = plan_one(net_or_path, x, steps, engine)    # the file is read here, once
    if plan.network is not None and not engine.takes_network:
        raise BackendError(f"backend '{engine.name}' needs a .net path or a NetSpec, not a "
                           f"loaded network")
    return engine.run_one(plan, opts)


# check_network_argument, check_steps and check_run_size live in plan (the run plan);
# check_timeout, stopping and the chunked supervised run in lava_run; they are offered
# here too, where the runners' users have always imported them.

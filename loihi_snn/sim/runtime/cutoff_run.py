"""Stream a whole test set through one Lava run, ending each sample by the cutoff rule.

``run_cutoff(path, X)`` loads the network with resettable neurons, feeds the samples
from a :class:`~loihi_snn.sim.lava.procs.cutoff.process.StreamSource` and lets a
:class:`~loihi_snn.sim.lava.procs.cutoff.process.CutoffController` decide when each sample is
done: each sample takes only the steps it needs.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from loihi_snn.core.args import check_flag, check_int
from loihi_snn.core.cutoff import cutoff_thresholds
from loihi_snn.core.errors import BackendError, OptionError, ShapeError
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.sim.runtime import backends
from loihi_snn.sim.runtime.backends.base import CutoffRequest, CutoffResult  # noqa: F401
from loihi_snn.sim.runtime.lava_run import RunOptions
from loihi_snn.sim.runtime.plan import plan_batch
from loihi_snn.sim.runtime.shard import check_workers, concat_cutoff, run_sharded


def stored_beta(spec, steps: Optional[int] = None) -> Optional[np.ndarray]:
    """The calibrated thresholds stored in a NetX file's ``/cutoff`` group, if any; at
    least ``steps`` of them (else one-line NetxFormatError, see
    :func:`loihi_snn.netx.calibration.load_calibration`)."""
    cal = load_calibration(spec, steps)
    return None if cal is None else cal.beta


def run_cutoff(path: str, X: np.ndarray, *, beta: Optional[np.ndarray] = None,
               cutoff: bool = True, max_steps: Optional[int] = None,
               backend: str = "lava-fixed", progress: Optional[bool] = None,
               record_output: bool = False, timeout: Optional[float] = None,
               stall_timeout: Optional[float] = None, workers: int = 1) -> CutoffResult:
    """Run N samples through one Lava run with the Top-K cutoff controller.

    Parameters
    ----------
    path : str
        NetX file with CUBA, LIF or TERNARY neurons and a 1-D output layer.
    X : np.ndarray
        (N, *input_shape, T) in file order, time last.
    beta : np.ndarray, optional
        (max_steps,) thresholds; default: the calibration stored in the file.
    cutoff : bool
        ``False`` runs every sample for ``max_steps`` (fixed-T inference).
    max_steps : int, optional
        per-sample step limit, default T.
    backend : {"lava-fixed", "lava-float", "loihi2", "emulator", "auto"}
        ``auto`` as in :func:`loihi_snn.run`.  ``emulator`` (and ``auto`` where Lava is
        not installed) emulates every sample and applies the controller's rule offline
        (the same decisions; ``total_steps`` counts N x max_steps).
    record_output : bool
        with ``cutoff=False``: also return every sample's output spikes, exactly those
        of a fresh single-sample run (sample n occupies steps n*T+1 .. (n+1)*T).
    timeout : float, optional
        wall-clock seconds for the whole Lava run (compile included); past it the run
        is stopped and :class:`~loihi_snn.core.errors.RunError` says how far it got.
    stall_timeout : float, optional
        the stall deadline of :func:`loihi_snn.run` (a run whose processes make no
        progress ends in RunError; default ``$LOIHI_SNN_STALL_TIMEOUT`` or 60 s).
    workers : int
        shard the samples over this many supervised Lava runs side by side
        (:mod:`loihi_snn.sim.runtime.shard`): the same decisions as one run;
        ``total_steps`` is the sum over the shards, ``wall_seconds`` the longest shard's.

    A file with ``layer_start = "first_input"`` runs every sample with each layer
    starting at its first input, as :func:`loihi_snn.run` runs one sample: the scheduled
    reset of :func:`loihi_snn.netx.lower.reset_schedule` counts each sample's own steps
    (the controller's reset restarts it).

    The run goes in a supervised child process (:mod:`loihi_snn.sim.runtime.guard`): a
    process model that fails ends it with a one-line RunError, never a hang, and no
    Lava process outlives the call.

    Returns
    -------
    CutoffResult
    """
    # every argument is checked before the file is read or Lava is imported
    engine = backends.get(backend)
    if engine.run_cutoff is None:
        able = ", ".join(n for n, b in backends.REGISTRY.items() if b.run_cutoff)
        raise BackendError(f"backend '{engine.name}' has no cutoff stream (backends with one: "
                           f"{able}); use offline_cutoff(run_many(path, X, backend="
                           f"'{engine.name}'), beta), which makes the same decisions")
    max_steps = check_int(max_steps, "max_steps", 1, allow_none=True)
    cutoff = check_flag(cutoff, "cutoff")
    record_output = check_flag(record_output, "record_output")
    check_flag(progress, "progress", allow_none=True)
    workers = check_workers(workers)
    opts = RunOptions(progress, timeout, stall_timeout).checked()
    if record_output and cutoff:
        raise OptionError("record_output=True needs cutoff=False (every sample then runs "
                          "max_steps)")
    plan = plan_batch(path, X, engine)           # the file is read here, once
    max_steps = plan.T if max_steps is None else max_steps
    if not cutoff:
        beta = None
    elif beta is None:
        beta = stored_beta(plan.spec, max_steps)
        if beta is None:
            raise ShapeError(f"{plan.path}: no calibrated thresholds stored in the file; pass "
                             f"beta=... or calibrate first (loihi_snn.core.cutoff.calibrate)")
    if beta is not None:
        # thresholds beyond the calibrated range never stop (as offline_cutoff)
        beta = cutoff_thresholds(beta, max_steps)
    request = CutoffRequest(beta=beta, max_steps=max_steps, record_output=record_output)
    if workers > 1 and engine.uses_lava:
        return concat_cutoff(run_sharded(lambda p: engine.run_cutoff(p, opts, request), plan,
                                         workers))
    return engine.run_cutoff(plan, opts, request)

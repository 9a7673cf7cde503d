"""Run many samples: one plan (:mod:`loihi_snn.sim.runtime.plan`), one backend call.

On Lava the samples stream through one run, the network reset between samples
(:mod:`loihi_snn.sim.runtime.backends.lava`, :mod:`~loihi_snn.sim.runtime.backends.fused`).

lava-fixed, lava-float (and loihi2) stream through the cutoff controller with the
cutoff off; lava-fused deals the samples to lanes of one process
(:mod:`loihi_snn.sim.runtime.backends.fused` describes its gaps and resets); the emulator
runs the batch at once.  Either way each sample equals a fresh single-sample run, spike
for spike.  A file that declares ``layer_start = "first_input"`` runs that way on every
backend (:func:`loihi_snn.netx.lower.reset_schedule`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from loihi_snn import families
from loihi_snn.core.args import check_flag
from loihi_snn.core.errors import BackendError, ShapeError
from loihi_snn.sim.runtime import backends
from loihi_snn.sim.runtime.backends.fused import FUSED_LANES, FUSED_LAYER_ELEMENTS  # noqa: F401
from loihi_snn.sim.runtime.lava_run import RunOptions
from loihi_snn.sim.runtime.plan import plan_batch
from loihi_snn.sim.runtime.shard import check_workers, concat_outputs, run_sharded


def run_many(path: str, X: np.ndarray, *, backend: str = "lava-fixed",
             progress: Optional[bool] = None, timeout: Optional[float] = None,
             stall_timeout: Optional[float] = None, workers: int = 1) -> np.ndarray:
    """Run every sample of ``X`` through one Lava run of the network at ``path``.

    Parameters
    ----------
    path : str
        NetX file whose neurons the cutoff controller can reset (``NeuronFamily.controllable``:
        CUBA/LOIHI, LIF, TERNARY; they are reset
        between samples).
    X : np.ndarray
        (N, *input_shape, T) in file order, time last; binary spikes or integers.
    backend : {"lava-fixed", "lava-float", "lava-fused", "emulator"}
        ``emulator`` runs the whole batch at once without Lava, every sample from a
        zero state (fresh runs).  ``loihi2`` (streamed like lava-fixed) and ``auto``
        as in :func:`loihi_snn.run`.
    timeout : float, optional
        wall-clock limit in seconds for the whole Lava run (compile, all samples,
        stop); past it the run is stopped and RunError says how many steps were
        completed.  Failing process models raise RunError as in :func:`loihi_snn.run`.
    stall_timeout : float, optional
        the stall deadline of :func:`loihi_snn.run` (a run whose processes make no
        progress ends in RunError; default ``$LOIHI_SNN_STALL_TIMEOUT`` or 60 s).
    workers : int
        shard the samples over this many supervised Lava runs side by side (threads of
        this process, one Lava run each; :mod:`loihi_snn.sim.runtime.shard`); the result
        equals one run's.

    Returns
    -------
    np.ndarray
        (N, *output_shape, T): each sample's output over its own T steps, aligned as
        :func:`loihi_snn.run` aligns a single sample (and as SLAYER's ``delay_shift``
        forward does).  lava-fixed, lava-float and loihi2 stream through the cutoff
        controller with the cutoff off (:func:`~loihi_snn.sim.runtime.cutoff_run.run_cutoff`),
        which equals fresh single-sample runs for every network; with lava-fused
        samples are separated by a silent gap and staggered resets, and the first
        steps, which no input can reach yet, are zeroed.
    """
    check_flag(progress, "progress", allow_none=True)
    workers = check_workers(workers)
    engine = backends.get(backend)
    opts = RunOptions(progress, timeout, stall_timeout).checked()
    plan = plan_batch(path, X, engine)           # the file is read here, once
    if engine.run_many is None:
        raise BackendError(f"backend '{engine.name}' does not stream many samples; use "
                           f"one of {', '.join(n for n, b in backends.REGISTRY.items() if b.run_many)}")
    if engine.uses_lava and engine.name != "lava-fused":
        # the per-layer Lava streams reset the neurons between samples (the controller's
        # reset): every layer's neurons must be resettable (lava-fused runs such a
        # network one fresh lane per sample)
        spec = plan.spec
        bad = [l.index for l in spec.layers
               if l.neuron is not None and not families.get(l.neuron.type).controllable]
        if bad:
            resettable = ", ".join(t for t in families.netx_types()
                                   if families.get(t).controllable)
            raise ShapeError(f"{plan.path}: streaming resets {resettable} neurons only; "
                             f"layers {bad} are not (run them with backend 'lava-fused' or "
                             f"'emulator')")
    if workers > 1 and engine.uses_lava:
        return concat_outputs(run_sharded(lambda p: engine.run_many(p, opts), plan, workers))
    return engine.run_many(plan, opts)

"""Stream many samples through one Lava run, resetting the network between samples.

lava-fixed, lava-float (and loihi2) stream through the cutoff controller with the
cutoff off (:func:`~loihi_snn.sim.runtime.cutoff_run.run_cutoff`).  lava-fused holds
the whole stream in one process: the samples are dealt to up to ``FUSED_LANES``
independent copies of the network ("lanes", stepped as one batch), and in each lane
every sample of T steps is followed by a gap of ``latency + 1`` silent steps, and
every layer's state is zeroed just before the first input of the next sample reaches
it (layer i of a network whose synapses each add one step of latency receives the
lane's sample p first at step ``p * interval + 2 + i``); a network with recurrent
synapses, or with a bias (its neurons integrate before the first input arrives, which
a fresh run keeps and a staggered reset would erase), gets one lane per sample and no
reset: each lane is a fresh run.  Either way the result per
sample equals a fresh single-sample run, spike for spike, at a fraction of the
start-up cost.  A file that declares ``layer_start = "first_input"`` runs that way on
every backend (:func:`loihi_snn.netx.lower.reset_schedule`): fresh lanes and the
emulator apply the schedule from step 1, the controller-streamed backends from each
sample's first step, so the result still equals single-sample runs of the file.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from loihi_snn import families
from loihi_snn.core.args import check_flag, check_path
from loihi_snn.core.errors import ShapeError
from loihi_snn.core.progress import Progress, want_progress
from loihi_snn.netx.lower import first_input_offset, has_bias
from loihi_snn.netx.inputs import check_input
from loihi_snn.netx.schema import input_transform, read_netx
from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.runtime.cutoff_run import run_cutoff
from loihi_snn.sim.runtime.guard import run_supervised
from loihi_snn.sim.runtime.io import (check_integer, check_samples, image_shape,
                                      input_message_bits, scale_output)
from loihi_snn.sim.runtime.run import check_timeout, resolve_backend, run_config

#: most lanes (network copies stepped as one batch) of a lava-fused stream
FUSED_LANES = 256
#: most neurons per layer (lanes x layer size) a lava-fused stream steps at once
FUSED_LAYER_ELEMENTS = 1 << 21


def run_many(path: str, X: np.ndarray, *, backend: str = "lava-fixed",
             progress: Optional[bool] = None, timeout: Optional[float] = None,
             stall_timeout: Optional[float] = None) -> np.ndarray:
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
    path = check_path(path, "path")
    backend = resolve_backend(backend)
    check_flag(progress, "progress", allow_none=True)
    check_timeout(timeout)
    X = check_input(X, path=path, integer=backend != "lava-float", batch=True)   # dtype, rank
    spec = read_netx(path, input_shape=image_shape(X, batch=True))
    X = check_samples(X, spec, path, integer=backend != "lava-float")
    bad = [l.index for l in spec.layers
           if l.neuron is not None and not families.get(l.neuron.type).controllable]
    if bad:
        resettable = ", ".join(t for t in families.netx_types() if families.get(t).controllable)
        raise ShapeError(f"{path}: streaming resets {resettable} neurons only; "
                         f"layers {bad} are not")
    if backend == "emulator":
        # every sample of the batch starts from a zero state: fresh runs, like the
        # controller-streamed Lava backends
        return emulate(spec, X, X.shape[-1], input_message_bits=input_message_bits(X))
    if backend != "lava-fused":
        # exact for every neuron type: the cutoff controller's reset (state zeroed and
        # stale input dropped) never lets one sample leak into the next, even through
        # recurrent spikes or neurons that fire on without input
        return run_cutoff(path, X, cutoff=False, record_output=True, backend=backend,
                          progress=progress, timeout=timeout,
                          stall_timeout=stall_timeout).outputs
    return _run_fused_stream(path, spec, X, progress, timeout, stall_timeout)


def _run_fused_stream(path: str, spec, X: np.ndarray, progress: Optional[bool],
                      timeout: Optional[float],
                      stall_timeout: Optional[float] = None) -> np.ndarray:
    """Backend ``lava-fused`` of :func:`run_many`: ONE Lava process (AsyncProtocol)
    holding the whole stream, samples (N, *input_shape, T) dealt to lanes (sample s
    to lane ``s % lanes``, position ``s // lanes``), separated by a silent gap,
    neurons reset on a schedule.  Returns (N, *output_shape, T)."""
    from loihi_snn.sim.lava.procs.fused.process import FusedRun  # lazy: imports Lava
    N, T = X.shape[0], X.shape[-1]
    # count blocks to size the gap (every synapse adds one step; flatten and an
    # ``average`` output layer have none: they act within the step)
    n_blocks = sum(1 for l in spec.layers if l.type not in ("flatten", "average") and
                   not (l.type == "input" and l.neuron is None))
    interval = T + n_blocks + 1
    # an input layer with neurons receives the input directly (offset 0); every other
    # block sits behind a synapse that adds one step (offset 1)
    offset = first_input_offset(spec)
    delays = n_blocks - 1 + offset
    largest = max(int(np.prod(l.shape)) for l in spec.layers)
    lanes = max(1, min(N, FUSED_LANES, FUSED_LAYER_ELEMENTS // max(1, largest)))
    fresh = any(l.type == "dense_rec" or has_bias(l) for l in spec.layers)
    if fresh:
        # the scheduled reset (as Lava's loader resets) zeroes the neurons but not the
        # spikes pending in a recurrent synapse, which would reach the next sample of
        # the lane; and a biased neuron integrates (and may fire) before the first input
        # reaches it, which a fresh run keeps and the staggered reset would erase: one
        # sample per lane, no reset, each lane a fresh run
        lanes = N
    per_lane = -(-N // lanes)
    total = per_lane * interval
    # each lane: its samples (time last) one after another, each padded with silence
    # to ``interval``; lanes with fewer samples end in silence
    first = np.asarray(input_transform(spec, X[:1]))
    data = np.zeros((lanes,) + first.shape[1:-1] + (total,), first.dtype)
    for s in range(N):
        p = s // lanes * interval
        data[s % lanes, ..., p:p + T] = input_transform(spec, X[s:s + 1])[0]
    check_integer(data, "lava-fused")
    net = FusedRun(spec=spec, x=data, steps=total, input_message_bits=input_message_bits(X),
                   reset_interval=None if fresh else interval,
                   reset_offset=offset, batched=True)
    show = want_progress(progress, N > 1)      # a bar on a terminal, else plain lines
    bar = None
    if show:
        bar = Progress(N, "sample", f"lava {os.path.basename(path)}")
    per_chunk = max(1, per_lane // 20)     # progress, timeout and stall granularity
    chunks = [min(per_chunk, per_lane - done) * interval
              for done in range(0, per_lane, per_chunk)]
    try:   # compiles, runs and stops Lava in a supervised child process
        out = run_supervised(net, net.output, chunks, run_config("lava-fused"),
                             timeout=timeout, what=path, stall_timeout=stall_timeout,
                             backend="lava-fused",
                             on_progress=None if bar is None else
                             (lambda n: bar.update(min(n // interval * lanes, N - bar.n))))
    finally:
        if bar is not None:
            bar.close()
    out = np.asarray(out)                                 # (lanes, *out, total)
    result = np.zeros((N,) + out.shape[1:-1] + (T,), dtype=out.dtype)
    first = 0 if fresh else delays      # a fresh lane's first steps are the run's own
    for s in range(N):
        p = s // lanes * interval
        result[s, ..., first:] = out[s % lanes, ..., p + first:p + T]
    return scale_output(result, net)

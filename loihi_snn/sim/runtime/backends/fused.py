"""Backend ``lava-fused``: the whole network as ONE Lava process (the emulator inside).

``run_one``: a :class:`~loihi_snn.sim.lava.procs.fused.process.FusedRun`
(AsyncProtocol) holds the input, runs the network and records its output -- no source,
sink or port traffic; or a loaded ``FusedNetwork`` between a source and a sink, one Lava
step at a time.  ``run_many``: one FusedRun holds the whole stream, the samples dealt
to up to ``FUSED_LANES`` independent copies of the network ("lanes", stepped as one
batch); in each lane every sample of T steps is followed by a gap of ``latency + 1``
silent steps and every layer's state is zeroed just before the next sample's first
input reaches it (layer i receives the lane's sample p first at step
``p * interval + 2 + i``).  A network with recurrent synapses, or with a bias (its
neurons integrate before the first input arrives, which a fresh run keeps and a
staggered reset would erase), gets one lane per sample and no reset: each lane is a
fresh run.  Either way each sample equals a fresh single-sample run, spike for spike,
and ``lava-fixed``.
"""
from __future__ import annotations

import os

import numpy as np

from loihi_snn.core.errors import BackendError
from loihi_snn.core.lavadl import require_lava
from loihi_snn.core.progress import Progress, want_progress
from loihi_snn import families
from loihi_snn.netx.concat import has_concat
from loihi_snn.netx.lower import first_input_offset, has_bias, latency_blocks
from loihi_snn.netx.schema import input_transform
from loihi_snn.sim.runtime.backends.base import Backend
from loihi_snn.sim.runtime.backends.lava import run_network
from loihi_snn.sim.runtime.guard import run_supervised
from loihi_snn.sim.runtime.io import check_integer, match_input_port, message_bits, scale_output
from loihi_snn.sim.runtime.lava_run import sim_config, supervise

#: most lanes (network copies stepped as one batch) of a lava-fused stream
FUSED_LANES = 256
#: most neurons per layer (lanes x layer size) a lava-fused stream steps at once
FUSED_LAYER_ELEMENTS = 1 << 21
NAME = "lava-fused"


def run_one(plan, opts) -> np.ndarray:
    """One sample on one FusedRun process (or a given FusedNetwork between source and
    sink, as ``lava-fixed`` runs a per-layer Network)."""
    if plan.network is not None:
        if not getattr(plan.network, "fused", False):
            raise BackendError("backend 'lava-fused' runs a FusedNetwork; pass the .net path "
                               "or loihi_snn.sim.lava.procs.fused.process.FusedNetwork"
                               "(spec=...)")
        return run_network(plan, opts, sim_config("fixed_pt"))
    from loihi_snn.sim.lava.procs.fused.process import FusedRun  # lazy: imports Lava
    data = np.asarray(input_transform(plan.spec, plan.x))
    check_integer(data, NAME)
    data = match_input_port(data, plan.spec.input_shape)
    proc = FusedRun(spec=plan.spec, x=data, steps=plan.steps,
                    input_message_bits=message_bits(plan.graded))
    out = np.asarray(supervise(proc, proc.output, plan.steps, sim_config("fixed_pt"), opts,
                               what=plan.path, backend=NAME))
    return scale_output(out, proc)


def resettable(spec) -> bool:
    """True when every layer's neurons take the scheduled reset (their family is
    ``controllable``; lava's RF, RF_IZ and ATRLIF have no reset)."""
    return all(l.neuron is None or getattr(families.get(l.neuron.type), "controllable", True)
               for l in spec.layers)


def run_many(plan, opts) -> np.ndarray:
    """A batch (N, *input, T) through one FusedRun (module docstring); (N, *output, T)."""
    from loihi_snn.sim.lava.procs.fused.process import FusedRun  # lazy: imports Lava
    spec, X = plan.spec, plan.x
    N, T = X.shape[0], X.shape[-1]
    n_blocks = latency_blocks(spec)       # every synapse adds one step of latency
    interval = T + n_blocks + 1
    # an input layer with neurons receives the input directly (offset 0); every other
    # block sits behind a synapse that adds one step (offset 1)
    offset = first_input_offset(spec)
    delays = n_blocks - 1 + offset
    largest = max(int(np.prod(l.shape)) for l in spec.layers)
    lanes = max(1, min(N, FUSED_LANES, FUSED_LAYER_ELEMENTS // max(1, largest)))
    fresh = any(l.type == "dense_rec" or has_bias(l) for l in spec.layers) or \
        has_concat(spec) or not resettable(spec)
    if fresh:
        # (RF / ALIF neurons have no scheduled reset: a lane would carry their state
        # into its next sample)
        # (a concat's branches reach a layer at different steps: a staggered reset
        # would cut a sample, netx/concat.py)
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
    check_integer(data, NAME)
    net = FusedRun(spec=spec, x=data, steps=total, input_message_bits=plan.input_message_bits,
                   reset_interval=None if fresh else interval, reset_offset=offset,
                   batched=True)
    show = want_progress(opts.progress, N > 1)      # a bar on a terminal, else plain lines
    bar = Progress(N, "sample", f"lava {os.path.basename(plan.path)}") if show else None
    per_chunk = max(1, per_lane // 20)     # progress, timeout and stall granularity
    chunks = [min(per_chunk, per_lane - done) * interval
              for done in range(0, per_lane, per_chunk)]
    try:   # compiles, runs and stops Lava in a supervised child process
        out = run_supervised(net, net.output, chunks, sim_config("fixed_pt"),
                             timeout=opts.timeout, what=plan.path,
                             stall_timeout=opts.stall_timeout, backend=NAME,
                             on_progress=None if bar is None else
                             (lambda n: bar.update(min(n // interval * lanes, N - bar.n))))
    finally:
        if bar is not None:
            bar.close()
    out = np.asarray(out)                                 # (lanes, *out, total)
    result = np.zeros((N,) + out.shape[1:-1] + (T,), dtype=out.dtype)
    first_step = 0 if fresh else delays  # a fresh lane's first steps are the run's own
    for s in range(N):
        p = s // lanes * interval
        result[s, ..., first_step:] = out[s % lanes, ..., p + first_step:p + T]
    return scale_output(result, net)


BACKENDS = (Backend(
    name=NAME,
    description="Lava CPU simulation, whole network and its input/output as one fused "
                "fixed_pt process (bit-exact with lava-fixed, >10x faster than stock netx)",
    run_one=run_one, run_many=run_many, run_cutoff=None, takes_network=True,
    check_available=lambda: require_lava(f"backend '{NAME}'")),)   # one line without Lava

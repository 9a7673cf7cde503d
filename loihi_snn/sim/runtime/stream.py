"""Stream many samples through one Lava run, resetting the network between samples.

Each sample of T steps is followed by a gap of ``latency + 1`` silent steps, and
every layer's state is zeroed by Lava's ``LIFReset`` just before the first input of
the next sample reaches it (layer i of a network whose synapses each add one step of
latency receives sample s first at step ``s * interval + 2 + i``).  The result per
sample equals a fresh single-sample run, spike for spike, at a fraction of the
start-up cost.  (The cutoff controller generalises this with early exits.)
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

from loihi_snn.core.errors import RunError, ShapeError
from loihi_snn.sim.runtime.run import (from_lava_layout, precision_of, resolve_backend,
                                   run_config, to_lava_layout)


def run_many(path: str, X: np.ndarray, *, backend: str = "lava-fixed",
             progress: Optional[bool] = None, timeout: Optional[float] = None) -> np.ndarray:
    """Run every sample of ``X`` through one Lava run of the network at ``path``.

    Parameters
    ----------
    path : str
        NetX file whose neurons are CUBA/LOIHI (they are reset between samples).
    X : np.ndarray
        (N, *input_shape, T) in file order, time last; binary spikes or integers.
    backend : {"lava-fixed", "lava-float", "lava-fused", "emulator"}
        ``emulator`` runs the whole batch at once without Lava, every sample from a
        zero state (fresh runs).  ``loihi2`` and
        ``auto`` as in :func:`loihi_snn.run`.
    timeout : float, optional
        wall-clock limit in seconds for the whole Lava run (compile, all samples,
        stop); past it the run is stopped and RunError says how many steps (of
        ``N * interval``) were completed.  Failing process models raise RunError as
        in :func:`loihi_snn.run`.

    Returns
    -------
    np.ndarray
        (N, *output_shape, T): each sample's output over its own T steps, aligned as
        :func:`loihi_snn.run` aligns a single sample (and as SLAYER's ``delay_shift``
        forward does).  lava-fixed and lava-float stream through the cutoff
        controller with the cutoff off (:func:`~loihi_snn.sim.runtime.cutoff_run.run_cutoff`),
        which equals fresh single-sample runs for every network; with lava-fused
        samples are separated by a silent gap and staggered resets, and the first
        steps, which no input can reach yet, are zeroed.
    """
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.sim.lava.loader import GRADED_MESSAGE_BITS, load
    from loihi_snn.netx.schema import input_transform, read_netx

    backend = resolve_backend(backend)
    X = np.asarray(X)
    spec = read_netx(path)
    if X.ndim < 3 or tuple(X.shape[1:-1]) != tuple(spec.input_shape):
        raise ShapeError(f"{path}: expected samples of shape (N, {', '.join(map(str, spec.input_shape))}, T), "
                         f"got {X.shape}")
    bad = [l.index for l in spec.layers if l.neuron is not None and l.neuron.type not in ("CUBA", "LOIHI", "LIF", "TERNARY")]
    if bad:
        raise ShapeError(f"{path}: streaming resets CUBA, LIF and TERNARY neurons only; layers {bad} are not")
    N, T = X.shape[0], X.shape[-1]
    graded = not np.isin(X, (0, 1)).all()
    # count blocks to size the gap (every synapse adds one step)
    n_blocks = sum(1 for l in spec.layers if l.type not in ("flatten",) and
                   not (l.type == "input" and l.neuron is None))
    interval = T + n_blocks + 1
    # an input layer with neurons receives the input directly; every other block
    # sits behind a synapse that adds one step
    input_block = spec.layers[0].type == "input" and spec.layers[0].neuron is not None
    delays = n_blocks - (1 if input_block else 0)
    if backend == "emulator":
        from loihi_snn.sim.emulator import emulate
        # every sample of the batch starts from a zero state: fresh runs, like the
        # controller-streamed Lava backends
        return emulate(spec, X, T, input_message_bits=GRADED_MESSAGE_BITS if graded else 0)
    if backend in ("lava-fixed", "lava-float"):
        # exact for every neuron type: the cutoff controller's reset (state zeroed and
        # stale input dropped) never lets one sample leak into the next, even through
        # recurrent spikes or neurons that fire on without input
        from loihi_snn.sim.runtime.cutoff_run import run_cutoff
        return run_cutoff(path, X, cutoff=False, record_output=True, backend=backend,
                          progress=progress, timeout=timeout).outputs
    total = N * interval

    def stream(frames) -> np.ndarray:
        """Samples (time last) one after another, each padded with silence to ``interval``."""
        return np.concatenate([np.concatenate(
            [f, np.zeros(f.shape[:-1] + (interval - T,), f.dtype)], -1) for f in frames], -1)

    if backend == "lava-fused":
        # ONE Lava process (AsyncProtocol) holding the whole stream: samples separated by
        # the silent gap, neurons reset on the same schedule as the per-layer loader's
        from loihi_snn.sim.lava.procs.fused.process import FusedRun
        data = stream([np.asarray(input_transform(spec, x)) for x in X])
        if not np.all(data == np.round(data)):
            raise ShapeError("lava-fused needs integer input (spikes or graded integers); "
                             "scale and round real-valued input first")
        net = FusedRun(spec=spec, x=data, steps=total,
                       input_message_bits=GRADED_MESSAGE_BITS if graded else 0,
                       reset_interval=interval, reset_offset=0 if input_block else 1)
        source, read_out = net, net.output
    else:
        net = load(path, precision=precision_of(backend),
                   input_message_bits=GRADED_MESSAGE_BITS if graded else 0,
                   reset_interval=interval, reset_offset=0 if input_block else 1)
        data = stream([to_lava_layout(input_transform(spec, x), net.input_shape) for x in X])
        if precision_of(backend) == "fixed":
            data = data.astype(np.int32)
        source = Source(data=data)
        sink = Sink(shape=net.out.shape, buffer=total)
        source.s_out.connect(net.inp)
        net.out.connect(sink.a_in)
        read_out = sink.data.get
    show = progress if progress is not None else (N > 1 and os.isatty(2))
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=N, unit="sample", desc=f"lava {os.path.basename(path)}")
    cfg = run_config(backend)
    per_chunk = max(1, N // 20) if (show or timeout is not None) else N
    chunks = [min(per_chunk, N - done) * interval for done in range(0, N, per_chunk)]
    from loihi_snn.sim.runtime.guard import run_supervised
    try:   # compiles, runs and stops Lava in a supervised child process
        out = run_supervised(source, read_out, chunks, cfg, timeout=timeout, what=path,
                             on_progress=None if bar is None else
                             (lambda n: bar.update(n // interval)))
    finally:
        if bar is not None:
            bar.close()
    out = np.asarray(out) if backend == "lava-fused" else from_lava_layout(np.asarray(out))
    result = np.zeros((N,) + out.shape[:-1] + (T,), dtype=out.dtype)
    for s in range(N):
        window = out[..., s * interval: s * interval + T]
        result[s, ..., delays:] = window[..., delays:]
    if getattr(net.out_layer, "kind", "") == "average":
        result = result / float(net.out_layer.group_size)
    if getattr(net, "output_scale", 1.0) != 1.0:
        result = result * net.output_scale
    return result

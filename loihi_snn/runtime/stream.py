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

from loihi_snn.errors import RunError, ShapeError
from loihi_snn.runtime.run import (check_backend, from_lava_layout, precision_of, run_config,
                                   stopping, to_lava_layout)


def run_many(path: str, X: np.ndarray, *, backend: str = "lava-fixed",
             progress: Optional[bool] = None) -> np.ndarray:
    """Run every sample of ``X`` through one Lava run of the network at ``path``.

    Parameters
    ----------
    path : str
        NetX file whose neurons are CUBA/LOIHI (they are reset between samples).
    X : np.ndarray
        (N, *input_shape, T) in file order, time last; binary spikes or integers.
    backend : {"lava-fixed", "lava-float"}

    Returns
    -------
    np.ndarray
        (N, *output_shape, T): each sample's output over its own T steps, aligned as
        :func:`loihi_snn.run` aligns a single sample (and as SLAYER's ``delay_shift``
        forward does); the first steps, which no input can reach yet through the
        synapses' one-step latencies, are zero.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.netx.loader import GRADED_MESSAGE_BITS, load
    from loihi_snn.netx.schema import read_netx

    check_backend(backend)
    X = np.asarray(X)
    spec = read_netx(path)
    if X.ndim < 3 or tuple(X.shape[1:-1]) != tuple(spec.input_shape):
        raise ShapeError(f"{path}: expected samples of shape (N, {', '.join(map(str, spec.input_shape))}, T), "
                         f"got {X.shape}")
    bad = [l.index for l in spec.layers if l.neuron is not None and l.neuron.type not in ("CUBA", "LOIHI", "LIF")]
    if bad:
        raise ShapeError(f"{path}: streaming resets CUBA and LIF neurons only; layers {bad} are neither")
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
    net = load(path, precision=precision_of(backend),
               input_message_bits=GRADED_MESSAGE_BITS if graded else 0,
               reset_interval=interval, reset_offset=0 if input_block else 1)
    frames = [to_lava_layout(x, net.input_shape) for x in X]
    frames = [np.concatenate([f, np.zeros(f.shape[:-1] + (interval - T,), f.dtype)], -1)
              for f in frames]
    data = np.concatenate(frames, axis=-1)
    if backend == "lava-fixed":
        data = data.astype(np.int32)
    total = N * interval
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=total)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    show = progress if progress is not None else (N > 1 and os.isatty(2))
    bar = None
    if show:
        from tqdm.auto import tqdm
        bar = tqdm(total=N, unit="sample", desc=f"lava {os.path.basename(path)}")
    cfg = run_config(backend)
    per_chunk = max(1, N // 20) if show else N
    with stopping(source):
        try:
            done = 0
            while done < N:
                k = min(per_chunk, N - done)
                source.run(condition=RunSteps(num_steps=k * interval), run_cfg=cfg)
                done += k
                if bar is not None:
                    bar.update(k)
            out = np.asarray(sink.data.get())
        except Exception as exc:  # noqa: BLE001
            raise RunError(f"Lava run of {path} failed: {exc}") from exc
        finally:
            if bar is not None:
                bar.close()
    out = from_lava_layout(out)
    result = np.zeros((N,) + out.shape[:-1] + (T,), dtype=out.dtype)
    for s in range(N):
        window = out[..., s * interval: s * interval + T]
        result[s, ..., delays:] = window[..., delays:]
    if getattr(net.out_layer, "kind", "") == "average":
        result = result / float(net.out_layer.group_size)
    if getattr(net, "output_scale", 1.0) != 1.0:
        result = result * net.output_scale
    return result

"""Record every layer's output during one Lava run (for parity checks and plots)."""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from loihi_snn.sim.runtime.run import (check_backend, from_lava_layout, precision_of, run_config,
                                   stopping, to_lava_layout)


def run_layers(path: str, x: np.ndarray, steps: Optional[int] = None,
               backend: str = "lava-fixed") -> List[np.ndarray]:
    """Run ``path`` on one input and return the output of every layer block.

    Parameters
    ----------
    path : str
        NetX file.
    x : np.ndarray
        (N, T) or (C, H, W, T), file order, time last.
    steps : int, optional
        defaults to T.
    backend : {"lava-fixed", "lava-float"}

    Returns
    -------
    list of np.ndarray
        one array per block in ``net.layers`` order (flatten has none), each in file
        order with time last: (N_i, steps) or (C, H, W, steps).
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.sim.lava.loader import GRADED_MESSAGE_BITS, load

    check_backend(backend)
    x = np.asarray(x)
    T = x.shape[-1]
    steps = T if steps is None else int(steps)
    graded = not np.isin(x, (0, 1)).all()
    net = load(os.fspath(path), precision=precision_of(backend),
               input_message_bits=GRADED_MESSAGE_BITS if graded else 0)
    from loihi_snn.netx.schema import input_transform
    data = to_lava_layout(input_transform(net.spec, x), net.input_shape)
    if steps > T:
        data = np.concatenate([data, np.zeros(data.shape[:-1] + (steps - T,), data.dtype)], -1)
    if backend == "lava-fixed":
        data = data.astype(np.int32)
    source = Source(data=data)
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)
    with stopping(source):
        source.run(condition=RunSteps(num_steps=steps), run_cfg=run_config(backend))
        outs = [from_lava_layout(np.asarray(s.data.get())) for s in sinks]
    return outs

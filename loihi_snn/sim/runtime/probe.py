"""Record every layer's output during one Lava run (for parity checks and plots)."""
from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from loihi_snn.core.lavadl import require_lava
from loihi_snn.netx.schema import input_transform
from loihi_snn.sim.lava.loader import load
from loihi_snn.sim.runtime.guard import run_supervised
from loihi_snn.sim.runtime.io import (fixed_point_input, from_lava_layout, input_message_bits,
                                      pad_steps, to_lava_layout)
from loihi_snn.sim.runtime.run import check_backend, precision_of, run_config


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
        order with time last: (N_i, steps) or (C, H, W, steps).  Block outputs are
        raw: no average-layer mean, no ``output_scale``.

    The run goes through :func:`~loihi_snn.sim.runtime.guard.run_supervised` like
    every Lava run: a failing process model raises a one-line RunError, and every Lava
    process of the run is stopped (or killed) and gone when this returns or raises.
    """
    check_backend(backend)
    require_lava("recording every layer on Lava (run_layers)")   # one line without Lava
    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy
    from lava.proc.io.source import RingBuffer as Source  # lazy: Lava is heavy

    path = os.fspath(path)
    x = np.asarray(x)
    T = x.shape[-1]
    steps = T if steps is None else int(steps)
    net = load(path, precision=precision_of(backend), input_message_bits=input_message_bits(x))
    data = pad_steps(to_lava_layout(input_transform(net.spec, x), net.input_shape), steps)
    if precision_of(backend) == "fixed":
        data = fixed_point_input(data, backend)
    source = Source(data=data)
    source.s_out.connect(net.inp)
    sinks = []
    for layer in net.layers:
        sink = Sink(shape=layer.out.shape, buffer=steps)
        layer.out.connect(sink.a_in)
        sinks.append(sink)

    def read_out() -> List[np.ndarray]:
        return [np.asarray(s.data.get()) for s in sinks]

    # compiles, runs and stops Lava in a supervised child process
    outs = run_supervised(source, read_out, [steps], run_config(backend), what=path,
                          backend=backend)
    return [from_lava_layout(y) for y in outs]

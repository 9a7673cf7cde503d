"""Runs and inputs shared by the parity tests: stock lava-dl netx, the Oxford input."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def run_stock_netx(path, x_lava: np.ndarray, steps: int) -> np.ndarray:
    """Run a file with stock ``lava.lib.dl.netx`` (fixed_pt).

    x_lava: input spikes in Lava order, time last (``net.inp.shape + (T,)``), integers.
    Returns the output spikes, Lava order, shape ``net.out.shape + (steps,)``.
    """
    from lava.lib.dl import netx  # lazy: Lava is heavy
    from lava.magma.core.run_conditions import RunSteps  # lazy: Lava is heavy
    from lava.magma.core.run_configs import Loihi2SimCfg  # lazy: Lava is heavy
    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy
    from lava.proc.io.source import RingBuffer as Source  # lazy: Lava is heavy

    net = netx.hdf5.Network(net_config=str(path))
    src = Source(data=x_lava.astype(np.int32))
    sink = Sink(shape=net.out.shape, buffer=steps)
    src.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    try:
        net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        return sink.data.get()
    finally:
        net.stop()


def oxford_input(shared_netx: Path, dtype=np.int64) -> np.ndarray:
    """Oxford's recorded input spikes, shape (200 neurons, 2000 steps).

    ``dtype=None`` keeps the float dtype SLAYER's event tensor gives.
    """
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    events = slayer.io.read_np_spikes(str(Path(shared_netx) / "oxford" / "input.npy"))
    x = np.asarray(events.to_tensor(dim=(1, 200, 2000))).reshape(200, 2000)
    return x if dtype is None else x.astype(dtype)

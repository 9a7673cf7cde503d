"""Shared fixtures: where the lava-dl reference networks are, and small helpers."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_NETX = Path(os.environ.get("LOIHI_SNN_SHARED_NETX",
                                  ROOT.parent / "shared" / "data" / "lava-dl-netx"))


@pytest.fixture(scope="session")
def shared_netx() -> Path:
    """Directory of lava-dl's reference NetX networks (tinynet, pilotnet_sdnn, oxford)."""
    if not (SHARED_NETX / "oxford" / "network.net").exists():
        pytest.fail(f"reference networks not found at {SHARED_NETX}; set "
                    f"LOIHI_SNN_SHARED_NETX to the lava-dl-netx directory")
    return SHARED_NETX


def run_stock_netx(path, x_lava: np.ndarray, steps: int) -> np.ndarray:
    """Run a file with stock ``lava.lib.dl.netx`` (fixed_pt), input in Lava order, time last."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

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

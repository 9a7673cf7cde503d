"""run_many with lava-fused deals the samples to lanes (network copies stepped as one
batch in the one Lava process); within a lane samples follow each other with a silent
gap and staggered resets.  Every sample must still equal a fresh run (the emulator's
fresh batch, which tests/parity/test_emulator_vs_lava.py ties to per-layer Lava), with
one sample per lane and with several (uneven lanes), for delays and recurrence too."""
from __future__ import annotations

import numpy as np
import pytest

from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.lava.procs.fused.process import FusedRun
from loihi_snn.sim.runtime import stream

from helpers import export_slayer, net_dense, net_dense_delay, net_recurrent


@pytest.mark.parametrize("make,lanes", [(net_dense, 3), (net_dense_delay, 2),
                                        (net_recurrent, 3), (net_dense, 256)],
                         ids=["dense-3", "delay-2", "rec", "dense-one-per-lane"])
def test_fused_stream_lanes_equal_fresh_runs(make, lanes, tmp_path, monkeypatch):
    path = tmp_path / "net.net"
    x, _ = export_slayer(make, 31, path)
    X = (np.random.default_rng(31).random((7,) + x.shape) < 0.3).astype(np.int64)
    X[0] = x
    monkeypatch.setattr(stream, "FUSED_LANES", lanes)
    y = stream.run_many(path, X, backend="lava-fused", progress=False)
    want = emulate(path, X)
    assert want.sum() > 10
    np.testing.assert_array_equal(y, want)


def test_batched_fused_run_records_every_lane(tmp_path):
    """FusedRun(batched=True): B lanes side by side; output (B, *out, steps), each lane
    equal to its own unbatched FusedRun."""
    from lava.magma.core.run_conditions import RunSteps
    from loihi_snn.sim.runtime.run import run_config
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 32, path)
    X = np.stack([x, x[:, ::-1]])
    proc = FusedRun(spec=path, x=X, batched=True)
    try:
        proc.run(condition=RunSteps(num_steps=x.shape[-1]), run_cfg=run_config("lava-fused"))
        out = proc.output()
    finally:
        proc.stop()
    assert out.shape == (2, 12, x.shape[-1]) and out.sum() > 5
    np.testing.assert_array_equal(out, emulate(path, X))

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


def test_fused_stream_of_a_biased_network_equals_fresh_runs(tmp_path, monkeypatch):
    """A bias makes a layer integrate (and fire) before the first input reaches it; a
    fresh run keeps those steps, so the lava-fused stream must too: one fresh lane per
    sample, equal to the emulator's fresh batch and to the controller-streamed Lava."""
    from helpers import CUBA, write_netx
    rng = np.random.default_rng(5)
    layers = [{"type": "input", "shape": np.array([6])},
              {"type": "dense", "shape": np.array([5]), "weight": rng.integers(-60, 120, (5, 6)),
               "bias": np.array([0, 300, -200, 600, 100]), "neuron": dict(CUBA)},
              {"type": "dense", "shape": np.array([4]), "weight": rng.integers(-60, 120, (4, 5)),
               "bias": np.array([500, 0, 250, -100]), "neuron": dict(CUBA)}]
    path = write_netx(tmp_path / "biased.net", layers)
    X = (rng.random((5, 6, 9)) < 0.4).astype(np.int64)
    monkeypatch.setattr(stream, "FUSED_LANES", 2)
    fused = stream.run_many(path, X, backend="lava-fused", progress=False)
    want = emulate(path, X)
    assert want[..., :2].sum() > 0          # the bias alone fires before any input arrives
    np.testing.assert_array_equal(fused, want)
    np.testing.assert_array_equal(stream.run_many(path, X, backend="lava-fixed",
                                                  progress=False), want)

"""loihi_snn.core.lif.lif_fixed_step (on loihi_snn.core.fixed) reproduces lava's bit-accurate
LIF model step for step."""
from __future__ import annotations

import numpy as np
import pytest

from loihi_snn.core import fixed
from loihi_snn.core.lif import LIFParams, lif_fixed_step


@pytest.mark.parametrize("du,dv,vth,bias", [(4095, 0, 10, 0), (1023, 410, 6, 3),
                                           (-1, 4096, 50, -2), (0, 1, 1, 0)])
def test_lif_step_matches_lava_lif(du, dv, vth, bias):
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF

    rng = np.random.default_rng(abs(du) + dv)
    n, T = 20, 64
    w = rng.integers(-50, 64, size=(n, n)) * 2     # even, as SLAYER exports 8-bit mixed-sign weights
    x = (rng.random((n, T)) < 0.5).astype(np.int32)
    src = Source(data=x)
    dense = Dense(weights=w)
    lif = LIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=bias, bias_exp=6)
    sink = Sink(shape=(n,), buffer=T)
    src.s_out.connect(dense.s_in)
    dense.a_out.connect(lif.a_in)
    lif.s_out.connect(sink.a_in)
    try:
        src.run(condition=RunSteps(num_steps=T), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        lava_out = sink.data.get()
    finally:
        src.stop()

    a = np.concatenate([np.zeros((n, 1), np.int64), w @ x[:, :-1]], axis=1)  # one-step delay
    u = np.zeros(n, np.int64)
    v = np.zeros(n, np.int64)
    ours = np.zeros((n, T))
    for t in range(T):
        s, u, v = lif_fixed_step(u, v, a[:, t], LIFParams.cuba(du, dv, vth, fixed.scale_bias(bias)))
        ours[:, t] = s
    assert lava_out.sum() > 0
    np.testing.assert_array_equal(ours, lava_out)

"""loihi_snn.core.fixed reproduces lava's bit-accurate LIF model step for step."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loihi_snn.core import fixed


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
        s, u, v = fixed.lif_step(u, v, a[:, t], du, dv, vth, fixed.scale_bias(bias))
        ours[:, t] = s
    assert lava_out.sum() > 0
    np.testing.assert_array_equal(ours, lava_out)


def test_numpy_and_torch_give_identical_results():
    rng = np.random.default_rng(0)
    u = rng.integers(-2**23, 2**23, size=1000)
    v = rng.integers(-2**23, 2**23, size=1000)
    a = rng.integers(-2**15, 2**15, size=1000)
    s_np, u_np, v_np = fixed.lif_step(u, v, a, 1000, 300, 100, 64)
    s_t, u_t, v_t = fixed.lif_step(torch.from_numpy(u), torch.from_numpy(v),
                                   torch.from_numpy(a), 1000, 300, 100, 64)
    np.testing.assert_array_equal(s_np, s_t.numpy())
    np.testing.assert_array_equal(u_np, u_t.numpy())
    np.testing.assert_array_equal(v_np, v_t.numpy())


def test_decay_rounds_toward_zero_and_state_limits():
    # -4097 * 4095 / 4096 = -4095.9998: truncated toward zero (a floor would give -4096)
    assert fixed.decay(np.int64(-4097), 1) == -4095
    assert fixed.decay(np.int64(4097), 1) == 4095
    assert fixed.decay(np.int64(100), 4096) == 0
    assert fixed.saturate_voltage(np.int64(2**24)) == 2**23 - 1
    assert fixed.saturate_voltage(np.int64(-2**24)) == -(2**23 - 1)
    assert fixed.wrap_current(np.int64(2**23 + 5)) == -(2**23) + 5


def test_numpy_fast_paths_equal_generic_expressions_bit_for_bit():
    """The in-place numpy paths of fixed.py equal the torch (generic) expressions,
    including the edges of the 24-bit ranges and the rounding of negative values."""
    rng = np.random.default_rng(1)
    edges = np.array([0, 1, -1, 4095, -4095, 4096, -4096, 4097, -4097, 2**23 - 1, 2**23,
                      2**23 + 1, -(2**23) + 1, -(2**23), -(2**23) - 1, 2**24, -(2**24),
                      3 * 2**23, -3 * 2**23, 2**30, -(2**30)], np.int64)
    x = np.concatenate([edges, rng.integers(-2**26, 2**26, size=4000)])
    t = torch.from_numpy(x)
    for s in (1, 6, 12):
        np.testing.assert_array_equal(fixed.shift_toward_zero(x, s),
                                      fixed.shift_toward_zero(t, s).numpy())
    np.testing.assert_array_equal(fixed.wrap_current(x), fixed.wrap_current(t).numpy())
    np.testing.assert_array_equal(fixed.saturate_voltage(x), fixed.saturate_voltage(t).numpy())
    for d in (0, 1, 410, 4095, 4096):
        np.testing.assert_array_equal(fixed.decay(x, d), fixed.decay(t, d).numpy())
    x_before = x.copy()
    u = rng.integers(-2**23, 2**23, size=x.size)
    v = rng.integers(-2**23, 2**23, size=x.size)
    a = rng.integers(-2**18, 2**18, size=x.size)
    bias = rng.integers(-2**12, 2**12, size=x.size) << 6
    for b in (0, bias):
        for du, dv in ((-1, 0), (0, 4096), (1023, 410)):
            got = fixed.lif_step(u, v, a, du, dv, 100, b)
            want = fixed.lif_step(torch.from_numpy(u), torch.from_numpy(v), torch.from_numpy(a),
                                  du, dv, 100, b if isinstance(b, int) else torch.from_numpy(b))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w.numpy())
    np.testing.assert_array_equal(x, x_before)          # inputs are never modified

"""loihi_snn.core.fixed: numpy and torch agree, decay rounding, state limits, fast paths.

Its step-for-step equality with lava's bit-accurate LIF: parity/test_fixed_vs_lava_lif.py.
"""
from __future__ import annotations

import numpy as np
import torch

from loihi_snn.core import fixed
from loihi_snn.core.lif import LIFParams, lif_fixed_step


def test_numpy_and_torch_give_identical_results():
    rng = np.random.default_rng(0)
    u = rng.integers(-2**23, 2**23, size=1000)
    v = rng.integers(-2**23, 2**23, size=1000)
    a = rng.integers(-2**15, 2**15, size=1000)
    p = LIFParams.cuba(1000, 300, 100, 64)
    s_np, u_np, v_np = lif_fixed_step(u, v, a, p)
    s_t, u_t, v_t = lif_fixed_step(torch.from_numpy(u), torch.from_numpy(v),
                                   torch.from_numpy(a), p)
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
            got = lif_fixed_step(u, v, a, LIFParams.cuba(du, dv, 100, b))
            want = lif_fixed_step(torch.from_numpy(u), torch.from_numpy(v), torch.from_numpy(a),
                                  LIFParams.cuba(du, dv, 100,
                                                 b if isinstance(b, int) else torch.from_numpy(b)))
            for g, w in zip(got, want):
                np.testing.assert_array_equal(g, w.numpy())
    np.testing.assert_array_equal(x, x_before)          # inputs are never modified

"""loihi_snn.core.fixed / core.lif on float64 integers (the emulator's fast path) give
exactly the int64 results, for numpy arrays and torch tensors, at the range edges."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loihi_snn.core import fixed
from loihi_snn.core.lif import LIFParams, lif_fixed_step

EDGES = np.array([0, 1, -1, 4095, -4095, 4096, -4096, 4097, -4097, 2**23 - 1, 2**23,
                  2**23 + 1, -(2**23) + 1, -(2**23), -(2**23) - 1, 2**24, -(2**24),
                  3 * 2**23, -3 * 2**23, 2**30, -(2**30)], np.int64)


def _forms(x: np.ndarray):
    """The float64 forms of an int64 array: numpy and torch."""
    return [x.astype(np.float64), torch.from_numpy(x.astype(np.float64))]


def _np(y) -> np.ndarray:
    return y.numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


def test_primitives_equal_int64_on_float64_integers():
    rng = np.random.default_rng(3)
    x = np.concatenate([EDGES, rng.integers(-2**26, 2**26, size=4000)])
    for xf in _forms(x):
        for s in (1, 6, 12):
            np.testing.assert_array_equal(_np(fixed.shift_toward_zero(xf, s)),
                                          fixed.shift_toward_zero(x, s))
        np.testing.assert_array_equal(_np(fixed.wrap_current(xf)), fixed.wrap_current(x))
        np.testing.assert_array_equal(_np(fixed.saturate_voltage(xf)), fixed.saturate_voltage(x))
        for d in (0, 1, 410, 2047, 4095, 4096):
            np.testing.assert_array_equal(_np(fixed.decay(xf, d)), fixed.decay(x, d))
        for e in (-7, -1, 0, 1, 3):
            np.testing.assert_array_equal(_np(fixed.accumulate_weight_exp(xf, e)),
                                          fixed.accumulate_weight_exp(x, e))
        for e in (-2, 0, 6):
            np.testing.assert_array_equal(_np(fixed.scale_bias(xf[:100], e)),
                                          fixed.scale_bias(x[:100], e))
        assert fixed.is_float(xf) and not fixed.is_float(x)


@pytest.mark.parametrize("reset,ternary", [("hard", False), ("soft", False), ("none", False),
                                           ("hard", True), ("soft", True)])
def test_lif_step_float64_equals_int64_over_many_steps(reset, ternary):
    """Run 40 steps with large inputs (the current wraps, the voltage saturates)."""
    rng = np.random.default_rng(4)
    n = 3000
    a = rng.integers(-2**17, 2**17, size=(40, n))
    a[:, :100] = 2**18                        # drive some neurons into the wrap
    bias = (rng.integers(-2**12, 2**12, size=n) << 6)
    cases = [(du, dv, b) for du, dv in ((0, 0), (1, 4096), (1024, 410), (4096, 1), (4096, 410))
             for b in (bias, 0)]
    for du, dv, b in cases:
        p = LIFParams(du, dv, 100, b, reset, ternary)
        pf = p._replace(bias=b.astype(np.float64) if isinstance(b, np.ndarray) else b)
        pt = p._replace(bias=torch.from_numpy(b.astype(np.float64))
                        if isinstance(b, np.ndarray) else b)
        u = v = np.zeros(n, np.int64)
        uf = vf = np.zeros(n)
        u32 = v32 = np.zeros(n)                 # float32 input (the emulator's GEMM sums)
        ut = vt = torch.zeros(n, dtype=torch.float64)
        for t in range(a.shape[0]):
            s, u, v = lif_fixed_step(u, v, a[t], p)
            sf, uf, vf = lif_fixed_step(uf, vf, a[t].astype(np.float64), pf)
            s32, u32, v32 = lif_fixed_step(u32, v32, a[t].astype(np.float32), pf)
            st, ut, vt = lif_fixed_step(ut, vt, torch.from_numpy(a[t].astype(np.float64)), pt)
            for got in ((sf, uf, vf), (s32, u32, v32), (st, ut, vt)):
                np.testing.assert_array_equal(_np(got[0]), s)
                np.testing.assert_array_equal(_np(got[1]), u)
                np.testing.assert_array_equal(_np(got[2]), v)
        assert np.abs(u).max() > 2**22          # the test reached the edges of the range

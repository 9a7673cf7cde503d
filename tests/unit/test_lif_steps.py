"""The LIF family's block form (``lif_fixed_steps``) equals T calls of its step, bit for bit.

The block form runs in place without the per-step wrap and saturation when bounds prove
them the identity (numpy float64 state); these tests compare it with the int64 step for
every reset mode, binary and ternary spikes, scalar and per-neuron parameters, decays at
both ends of their range, and inputs large enough that the bounds refuse the block form
(the step then runs as before).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from loihi_snn.core import fixed
from loihi_snn.core.constants import CURRENT_WRAP, V_LIMIT
from loihi_snn.core.lif import (LIFParams, _block_in_range, lif_fixed_step,
                                lif_fixed_steps)


def _reference(u, v, a_block, p):
    out = []
    for t in range(a_block.shape[0]):
        s, u, v = lif_fixed_step(u, v, a_block[t], p)
        out.append(np.asarray(s))
    return np.stack(out), u, v


def _params(rng, shape, reset, ternary, per_neuron, du=None, dv=None, bias=True):
    def pick(lo, hi, fixed_value):
        if fixed_value is not None:
            return fixed_value
        if per_neuron:
            return rng.integers(lo, hi + 1, size=shape)
        return int(rng.integers(lo, hi + 1))
    b = (fixed.scale_bias(rng.integers(-20, 21, size=shape), 6) if bias else 0)
    return LIFParams(pick(0, 4096, du), pick(0, 4096, dv), pick(1, 400, None), b, reset,
                     ternary)


@pytest.mark.parametrize("reset,ternary,per_neuron",
                         list(itertools.product(("hard", "soft", "none"), (False, True),
                                                (False, True))))
def test_block_equals_steps(reset, ternary, per_neuron):
    rng = np.random.default_rng(hash((reset, ternary, per_neuron)) % 2**32)
    shape = (3, 5, 4)
    for trial in range(6):
        du = (0, 4096, None)[trial % 3]
        dv = (None, 0, 4096)[trial % 3]
        p = _params(rng, shape, reset, ternary, per_neuron, du, dv, bias=trial % 2 == 0)
        a = rng.integers(-300, 301, size=(17,) + shape).astype(np.float32)
        u0 = rng.integers(-5000, 5000, size=shape).astype(np.int64)
        v0 = rng.integers(-5000, 5000, size=shape).astype(np.int64)
        assert _block_in_range(u0.astype(np.float64), v0.astype(np.float64), a, p) == "numpy"
        ref = _reference(u0, v0, a.astype(np.int64), p)
        got = lif_fixed_steps(u0.astype(np.float64), v0.astype(np.float64), a, p)
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(np.asarray(r, np.int64), np.asarray(g, np.int64))
        assert got[0].dtype == (np.int64 if ternary else np.bool_)


@pytest.mark.parametrize("reset", ("hard", "soft", "none"))
def test_out_of_range_blocks_take_the_step(reset):
    """Inputs that wrap the current or saturate the voltage: the bounds refuse the block
    form and the result is still the step's (wraps and saturations included)."""
    rng = np.random.default_rng(7)
    shape = (4, 6)
    p = LIFParams(0, 0, 2**16, 0, reset, False)           # no decay, huge threshold
    a = rng.integers(-2**16, 2**16, size=(30,) + shape).astype(np.float32)
    u0 = np.zeros(shape, np.int64)
    v0 = np.zeros(shape, np.int64)
    assert not _block_in_range(u0.astype(np.float64), v0.astype(np.float64), a, p)
    ref = _reference(u0, v0, a.astype(np.int64), p)
    assert np.abs(ref[1]).max() > CURRENT_WRAP // 4 or np.abs(ref[2]).max() == V_LIMIT
    got = lif_fixed_steps(u0.astype(np.float64), v0.astype(np.float64), a, p)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(np.asarray(r, np.int64), np.asarray(g, np.int64))


def test_bound_is_an_upper_bound():
    """decay_bound never underestimates the magnitude the recurrence reaches."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        d = int(rng.integers(0, 4097))
        start, drive, steps = float(rng.integers(0, 10**6)), float(rng.integers(0, 10**5)), \
            int(rng.integers(1, 64))
        x, peak = start, start
        for _ in range(steps):
            x = np.trunc(x * (4096 - d) / 4096) + drive
            peak = max(peak, x)
        assert fixed.decay_bound(start, drive, d, steps) >= peak


def test_callers_arrays_are_not_changed():
    rng = np.random.default_rng(5)
    p = LIFParams(100, 200, 50, 0, "hard", False)
    u = rng.integers(-100, 100, size=(2, 3)).astype(np.float64)
    v = rng.integers(-100, 100, size=(2, 3)).astype(np.float64)
    u_copy, v_copy = u.copy(), v.copy()
    lif_fixed_steps(u, v, np.ones((4, 2, 3), np.float32), p)
    np.testing.assert_array_equal(u, u_copy)
    np.testing.assert_array_equal(v, v_copy)


@pytest.mark.parametrize("reset,ternary,big",
                         list(itertools.product(("hard", "soft", "none"), (False, True),
                                                (False, True))))
def test_torch_block_equals_steps(reset, ternary, big):
    """torch float64 state: the block form when in range, the step beyond; both equal
    the int64 step."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    shape = (2, 5)
    p = LIFParams(0 if big else 300, 0 if big else 100, 40, 0, reset, ternary)
    peak = 2**16 if big else 200
    a = rng.integers(-peak, peak, size=(30,) + shape)
    ref = _reference(np.zeros(shape, np.int64), np.zeros(shape, np.int64), a, p)
    u0, v0 = torch.zeros(shape, dtype=torch.float64), torch.zeros(shape, dtype=torch.float64)
    a_t = torch.tensor(a, dtype=torch.float32)
    assert _block_in_range(u0, v0, a_t, p) == (None if big else "torch")
    got = lif_fixed_steps(u0, v0, a_t, p)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(np.asarray(r, np.int64), g.numpy().astype(np.int64))


@pytest.mark.parametrize("reset,ternary", list(itertools.product(("hard", "soft", "none"),
                                                                 (False, True))))
def test_torch_kernel_of_accelerators_equals_steps(reset, ternary):
    """The torch block kernel (what CUDA runs; host tensors run the numpy form on the same
    memory) equals the int64 step, run here on CPU tensors so that CI checks it."""
    torch = pytest.importorskip("torch")
    from loihi_snn.core.lif import _steps_in_range_torch
    rng = np.random.default_rng(11)
    shape = (3, 4)
    p = LIFParams(300, 100, 40, 0, reset, ternary)
    a = rng.integers(-200, 200, size=(25,) + shape)
    ref = _reference(np.zeros(shape, np.int64), np.zeros(shape, np.int64), a, p)
    got = _steps_in_range_torch(torch.zeros(shape, dtype=torch.float64),
                                torch.zeros(shape, dtype=torch.float64),
                                torch.tensor(a, dtype=torch.float32), p)
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(np.asarray(r, np.int64), g.numpy().astype(np.int64))

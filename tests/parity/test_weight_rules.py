"""loihi_snn.core.weights == lava's own weight and wrap rules (the emulator uses ours, so it
runs without Lava): random matrices of every sign mode and width, and edge cases --
all zero, one value, the clip bounds and past them, every num_weight_bits (including
past 8, where the shift count goes negative), int8/int16/int64/float inputs, torch
tensors for signed_clamp.  Runs in the Lava venv (marker ``lava``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from loihi_snn.core import weights as ours

weightutils = pytest.importorskip("lava.utils.weightutils")
conv_utils = pytest.importorskip("lava.proc.conv.utils")


def _lava_mode(mode: ours.SignMode):
    return weightutils.SignMode(mode.value)


def _matrices():
    rng = np.random.default_rng(32)
    yield np.zeros((3, 4), dtype=np.int64)
    yield np.full((2, 2), 7, dtype=np.int64)
    yield np.full((2, 2), -7, dtype=np.int64)
    yield np.array([[-256, 255], [254, -255]])
    yield np.array([[-300, 300], [1000, -1000]])                  # past the 8-bit clip
    yield np.array([[0, 255, 256, 511]])                            # excitatory, past 255
    yield np.array([[0, -255, -256, -511]])                         # inhibitory, past -255
    yield np.array([[2 ** 20, -2 ** 20]])
    yield np.array([[1.7, -2.9], [3.5, -0.5]])                     # floats: int32 cast
    yield np.arange(-40, 40, dtype=np.int8).reshape(8, 10)
    yield np.arange(-600, 600, 7, dtype=np.int16).reshape(-1, 2)
    for _ in range(40):
        lo, hi = rng.choice([(-256, 256), (0, 256), (-255, 1), (-1024, 1024), (-4, 4)])
        yield rng.integers(lo, hi, size=tuple(rng.integers(1, 9, size=2)))


@pytest.mark.parametrize("case", range(51))
def test_weight_rules_equal_lava(case):
    w = list(_matrices())[case]
    mode = ours.determine_sign_mode(w)
    ref_mode = weightutils.determine_sign_mode(w)
    assert mode.value == ref_mode.value and mode.name == ref_mode.name
    for m in ours.SignMode:
        if m is ours.SignMode.NULL:
            continue
        for bits in (1, 4, 8, 9):
            for learning in (False, True):
                a = ours.clip_weights(w, m, num_bits=bits, learning_simulation=learning)
                b = weightutils.clip_weights(w, _lava_mode(m), num_bits=bits,
                                             learning_simulation=learning)
                assert a.dtype == b.dtype and np.array_equal(a, b), (m, bits, learning)
        clipped = weightutils.clip_weights(w, _lava_mode(m), num_bits=8)
        for nwb in range(0, 11):
            for start in (w, clipped):
                a = ours.truncate_weights(start, m, nwb)
                b = weightutils.truncate_weights(start, _lava_mode(m), nwb)
                assert a.dtype == b.dtype and np.array_equal(a, b), (m, nwb)
    # the input is never changed in place
    before = w.copy()
    ours.truncate_weights(ours.clip_weights(w, mode, 8), mode, 6)
    assert np.array_equal(w, before)


def test_lava_sign_mode_accepted():
    w = np.array([[-4, 6]])
    a = ours.truncate_weights(w, weightutils.SignMode.MIXED, 6)
    b = weightutils.truncate_weights(w, weightutils.SignMode.MIXED, 6)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bits", [1, 8, 16, 24])
def test_signed_clamp_equal_lava(bits):
    rng = np.random.default_rng(bits)
    edges = np.array([0, 1, -1, 2 ** (bits - 1) - 1, 2 ** (bits - 1), -2 ** (bits - 1),
                      -2 ** (bits - 1) - 1, 2 ** bits, -2 ** bits, 2 ** 40 + 3, -2 ** 40 - 3],
                     dtype=np.int64)
    x = np.concatenate([edges, rng.integers(-2 ** 30, 2 ** 30, size=500)])
    for arr in (x, x.astype(np.float64), x[:4].astype(np.int32)):
        a, b = ours.signed_clamp(arr, bits), conv_utils.signed_clamp(arr, bits)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for value in (5, -(2 ** 25) + 7, 2.0 ** 30):
        assert ours.signed_clamp(value, bits) == conv_utils.signed_clamp(value, bits)
    t = torch.from_numpy(x)
    assert torch.equal(ours.signed_clamp(t, bits), conv_utils.signed_clamp(t, bits))
    tf = t.to(torch.float64)
    assert torch.equal(ours.signed_clamp(tf, bits), conv_utils.signed_clamp(tf, bits))

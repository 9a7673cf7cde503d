"""The batched emulator returns exactly what per-layer Lava fixed_pt returns.

References are real Lava runs of the per-layer network (``loihi_snn.run``, backend
``lava-fixed``), which test_slayer_parity.py / test_netx_shared.py tie to stock netx
and SLAYER.  Batch semantics: a batch of N equals N single runs.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.sim.emulator import Emulator, emulate
from helpers.emulator_paths import emulate_all

from helpers import (CUBA, SLAYER_IDS, SLAYER_NETS, export_slayer, net_dense, oxford_input,
                     pool_netx, slayer_batch, tinynet_spec_with_bias, write_netx)


# --------------------------------------------------------------------------- reference nets

def test_oxford_batch_of_three_equals_lava_runs(shared_netx):
    """Oxford (200-256-200): first 300 steps of the real input, a later window and a
    random input, emulated as one batch, each equal to its own per-layer Lava run (the
    last two over their first 100 steps, to keep the Lava runs short)."""
    path = shared_netx / "oxford" / "network.net"
    x = oxford_input(shared_netx)
    rng = np.random.default_rng(0)
    T = 300
    X = np.stack([x[:, :T], x[:, 1000:1000 + T], (rng.random((200, T)) < 0.04).astype(np.int64)])
    y = emulate_all(path, X)
    assert y.shape == (3, 200, T)
    for i, steps in enumerate((T, 100, 100)):
        lava = loihi_snn.run(path, X[i, :, :steps])
        assert lava.sum() > 30
        np.testing.assert_array_equal(y[i, :, :steps], lava)


def test_tinynet_with_input_bias_and_spikes_equals_lava(shared_netx):
    """tinynet (input neurons with per-neuron bias, two strided convs, LOIHI neurons)
    driven by its input_bias.npy plus random input spikes."""
    from loihi_snn import load
    spec, bias_whc = tinynet_spec_with_bias(shared_netx)
    rng = np.random.default_rng(1)
    T = 40
    x = (rng.random((3, 16, 16, T)) < 0.2).astype(np.int64)
    net = load(shared_netx / "tinynet" / "tiny.net")
    net.in_layer.neuron.bias_mant.init = bias_whc
    lava = loihi_snn.run(net, x)
    y = emulate_all(spec, x[None])[0]
    assert lava.shape == (36, 1, 1, T) and lava.sum() > 20
    np.testing.assert_array_equal(y, lava)


# --------------------------------------------------------------------------- SLAYER nets

@pytest.mark.parametrize("make", SLAYER_NETS, ids=SLAYER_IDS)
def test_random_slayer_net_equals_lava_and_batches(make, tmp_path):
    """One input against per-layer Lava; a batch of four against four single emulations
    and SLAYER's batched forward (which test_slayer_parity ties to Lava)."""
    path = tmp_path / "net.net"
    x, blocks = export_slayer(make, 2, path)
    lava = loihi_snn.run(path, x)
    y = emulate_all(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava.reshape(y.shape))

    rng = np.random.default_rng(3)
    X = (rng.random((4,) + x.shape) < 0.3).astype(np.int64)
    yb = emulate_all(path, X)
    for i in range(4):
        np.testing.assert_array_equal(yb[i], emulate(path, X[i:i + 1])[0])
    emu = Emulator(path)
    emu.CHUNK_ELEMENTS = 1                  # chunks of one sample: same result
    np.testing.assert_array_equal(emu.run(X), yb)
    expect = slayer_batch(blocks, X)
    assert expect.sum() > 40
    np.testing.assert_array_equal(yb.reshape(expect.shape), expect)


def test_graded_input_equals_lava(tmp_path):
    """Integer graded input (sent with 24 message bits) into a dense net."""
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 4, path)
    rng = np.random.default_rng(4)
    x = x * rng.integers(-3, 4, size=x.shape)
    lava = loihi_snn.run(path, x)
    y = emulate_all(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)
    # forced binary input: every non-zero value counts as one spike
    np.testing.assert_array_equal(emulate_all(path, x[None], input_message_bits=0),
                                  emulate(path, (x != 0)[None].astype(np.int64)))


# --------------------------------------------------------------------------- pool, average

def test_pool_file_equals_lava(tmp_path):
    rng = np.random.default_rng(5)
    C, H, W, T, k = 3, 8, 8, 40, 2
    path = pool_netx(tmp_path / "pool.net", C, H, W, k, weight=40.0)
    X = (rng.random((2, C, H, W, T)) < 0.4).astype(np.int64)
    y = emulate_all(path, X)
    for i in range(2):
        lava = loihi_snn.run(path, X[i])
        assert lava.sum() > 20
        np.testing.assert_array_equal(y[i], lava)


def test_average_then_dense_with_bias_equals_lava(tmp_path):
    """dense (with bias) -> average (graded group sums, no latency) -> dense reading the
    sums as graded input; and an average output layer returns population means."""
    rng = np.random.default_rng(6)
    n_in, n_hidden, groups, n_out, T = 16, 12, 4, 5, 40
    w1 = rng.integers(-60, 120, size=(n_hidden, n_in)) * 2
    w2 = rng.integers(-20, 60, size=(n_out, groups)) * 2
    hidden = {"type": "dense", "shape": [n_hidden], "weight": w1.astype(np.float32),
              "bias": rng.integers(-3, 8, size=n_hidden).astype(np.float32), "neuron": CUBA}
    avg = {"type": "average", "shape": [groups]}
    x = (rng.random((n_in, T)) < 0.4).astype(np.int64)

    path = write_netx(tmp_path / "avg_dense.net", [
        hidden, avg, {"type": "dense", "shape": [n_out], "weight": w2.astype(np.float32),
                      "neuron": dict(CUBA, vThMant=20)}])
    lava = loihi_snn.run(path, x)
    y = emulate_all(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)

    path = write_netx(tmp_path / "avg.net", [hidden, avg])
    lava = loihi_snn.run(path, x)
    y = emulate_all(path, x[None])[0]
    assert y.dtype == np.float64 and lava.sum() > 10
    np.testing.assert_array_equal(y, lava)


def test_reset_schedule_equals_lava(tmp_path):
    """reset_interval/reset_offset zero each layer's state on the loader's schedule."""
    from loihi_snn import load
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 7, path)
    net = load(path, reset_interval=9, reset_offset=2)
    lava = loihi_snn.run(net, x)
    y = emulate_all(path, x[None], reset_interval=9, reset_offset=2)[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)
    assert not np.array_equal(y, emulate(path, x[None])[0])

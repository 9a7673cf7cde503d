"""The batched emulator returns exactly what per-layer Lava fixed_pt returns.

References are real Lava runs of the per-layer network (``loihi_snn.run``, backend
``lava-fixed``), which test_slayer_parity.py / test_netx_shared.py tie to stock netx
and SLAYER.  Batch semantics: a batch of N equals N single runs.
"""
from __future__ import annotations

import dataclasses

import h5py
import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.sim.emulator import (NEURON_STEPS, Emulator, UnsupportedByEmulator, emulate,
                                register_neuron_step)
from loihi_snn.core.errors import LoihiSnnError, ShapeError
from loihi_snn.torch.export import export_blocks
from loihi_snn.netx.schema import read_netx

from test_pool_average import CUBA, _write_neuron
from test_slayer_parity import (_net_conv, _net_dense, _net_dense_delay, _net_pool,
                                _net_recurrent, _slayer_forward)

SLAYER_NETS = [_net_dense, _net_dense_delay, _net_recurrent, _net_conv, _net_pool]
SLAYER_IDS = ["dense", "dense-delay", "dense_rec", "conv", "conv-pool"]


def oxford_input(shared_netx) -> np.ndarray:
    from lava.lib.dl import slayer
    events = slayer.io.read_np_spikes(str(shared_netx / "oxford" / "input.npy"))
    return np.asarray(events.to_tensor(dim=(1, 200, 2000))).reshape(200, 2000).astype(np.int64)


def export_slayer(make, seed, path):
    """Export a random SLAYER net from test_slayer_parity; returns (x (C.., T), blocks)."""
    blocks, x, input_shape = make(seed)
    _slayer_forward(blocks, x)                   # sets SLAYER's lazy shapes
    export_blocks(blocks, path, input_shape=input_shape)
    return x[0].numpy().astype(np.int64), blocks


def slayer_batch(blocks, X: np.ndarray) -> np.ndarray:
    blocks.eval()
    with torch.no_grad():
        y = torch.from_numpy(X).float()
        for b in blocks:
            y = b(y)
    return y.numpy()


def write_tinynet_with_bias(shared_netx):
    """tinynet's spec with its input_bias.npy as the input layer's bias (file order)."""
    spec = read_netx(shared_netx / "tinynet" / "tiny.net")
    bias_whc = np.load(shared_netx / "tinynet" / "input_bias.npy")
    layer0 = spec.layers[0]
    fields = dict(layer0.fields, bias=bias_whc.transpose(2, 1, 0))
    layers = [dataclasses.replace(layer0, fields=fields)] + spec.layers[1:]
    return dataclasses.replace(spec, layers=layers), bias_whc


def write_layers(path, layers):
    """Write a NetX file from [(type, {dataset: value}, neuron_params or None)]."""
    with h5py.File(path, "w") as f:
        for i, (ltype, data, neuron) in enumerate(layers):
            g = f.create_group(f"layer/{i}")
            g.create_dataset("type", (1,), "S10", [ltype.encode()])
            for k, v in data.items():
                g.create_dataset(k, data=v)
            if neuron is not None:
                _write_neuron(g, neuron)
    return path


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
    y = emulate(path, X)
    assert y.shape == (3, 200, T)
    for i, steps in enumerate((T, 100, 100)):
        lava = loihi_snn.run(path, X[i, :, :steps])
        assert lava.sum() > 30
        np.testing.assert_array_equal(y[i, :, :steps], lava)


def test_tinynet_with_input_bias_and_spikes_equals_lava(shared_netx):
    """tinynet (input neurons with per-neuron bias, two strided convs, LOIHI neurons)
    driven by its input_bias.npy plus random input spikes."""
    from loihi_snn import load
    spec, bias_whc = write_tinynet_with_bias(shared_netx)
    rng = np.random.default_rng(1)
    T = 40
    x = (rng.random((3, 16, 16, T)) < 0.2).astype(np.int64)
    net = load(shared_netx / "tinynet" / "tiny.net")
    net.in_layer.neuron.bias_mant.init = bias_whc
    lava = loihi_snn.run(net, x)
    y = emulate(spec, x[None])[0]
    assert lava.shape == (36, 1, 1, T) and lava.sum() > 20
    np.testing.assert_array_equal(y, lava)


def test_pilotnet_sdnn_is_refused_with_a_clear_error(shared_netx):
    with pytest.raises(UnsupportedByEmulator, match=r"layer 0: neuron type 'SDNN'"):
        emulate(shared_netx / "pilotnet_sdnn" / "network.net", np.zeros((1, 3, 33, 100, 2)))
    assert issubclass(UnsupportedByEmulator, LoihiSnnError)


# --------------------------------------------------------------------------- SLAYER nets

@pytest.mark.parametrize("make", SLAYER_NETS, ids=SLAYER_IDS)
def test_random_slayer_net_equals_lava_and_batches(make, tmp_path):
    """One input against per-layer Lava; a batch of four against four single emulations
    and SLAYER's batched forward (which test_slayer_parity ties to Lava)."""
    path = tmp_path / "net.net"
    x, blocks = export_slayer(make, 2, path)
    lava = loihi_snn.run(path, x)
    y = emulate(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava.reshape(y.shape))

    rng = np.random.default_rng(3)
    X = (rng.random((4,) + x.shape) < 0.3).astype(np.int64)
    yb = emulate(path, X)
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
    x, _ = export_slayer(_net_dense, 4, path)
    rng = np.random.default_rng(4)
    x = x * rng.integers(-3, 4, size=x.shape)
    lava = loihi_snn.run(path, x)
    y = emulate(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)
    # forced binary input: every non-zero value counts as one spike
    np.testing.assert_array_equal(emulate(path, x[None], input_message_bits=0),
                                  emulate(path, (x != 0)[None].astype(np.int64)))


# --------------------------------------------------------------------------- pool, average

def test_pool_file_equals_lava(tmp_path):
    rng = np.random.default_rng(5)
    C, H, W, T, k = 3, 8, 8, 40, 2
    path = write_layers(tmp_path / "pool.net", [
        ("input", {"shape": [C, H, W]}, None),
        ("pool", {"shape": [C, H // k, W // k], "kernelSize": [k, k], "stride": [k, k],
                  "padding": [0, 0], "dilation": [1, 1], "weight": np.full((1, 1, k, k), 40.0)},
         CUBA)])
    X = (rng.random((2, C, H, W, T)) < 0.4).astype(np.int64)
    y = emulate(path, X)
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
    hidden = ("dense", {"shape": [n_hidden], "weight": w1.astype(np.float32),
                        "bias": rng.integers(-3, 8, size=n_hidden).astype(np.float32)}, CUBA)
    avg = ("average", {"shape": [groups]}, None)
    x = (rng.random((n_in, T)) < 0.4).astype(np.int64)

    path = write_layers(tmp_path / "avg_dense.net", [
        hidden, avg, ("dense", {"shape": [n_out], "weight": w2.astype(np.float32)},
                      dict(CUBA, vThMant=20))])
    lava = loihi_snn.run(path, x)
    y = emulate(path, x[None])[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)

    path = write_layers(tmp_path / "avg.net", [hidden, avg])
    lava = loihi_snn.run(path, x)
    y = emulate(path, x[None])[0]
    assert y.dtype == np.float64 and lava.sum() > 10
    np.testing.assert_array_equal(y, lava)


def test_reset_schedule_equals_lava(tmp_path):
    """reset_interval/reset_offset zero each layer's state on the loader's schedule."""
    from loihi_snn import load
    path = tmp_path / "net.net"
    x, _ = export_slayer(_net_dense, 7, path)
    net = load(path, reset_interval=9, reset_offset=2)
    lava = loihi_snn.run(net, x)
    y = emulate(path, x[None], reset_interval=9, reset_offset=2)[0]
    assert lava.sum() > 10
    np.testing.assert_array_equal(y, lava)
    assert not np.array_equal(y, emulate(path, x[None])[0])


# --------------------------------------------------------------------------- units, errors

@pytest.mark.parametrize("groups,stride,padding,dilation,graded", [
    (1, (1, 1), (1, 1), (1, 1), False), (2, (2, 1), (1, 0), (1, 2), True),
    (4, (1, 2), (0, 2), (2, 1), True)])
def test_conv_synapse_equals_lava_conv(groups, stride, padding, dilation, graded):
    """The emulator's im2col conv (file order, float32 sums) == lava.proc.conv.utils.conv
    (Lava order, float64) on the kernel the loader flips, then 24-bit wrap, as lava's
    Conv fixed_pt model; a batch of two equals two single samples."""
    from lava.proc.conv import utils
    from loihi_snn.sim.emulator.synapses import ConvSynapse
    from loihi_snn.sim.lava.loader import _conv_weight_to_lava
    rng = np.random.default_rng(groups)
    cin, cout, H, W, kh, kw = 4, 8, 9, 7, 3, 2
    w = rng.integers(-128, 128, size=(cout, cin // groups, kh, kw)) * 2
    x = rng.integers(-50, 50, size=(cin, H, W)) if graded else (rng.random((cin, H, W)) < 0.5)
    out_h = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (W + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    syn = ConvSynapse(w, (cin, H, W), (cout, out_h, out_w), stride, padding, dilation, groups,
                      binary=not graded)
    state = syn.init_state(2)
    syn.receive(state, np.stack([x, x[:, ::-1]]))
    wl = _conv_weight_to_lava(w).astype(np.int32)
    ref = utils.conv(x.transpose(2, 1, 0).astype(np.int32 if graded else bool), wl,
                     wl.shape[1:3], stride[::-1], padding[::-1], dilation[::-1], groups)
    ref = utils.signed_clamp(ref, bits=24).transpose(2, 1, 0)
    assert np.abs(ref).sum() > 0
    np.testing.assert_array_equal(syn.send(state)[0], ref)
    single = syn.init_state(1)
    syn.receive(single, x[None, :, ::-1])
    np.testing.assert_array_equal(syn.send(state)[1], syn.send(single)[0])
    # graded input too large for float32 sums: float64 path, same integers
    if graded:
        big = x * 40000
        syn.receive(single, big[None])
        ref_big = utils.conv(big.transpose(2, 1, 0).astype(np.int32), wl, wl.shape[1:3],
                             stride[::-1], padding[::-1], dilation[::-1], groups)
        np.testing.assert_array_equal(syn.send(single)[0],
                                      utils.signed_clamp(ref_big, bits=24).transpose(2, 1, 0))


def test_neuron_steps_are_dispatched_by_type(tmp_path):
    """NEURON_STEPS is keyed by NetX neuron type; a registered type is what runs."""
    assert {"CUBA", "LOIHI"} <= set(NEURON_STEPS)
    path = tmp_path / "net.net"
    x, _ = export_slayer(_net_dense, 8, path)
    spec = read_netx(path)
    calls = []

    @register_neuron_step("CUBA_COUNTING")
    def _counting(layer, bias, is_input):
        inner = NEURON_STEPS["CUBA"](layer, bias, is_input)

        def step(state, a_in):
            calls.append(layer.index)
            return inner.step(state, a_in)
        return dataclasses.replace(inner, step=step)

    try:
        layers = [dataclasses.replace(l, neuron=dataclasses.replace(l.neuron, type="CUBA_COUNTING"))
                  for l in spec.layers]
        y = emulate(dataclasses.replace(spec, layers=layers), x[None])
    finally:
        del NEURON_STEPS["CUBA_COUNTING"]
    np.testing.assert_array_equal(y, emulate(spec, x[None]))
    # run() goes layer by layer over blocks of steps: each layer's step runs T times
    assert sorted(set(calls)) == [0, 1]
    assert calls.count(0) == calls.count(1) == x.shape[-1]


def test_input_errors(tmp_path):
    path = tmp_path / "net.net"
    x, _ = export_slayer(_net_dense, 9, path)
    with pytest.raises(ShapeError, match="does not match"):
        emulate(path, x)                               # batch axis missing
    with pytest.raises(ShapeError, match="integer"):
        emulate(path, x[None] * 0.5)
    with pytest.raises(ShapeError, match="NaN"):
        emulate(path, np.full((1,) + x.shape, np.nan))
    y = emulate(path, x[None], steps=x.shape[-1] + 5)  # steps beyond T: zero input
    assert y.shape == (1, 12, x.shape[-1] + 5)
    np.testing.assert_array_equal(y[..., :x.shape[-1]], emulate(path, x[None]))
    emu = Emulator(path)
    assert emu.lava_input_shape == (30,) and emu.lava_output_shape == (12,)


@pytest.mark.parametrize("make", SLAYER_NETS, ids=SLAYER_IDS)
def test_blocks_of_steps_equal_step_by_step(make, tmp_path, monkeypatch):
    """Emulator.run goes layer by layer over blocks of steps (run_block); that equals
    Emulator.step called once per step (what the fused LoihiProtocol model does),
    across block boundaries, with delays, recurrence, a reset schedule and a batch."""
    path = tmp_path / "net.net"
    x, _ = export_slayer(make, 21, path)
    rng = np.random.default_rng(21)
    X = (rng.random((2,) + x.shape) < 0.3).astype(np.int64)
    X[0] = x
    steps = x.shape[-1] + 4
    emu = Emulator(path, reset_interval=7, reset_offset=2)
    state = emu.init_state(2)
    xt = np.moveaxis(X, -1, 0)
    want = np.stack([emu.step(state, xt[t] if t < x.shape[-1] else 0 * xt[0], t + 1)
                     for t in range(steps)], axis=-1)
    assert want.sum() > 5
    largest = emu._largest_layer
    for block in (1, 5, steps):          # steps per run_block call
        monkeypatch.setattr(Emulator, "BLOCK_ELEMENTS", block * 2 * largest)
        assert emu.block_steps(2) == block
        np.testing.assert_array_equal(emu.run(X, steps), want)


def test_spike_counts_do_not_depend_on_chunks_or_blocks(shared_netx):
    """``run(spike_counts=...)`` fills (L, N, T) the same whatever the sample chunks and
    step blocks, and its last layer counts the output's spikes."""
    path = shared_netx / "oxford" / "network.net"
    X = (np.random.default_rng(4).random((5, 200, 30)) < 0.2).astype(np.int32)
    plain = Emulator(path)
    counts = np.zeros((len(plain.neuron_layer_sizes), 5, 30), dtype=np.int64)
    y = plain.run(X, spike_counts=counts)
    assert plain.neuron_layer_sizes == (256, 200)
    np.testing.assert_array_equal(counts[-1], np.count_nonzero(y, axis=1))
    assert counts[0].sum() > 0
    small = Emulator(path)
    small.CHUNK_ELEMENTS = 2 * 256               # 2 samples per chunk
    small.BLOCK_ELEMENTS = 2 * 256 * 7           # 7 steps per block
    counts_small = np.zeros_like(counts)
    np.testing.assert_array_equal(small.run(X, spike_counts=counts_small), y)
    np.testing.assert_array_equal(counts_small, counts)
    y2, counts2, sizes = emulate(path, X, return_spike_counts=True)
    np.testing.assert_array_equal(y2, y)
    np.testing.assert_array_equal(counts2, counts)
    assert sizes.tolist() == [256, 200]

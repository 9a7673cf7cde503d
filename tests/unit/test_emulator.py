"""The emulator's own pieces: conv synapse, neuron-step dispatch, input checks, blocks
of steps and chunks of samples, refusals.

Its equality with per-layer Lava fixed_pt runs is in parity/test_emulator_vs_lava.py.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loihi_snn.app.cli import main
from loihi_snn import families
from loihi_snn.netx.lower import conv_weight_to_lava
from loihi_snn.sim.emulator import Emulator, UnsupportedByEmulator, emulate
from loihi_snn.core.errors import ShapeError
from loihi_snn.netx.schema import read_netx

from helpers import SLAYER_IDS, SLAYER_NETS, export_slayer, net_dense


def test_neuron_type_without_step_is_refused_with_a_clear_error(shared_netx, tmp_path, capsys,
                                                               monkeypatch):
    """A neuron family without an emulator step (here SDNN with its step taken away; every
    built-in family has one) is refused in one line naming the layer and the type."""
    path = tmp_path / "pilotnet_sdnn.net"      # a fresh path: no compiled emulator cached
    path.write_bytes((shared_netx / "pilotnet_sdnn" / "network.net").read_bytes())
    monkeypatch.setitem(families.FAMILIES, "SDNN",
                        dataclasses.replace(families.get("SDNN"), emulator_step=None))
    with pytest.raises(UnsupportedByEmulator, match=r"layer 0: neuron type 'SDNN'"):
        emulate(path, np.zeros((1, 3, 33, 100, 2)))
    # the refusal is one of the package's errors, so the CLI reports it as users' errors
    # are reported: one 'error:' line naming the neuron type, exit status 2, no output
    np.save(tmp_path / "x.npy", np.zeros((3, 33, 100, 2), np.int64))
    code = main(["run", str(path), "--input", str(tmp_path / "x.npy"), "--backend", "emulator",
                 "--out", str(tmp_path / "y.npy")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "SDNN" in err, err
    assert not (tmp_path / "y.npy").exists()


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
    wl = conv_weight_to_lava(w).astype(np.int32)
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
    """The emulator steps each layer with its family's step (families registry, keyed by
    NetX neuron type); a registered type is what runs."""
    assert {"CUBA", "LOIHI"} <= {t for t, f in families.FAMILIES.items() if f.emulator_step}
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 8, path)
    spec = read_netx(path)
    calls = []

    cuba = families.get("CUBA")

    def _counting(layer, bias, is_input):
        inner = cuba.emulator_step(layer, bias, is_input)

        def step(state, a_in):
            calls.append(layer.index)
            return inner.step(state, a_in)

        def run(state, a_block):            # the block form: one call for T steps
            calls.extend([layer.index] * int(a_block.shape[0]))
            return inner.run(state, a_block)
        return dataclasses.replace(inner, step=step, run=run)

    families.register(dataclasses.replace(cuba, netx_types=("CUBA_COUNTING",),
                                          emulator_step=_counting, training=()))
    try:
        layers = [dataclasses.replace(l, neuron=dataclasses.replace(l.neuron, type="CUBA_COUNTING"))
                  for l in spec.layers]
        y = emulate(dataclasses.replace(spec, layers=layers), x[None])
    finally:
        families.unregister("CUBA_COUNTING")
    np.testing.assert_array_equal(y, emulate(spec, x[None]))
    # run() goes layer by layer over blocks of steps: each layer's neurons run T steps
    assert sorted(set(calls)) == [0, 1]
    assert calls.count(0) == calls.count(1) == x.shape[-1]


def test_input_errors(tmp_path):
    path = tmp_path / "net.net"
    x, _ = export_slayer(net_dense, 9, path)
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

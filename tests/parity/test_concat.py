"""``concat`` layers (skip connections), which stock netx refuses: a dense skip net and a
small U-Net-like conv net trained with SLAYER blocks (and ours) in a
:class:`~loihi_snn.torch.blocks.concat.SkipNet`, exported as the NetX superset's
``concat`` layer, run spike for spike alike on the trainer's quantized forward,
lava-fixed (one Gather per source into the consumer's port), lava-fused and the
emulator (numpy and torch); the branches are aligned as the trainer aligns them, with no
step of latency in the concatenation (netx/concat.py).  Broken files are refused in one
line naming file, layer and field (exit status 2 from the CLI)."""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import NetxFormatError, OptionError

from helpers import CUBA, assert_one_error_line, cli, write_netx

STEPS = 32
LIF = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03, "reset": "soft",
       "tau_grad": 0.03, "scale_grad": 3.0}


def _skip_net(kind: str, seed: int = 0):
    """A SkipNet, one input (1, C.., STEPS) of 0/1 spikes and its input shape.

    dense: three dense blocks, then the concat of the third, the first and the raw
    input (branches 3, 1 and 0 blocks deep) into a dense output; "dense-lif": the same
    with our LIF blocks (soft reset); unet: conv -> strided conv -> convT back up ->
    concat with the first conv (a U-Net skip) -> conv -> flatten -> concat with the
    strided conv's flat output -> dense."""
    import torch
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy

    from helpers import NEURON
    from loihi_snn.torch.blocks import Concat, Flatten, SkipNet
    from loihi_snn.torch.blocks import Dense as LIFDense
    torch.manual_seed(seed)
    cuba = slayer.block.cuba
    if kind in ("dense", "dense-lif"):
        if kind == "dense":
            def dense(i, o):
                return cuba.Dense(NEURON, i, o, weight_scale=3)
        else:
            def dense(i, o):
                return LIFDense(LIF, i, o, weight_scale=3)
        blocks = [dense(20, 16), dense(16, 12), dense(12, 10),
                  Concat([2, 0, -1]),                       # 10 + 16 + 20 features
                  dense(46, 8)]
        shape = (20,)
    else:
        blocks = [cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),            # (4, 8, 8)
                  cuba.Conv(NEURON, 4, 6, 3, stride=2, padding=1, weight_scale=3),  # (6, 4, 4)
                  cuba.ConvT(NEURON, 6, 4, 2, stride=2, weight_scale=3),            # (4, 8, 8)
                  Concat([2, 0]),                                                   # (8, 8, 8)
                  cuba.Conv(NEURON, 8, 3, 3, padding=1, weight_scale=3),            # (3, 8, 8)
                  Flatten(),                                                        # 192
                  cuba.Dense(NEURON, 192, 24, weight_scale=3),
                  Concat([6, 5]),                  # 24 + 192: a flatten is a source too
                  cuba.Dense(NEURON, 24 + 192, 10, weight_scale=3)]
        shape = (2, 8, 8)
    x = (torch.rand((1,) + shape + (STEPS,)) < 0.3).float()
    return SkipNet(blocks), x, shape


def _exported(kind, tmp_path, seed=0):
    import torch

    from loihi_snn.torch.export import export_blocks
    net, x, shape = _skip_net(kind, seed)
    net.eval()
    with torch.no_grad():            # the quantized forward; also sets SLAYER's shapes
        expect = net(x)[0].numpy()
    path = tmp_path / f"{kind}.net"
    export_blocks(net.blocks, path, input_shape=shape)
    return path, x[0].numpy().astype(np.int64), expect


@pytest.mark.parametrize("kind", ["dense", "dense-lif", "unet"])
def test_skip_net_equals_lava_fixed_fused_and_emulator(kind, tmp_path):
    path, xs, expect = _exported(kind, tmp_path)
    spec = loihi_snn.read_netx(path)
    concats = [l for l in spec.layers if l.type == "concat"]
    assert concats and expect.sum() > 10, "test network too quiet to be a meaningful comparison"
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None])[0], expect)
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None], device="cpu")[0], expect)
    for backend in ("lava-fixed", "lava-fused"):
        y = loihi_snn.run(path, xs, backend=backend)
        np.testing.assert_array_equal(y.reshape(expect.shape), expect, err_msg=backend)


def test_the_skip_branch_matters(tmp_path):
    """The concat carries real traffic: zeroing the skip branch's weights in the file
    changes the output (so the parity above is not the long branch alone)."""
    import h5py
    path, xs, expect = _exported("unet", tmp_path)
    with h5py.File(path, "r+") as f:
        w = f["layer/5/weight"][...]          # the conv after the concat: (3, 8, 3, 3[, 1])
        w[:, 4:] = 0                          # input channels 4..7: the first conv's skip
        f["layer/5/weight"][...] = w
    assert not np.array_equal(loihi_snn.emulate(path, xs[None])[0], expect)


def test_run_many_runs_each_sample_fresh(tmp_path):
    """Many samples through one lava-fused run (one lane per sample: a staggered reset
    would cut a sample whose branches arrive at different steps), the per-layer Lava
    stream and the emulator's batch equal the trainer's forward of each sample; an
    explicit reset_interval is refused."""
    import torch
    path, _, _ = _exported("dense", tmp_path)
    net, _, _ = _skip_net("dense")
    net.eval()
    torch.manual_seed(5)
    X = (torch.rand(3, 20, STEPS) < 0.3).float()
    with torch.no_grad():
        expect = net(X).numpy()
    Xi = X.numpy().astype(np.int64)
    np.testing.assert_array_equal(loihi_snn.emulate(path, Xi), expect)
    np.testing.assert_array_equal(loihi_snn.run_many(path, Xi, backend="lava-fused"), expect)
    # the per-layer stream: the cutoff controller (off) resets every neuron at once
    np.testing.assert_array_equal(loihi_snn.run_many(path, Xi, backend="lava-fixed"), expect)
    with pytest.raises(OptionError, match="concat") as err:
        loihi_snn.emulate(path, Xi, reset_interval=40)
    assert "\n" not in str(err.value)


def test_stock_netx_refuses_what_we_run(tmp_path):
    from lava.lib.dl import netx  # lazy: Lava is heavy
    path, _, _ = _exported("dense", tmp_path)
    with pytest.raises(NotImplementedError):
        netx.hdf5.Network(net_config=str(path))


# ------------------------------------------------------------------ without Lava

def _dense_file(path, inputs, shape=None, **extra):
    """input (6,) -> dense 4 -> dense 3 -> concat(inputs) -> dense 2 (CUBA)."""
    w = np.full((4, 6), 40.0, np.float32)
    layers = [{"type": "input", "shape": [6]},
              {"type": "dense", "shape": [4], "weight": w, "neuron": CUBA},
              {"type": "dense", "shape": [3], "weight": np.full((3, 4), 40.0, np.float32),
               "neuron": CUBA},
              dict({"type": "concat", "inputs": np.asarray(inputs)}, **extra),
              {"type": "dense", "shape": [2],
               "weight": np.full((2, int(shape[0]) if shape else 13), 30.0, np.float32),
               "neuron": CUBA}]
    if shape is not None:
        layers[3]["shape"] = shape
    return write_netx(path, layers)


def test_emulator_equals_a_numpy_reference(tmp_path):
    """input -> dense -> dense -> concat(layer 2, layer 1, the raw input) -> dense: the
    emulator equals the integer CUBA written out here, every synapse one step, the
    concatenation none."""
    from loihi_snn.core.lif import LIFParams, lif_fixed_step
    path = _dense_file(tmp_path / "c.net", [2, 1, 0], shape=[13])
    x = (np.random.default_rng(1).random((6, 24)) < 0.4).astype(np.int64)
    p = LIFParams(CUBA["iDecay"], CUBA["vDecay"], CUBA["vThMant"])

    def layer(w, a_seq):
        u = np.zeros(w.shape[0], np.int64)
        v = np.zeros_like(u)
        out, prev = [], np.zeros(w.shape[1], np.int64)
        for a in a_seq:                              # the synapse sends what it had
            s, u, v = lif_fixed_step(u, v, w @ prev, p)
            prev = a
            out.append(s.astype(np.int64))
        return np.stack(out)

    s1 = layer(np.full((4, 6), 40), x.T)
    s2 = layer(np.full((3, 4), 40), s1)
    s3 = layer(np.full((2, 13), 30), np.concatenate([s2, s1, x.T], axis=1))
    y = loihi_snn.emulate(path, x[None])[0]
    assert s3.sum() > 0
    np.testing.assert_array_equal(y, s3.T)


@pytest.mark.parametrize("inputs, shape, field, words", [
    ([2, 5], None, "inputs", "index 5 is not an earlier layer"),
    ([-1, 2], None, "inputs", "index -1 is not an earlier layer"),
    ([], None, "inputs", "non-empty"),
    ([2, 1], [9], "shape", "declares (9,)"),
])
def test_a_bad_concat_is_refused_in_one_line(tmp_path, inputs, shape, field, words):
    path = _dense_file(tmp_path / "bad.net", inputs, shape=shape)
    with pytest.raises(NetxFormatError) as err:
        loihi_snn.read_netx(path)
    assert err.value.layer == 3 and err.value.field == field
    assert words in str(err.value) and "\n" not in str(err.value)
    assert_one_error_line(cli("info", path), str(path), "layer 3", field)


def test_concat_needs_matching_maps_and_is_not_last(tmp_path):
    conv = {"type": "conv", "shape": [2, 4, 4], "weight": np.full((2, 1, 3, 3, 1), 20.0),
            "padding": [1, 1], "neuron": CUBA}
    strided = dict(conv, shape=[2, 2, 2], weight=np.full((2, 2, 3, 3, 1), 20.0),
                   stride=[2, 2])
    path = write_netx(tmp_path / "maps.net", [
        {"type": "input", "shape": [1, 4, 4]}, conv, strided,
        {"type": "concat", "inputs": np.array([2, 1])},
        {"type": "dense", "shape": [2], "weight": np.ones((2, 40)), "neuron": CUBA}])
    with pytest.raises(NetxFormatError, match=r"\(H, W\) must agree") as err:
        loihi_snn.read_netx(path)
    assert err.value.layer == 3
    path = write_netx(tmp_path / "last.net", [
        {"type": "input", "shape": [1, 4, 4]}, conv,
        {"type": "concat", "inputs": np.array([1, 0])}])
    with pytest.raises(NetxFormatError, match="cannot be the last layer"):
        loihi_snn.read_netx(path)


def test_info_resources_and_nir_export(tmp_path):
    """``info`` names the sources; the Loihi 2 estimate gives a concat no neurons or
    cores; the metrics count one connection per source; NIR export refuses in one line."""
    from loihi_snn.netx import resources
    from loihi_snn.sim.metrics import cost_plan
    path = _dense_file(tmp_path / "c.net", [2, 1, 0], shape=[13])
    proc = cli("info", path)
    assert proc.returncode == 0 and "inputs=[2, 1, 0]" in proc.stdout, proc.stdout
    est = resources.estimate(loihi_snn.read_netx(path))
    assert (est.layers[3].neurons, est.layers[3].cores) == (0, 0)
    plan = cost_plan(path)
    into = [(c.source, int(c.fanout.size)) for c in plan.connections if c.layer == 4]
    assert into == [(2, 3), (1, 4), (None, 6)]
    assert sum(c.synapses for c in plan.connections if c.layer == 4) == 26
    assert_one_error_line(cli("export-nir", path, "--out", tmp_path / "c.nir"), "layer 3", "concat")


def test_a_skip_net_trains_and_still_exports_exactly(tmp_path):
    """A few surrogate-gradient steps through the concat (gradients reach every branch,
    the raw input's too), then the exported file equals the trained net's quantized
    forward on the emulator."""
    import torch

    from loihi_snn.torch.export import export_blocks
    net, x, shape = _skip_net("dense", seed=2)
    X = (torch.rand(8, 20, STEPS) < 0.3).float()
    target = torch.randint(0, 8, (8,))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    params = [p for p in net.parameters() if p.requires_grad]       # the weights
    before = [p.detach().clone() for p in params]
    net.train()
    for _ in range(3):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(X).sum(-1), target)
        loss.backward()
        opt.step()
    moved = [not torch.equal(a, p) for a, p in zip(before, params)]
    assert len(moved) == 4 and all(moved), moved
    net.eval()
    with torch.no_grad():
        expect = net(X).numpy()
    path = tmp_path / "trained.net"
    export_blocks(net.blocks, path, input_shape=shape)
    assert expect.sum() > 10
    np.testing.assert_array_equal(loihi_snn.emulate(path, X.numpy().astype(np.int64)), expect)


def test_metrics_count_every_branch_alike_on_lava_and_the_emulator(tmp_path):
    """NeuroBench's counts of a skip net (one connection per concat source): the
    per-layer Lava run and the emulator record the same spikes and operations."""
    from loihi_snn.sim.metrics import measure_activity
    path, xs, _ = _exported("dense", tmp_path)
    X = xs[None]
    emu = measure_activity(path, X, backend="emulator")
    lava = measure_activity(path, X, backend="lava-fixed")
    assert [c.layer for c in emu[0].connections] == [1, 2, 3, 5, 5, 5]
    np.testing.assert_array_equal(emu[1].spikes, lava[1].spikes)
    np.testing.assert_array_equal(emu[1].ops, lava[1].ops)
    assert emu[1].ops[3:].sum() > 0


def test_graded_input_range_counts_the_layer_after_a_concat_of_the_raw_input(tmp_path):
    """A graded input reaches the first dense layer (fan 6 x 40) and, through the
    concat, the last one (fan 13 x 30, the larger): the accepted range is set by it."""
    from loihi_snn.netx.inputs import STATE_INPUT_LIMIT, max_graded_input
    spec = loihi_snn.read_netx(_dense_file(tmp_path / "c.net", [2, 1, 0], shape=[13]))
    assert max_graded_input(spec) == (STATE_INPUT_LIMIT >> 6) // (13 * 30)
    spec = loihi_snn.read_netx(_dense_file(tmp_path / "d.net", [2, 1], shape=[7]))
    assert max_graded_input(spec) == (STATE_INPUT_LIMIT >> 6) // (6 * 40)

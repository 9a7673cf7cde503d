"""Layers SLAYER trains and stock netx refuses: ``convT`` (transposed conv) and ``unpool``.

Networks built with stock ``slayer.block.cuba.ConvT`` / ``Unpool`` and exported by
SLAYER's own ``export_hdf5`` run spike for spike alike on SLAYER's quantized forward,
lava-fixed (a Gather process into lava's Conv), lava-fused and the emulator (numpy and
torch).  Without Lava: the emulator equals a reference written here from torch's
``conv_transpose2d`` and :func:`loihi_snn.core.lif.lif_fixed_step`, and a broken layer is
refused in one line naming file, layer and field.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.core.lif import LIFParams, lif_fixed_step
from loihi_snn.netx.transposed import lower_transposed, transposed_synapses

from helpers import CUBA, write_netx

STEPS = 32


def _slayer_net(kind: str, seed: int):
    """SLAYER CUBA blocks and one input (1, C, H, W, STEPS) of 0/1 spikes."""
    import torch
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy

    from helpers import NEURON
    torch.manual_seed(seed)
    cuba = slayer.block.cuba
    if kind == "conv-convT-unpool":       # down, up (stride 2, padding 1), unpool 2x2, dense
        blocks = [cuba.Conv(NEURON, 2, 4, 3, stride=2, weight_scale=3),
                  cuba.ConvT(NEURON, 4, 3, 3, stride=2, padding=1, weight_scale=3),
                  cuba.Unpool(NEURON, 2, weight_scale=3),
                  cuba.Flatten(),
                  cuba.Dense(NEURON, 3 * 18 * 18, 10, weight_scale=3)]
        shape = (2, 12, 12)
    elif kind == "groups-dilation":       # grouped, dilated, non-square convT
        blocks = [cuba.ConvT(NEURON, 4, 6, (3, 2), stride=(2, 1), padding=(2, 0),
                             dilation=(2, 1), groups=2, weight_scale=3),
                  cuba.Flatten(),
                  cuba.Dense(NEURON, 6 * 11 * 7, 8, weight_scale=3)]
        shape = (4, 6, 6)
    else:    # "unpool-overlap": an overlapping unpool (kernel 4, stride 2, padding 1), so
        # rows of one channel reach the next one's through SLAYER's channel folding; output
        blocks = [cuba.ConvT(NEURON, 2, 3, 2, stride=2, weight_scale=3),
                  cuba.Unpool(NEURON, 4, stride=2, padding=1, weight_scale=1)]
        shape = (2, 4, 5)
    x = (torch.rand((1,) + shape + (STEPS,)) < 0.3).float()
    return torch.nn.ModuleList(blocks), x, shape


@pytest.mark.parametrize("kind", ["conv-convT-unpool", "groups-dilation", "unpool-overlap"])
def test_slayer_convt_unpool_equals_lava_fused_and_emulator(kind, tmp_path):
    from loihi_snn.torch.export import export_blocks

    from helpers import slayer_forward
    blocks, x, shape = _slayer_net(kind, seed=3)
    expect = slayer_forward(blocks, x)                    # also sets SLAYER's lazy shapes
    path = tmp_path / f"{kind}.net"
    export_blocks(blocks, path, input_shape=shape)         # SLAYER's own export_hdf5
    spec = loihi_snn.read_netx(path)
    assert {"convT", "unpool"} & {l.type for l in spec.layers}
    assert expect.sum() > 10, "test network too quiet to be a meaningful comparison"
    xs = x[0].numpy().astype(np.int64)
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None])[0], expect)
    np.testing.assert_array_equal(loihi_snn.emulate(path, xs[None], device="cpu")[0], expect)
    for backend in ("lava-fixed", "lava-fused"):
        y = loihi_snn.run(path, xs, backend=backend)
        np.testing.assert_array_equal(y.reshape(expect.shape), expect, err_msg=backend)


def test_stock_netx_refuses_what_we_run(tmp_path):
    """The same kind of file stops stock netx (NotImplementedError in hdf5.py)."""
    from lava.lib.dl import netx  # lazy: Lava is heavy
    from loihi_snn.torch.export import export_blocks

    from helpers import slayer_forward
    blocks, x, shape = _slayer_net("conv-convT-unpool", seed=0)
    slayer_forward(blocks, x)
    path = tmp_path / "net.net"
    export_blocks(blocks, path, input_shape=shape)
    with pytest.raises(NotImplementedError):
        netx.hdf5.Network(net_config=str(path))


# ------------------------------------------------------------------ without Lava

def _convT_file(path, w, stride, padding, dilation=(1, 1), groups=1, unpool_k=None,
                in_shape=(2, 4, 4)):
    """input -> convT (CUBA) [-> unpool 2x2 with weight 64 (CUBA)]; returns (path, spec)."""
    import torch
    c, h, wd = in_shape
    out = torch.nn.functional.conv_transpose2d(torch.zeros((1,) + in_shape, dtype=torch.float64),
                                               torch.tensor(w, dtype=torch.float64),
                                               stride=stride, padding=padding,
                                               dilation=dilation, groups=groups).shape[1:]
    layers = [{"type": "input", "shape": list(in_shape)},
              {"type": "convT", "shape": list(out), "inChannels": c,
               "outChannels": int(out[0]), "kernelSize": list(w.shape[2:]),
               "stride": list(stride), "padding": list(padding), "dilation": list(dilation),
               "groups": groups, "weight": w.astype(np.float32), "neuron": CUBA}]
    if unpool_k:
        layers.append({"type": "unpool", "shape": [int(out[0]), int(out[1]) * unpool_k,
                                                   int(out[2]) * unpool_k],
                       "kernelSize": [unpool_k] * 2, "stride": [unpool_k] * 2,
                       "padding": [0, 0], "dilation": [1, 1],
                       "weight": np.full((1, 1, unpool_k, unpool_k), 64.0), "neuron": CUBA})
    write_netx(path, layers)
    return path


def _lif(a_seq, shape):
    """Integer CUBA over time on a_seq (T, n) (the synapse delay already applied)."""
    u = np.zeros(a_seq.shape[1], np.int64)
    v = np.zeros_like(u)
    out = []
    for a in a_seq:
        s, u, v = lif_fixed_step(u, v, a, LIFParams(CUBA["iDecay"], CUBA["vDecay"],
                                                    CUBA["vThMant"]))
        out.append(s)
    return np.stack(out).astype(np.int64)


def _delay1(a):
    return np.concatenate([np.zeros_like(a[:1]), a[:-1]])


def test_emulator_equals_a_torch_conv_transpose_reference(tmp_path):
    """convT (grouped, dilated, padded) then an unpool: the emulator equals torch's
    conv_transpose2d (float64, exact here) into the integer LIF, and SLAYER's unpool
    (fold channels into rows, one-channel conv_transpose, unfold)."""
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    w = rng.integers(-40, 80, size=(2, 2, 3, 3)) * 2          # Cin=2, Cout/groups=2, 2 groups
    path = _convT_file(tmp_path / "t.net", w, (2, 2), (1, 1), (1, 1), groups=2, unpool_k=2)
    spec = loihi_snn.read_netx(path)
    x = (rng.random((2, 4, 4, STEPS)) < 0.4).astype(np.int64)

    xt = torch.tensor(np.moveaxis(x, -1, 0), dtype=torch.float64)               # (T, C, H, W)
    a1 = F.conv_transpose2d(xt, torch.tensor(w, dtype=torch.float64), stride=2, padding=1,
                            groups=2).numpy().astype(np.int64)                  # (T, 4, 7, 7)
    s1 = _lif(_delay1(a1.reshape(STEPS, -1)), a1.shape[1:]).reshape(a1.shape)
    T, c, h, wd = s1.shape
    folded = torch.tensor(s1.reshape(T, 1, c * h, wd), dtype=torch.float64)
    a2 = F.conv_transpose2d(folded, torch.full((1, 1, 2, 2), 64.0, dtype=torch.float64),
                            stride=2).numpy().astype(np.int64).reshape(T, -1)
    ref = _lif(_delay1(a2), None).reshape((T,) + spec.output_shape)
    y = loihi_snn.emulate(path, x[None])[0]
    assert s1.sum() > 20 and ref.sum() > 20
    np.testing.assert_array_equal(y, np.moveaxis(ref, 0, -1))


def test_info_counts_the_transposed_synapses_exactly(tmp_path):
    """``info``'s synapse count, the Loihi 2 estimate and the metrics' fan-outs are the
    non-zero connections of the transposed conv (a dense matrix of it, counted)."""
    import torch
    from loihi_snn.netx.describe import layer_table
    from loihi_snn.netx.resources import estimate
    from loihi_snn.sim.metrics import transposed_fanout
    rng = np.random.default_rng(1)
    w = rng.integers(-3, 3, size=(2, 3, 3, 3)) * 2
    path = _convT_file(tmp_path / "t.net", w, (2, 2), (2, 2), (1, 1), in_shape=(2, 5, 5))
    layer = loihi_snn.read_netx(path).layers[1]
    n_in = 2 * 5 * 5
    eye = torch.eye(n_in, dtype=torch.float64).reshape(n_in, 2, 5, 5)
    dense = torch.nn.functional.conv_transpose2d(eye, torch.tensor(w, dtype=torch.float64),
                                                 stride=2, padding=2).reshape(n_in, -1).numpy()
    assert transposed_synapses(layer) == np.count_nonzero(dense)
    assert layer_table(loihi_snn.read_netx(path))[1]["synapses"] == np.count_nonzero(dense)
    assert estimate(loihi_snn.read_netx(path)).layers[1].synapses == np.count_nonzero(dense)
    fan, fan_dense = transposed_fanout(layer)
    np.testing.assert_array_equal(fan, np.count_nonzero(dense, axis=1))
    sc = lower_transposed(layer)
    assert fan_dense.sum() >= fan.sum() and sc.conv_shape == layer.shape


@pytest.mark.parametrize("change,field", [
    ({"shape": [3, 9, 8]}, "shape"),
    ({"inChannels": 3}, "inChannels"),
    ({"weight": np.zeros((3, 3, 3, 3), np.float32)}, "weight"),
    ({"groups": 3}, "groups"),
])
def test_broken_convT_is_refused_in_one_line(tmp_path, change, field):
    rng = np.random.default_rng(2)
    w = rng.integers(-3, 3, size=(2, 3, 3, 3)) * 2
    path = _convT_file(tmp_path / "t.net", w, (2, 2), (0, 0), in_shape=(2, 4, 4))
    import h5py
    with h5py.File(path, "a") as f:
        for key, value in change.items():
            del f[f"layer/1/{key}"]
            f[f"layer/1/{key}"] = value
    with pytest.raises(NetxFormatError) as err:
        loihi_snn.read_netx(path)
    assert err.value.layer == 1 and err.value.field == field
    assert "\n" not in str(err.value)


def test_unpool_whose_rows_do_not_unfold_is_refused(tmp_path):
    """SLAYER's unpool folds C channels into C*H rows; an output row count that C does
    not divide cannot be unfolded (SLAYER's own reshape fails): one line."""
    path = write_netx(tmp_path / "u.net", [
        {"type": "input", "shape": [2, 3, 3]},
        {"type": "unpool", "shape": [2, 5, 5], "kernelSize": [3, 3], "stride": [2, 2],
         "padding": [1, 1], "dilation": [1, 1], "weight": np.full((1, 1, 3, 3), 64.0),
         "neuron": CUBA}])
    with pytest.raises(NetxFormatError, match="not a multiple of 2 channels") as err:
        loihi_snn.read_netx(path)
    assert err.value.layer == 1 and err.value.field == "shape"

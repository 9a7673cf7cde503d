"""Resonate-and-fire neurons (``RF_PHASE`` / ``RF_IZHIKEVICH``, lava's ``RF`` / ``RF_IZ``)
and the complex dense synapse they use (SLAYER's ``dense`` with ``weight/real`` and
``weight/imag``, netx's ``dense_comp``): networks trained with ``slayer.block.rf`` /
``rf_iz`` and exported by SLAYER run spike for spike alike on stock lava-dl netx, our
emulator, lava-fixed and lava-fused; what they cannot be is refused in one line."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from helpers.runners import run_stock_netx
from helpers.slayer_nets import slayer_forward

import loihi_snn
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.families.rf import rf_integers
from loihi_snn.torch.export import export_blocks

NEURON = {"threshold": 0.3, "period": 7, "decay": 0.1}
STEPS = 40


def rf_net(kind: str, seed: int = 0):
    """Two RF / RF_IZ dense blocks (the second with another period and decay) and an
    input (20, STEPS) of 0/1 spikes."""
    from lava.lib.dl import slayer  # lazy: lava-dl is heavy
    torch.manual_seed(seed)
    mod = slayer.block.rf if kind == "rf" else slayer.block.rf_iz
    blocks = torch.nn.ModuleList([
        mod.Dense(NEURON, 20, 16, weight_scale=2),
        mod.Dense(dict(NEURON, period=11, decay=0.05), 16, 8, weight_scale=2)])
    x = (torch.rand(1, 20, STEPS) < 0.3).float()
    slayer_forward(blocks, x)                    # sets SLAYER's lazy shapes
    return blocks, x[0].numpy().astype(np.int64)


@pytest.fixture(scope="module", params=["rf", "rf_iz"])
def rf_file(request, tmp_path_factory):
    blocks, x = rf_net(request.param)
    path = str(tmp_path_factory.mktemp("rf") / f"{request.param}.net")
    export_blocks(blocks, path)
    x = np.concatenate([x, np.zeros((x.shape[0], 4), np.int64)], axis=1)   # drain
    return request.param, path, x


def test_rf_file_reads_as_complex_dense_layers(rf_file):
    kind, path, _ = rf_file
    spec = loihi_snn.read_netx(path)
    want = "RF_PHASE" if kind == "rf" else "RF_IZHIKEVICH"
    assert [l.neuron.type for l in spec.layers] == [want, want]
    assert all("weight_imag" in l.fields for l in spec.layers)
    q = rf_integers(spec.layers[0].neuron.params)
    assert q.vth == spec.layers[0].neuron.params["vThMant"] << 6
    assert 0 < q.sin_decay < 4096 and 0 < q.cos_decay < 4096


def test_rf_stock_netx_emulator_lava_fixed_and_fused_agree(rf_file):
    """Stock netx (its ComplexDense + lava's RF / RF_IZ) == our emulator == lava-fixed
    == lava-fused, spike for spike (the input padded so no runner repeats it)."""
    _, path, x = rf_file
    emu = loihi_snn.emulate(path, x[None])[0]
    assert emu.sum() > 5
    stock = run_stock_netx(path, x, x.shape[-1])
    np.testing.assert_array_equal(stock, emu)
    np.testing.assert_array_equal(loihi_snn.run(path, x, backend="lava-fixed"), emu)
    np.testing.assert_array_equal(loihi_snn.run(path, x, backend="lava-fused"), emu)


def test_dense_comp_layer_type_runs_like_the_dense_form(rf_file, tmp_path):
    """The same file with netx's explicit ``dense_comp`` layer type: read and run alike.
    Stock netx 0.6 names the type but cannot build it (its ``Network`` has no
    ``create_complex_dense``): a layer we run where stock netx stops."""
    _, path, x = rf_file
    comp = str(tmp_path / "comp.net")
    with h5py.File(path, "r") as src, h5py.File(comp, "w") as dst:
        for key in src:
            src.copy(src[key], dst, key)
        for i in dst["layer"]:
            del dst["layer"][i]["type"]
            dst["layer"][i].create_dataset("type", (1,), "S10", [b"dense_comp"])
    want = loihi_snn.emulate(path, x[None])[0]
    np.testing.assert_array_equal(loihi_snn.emulate(comp, x[None])[0], want)
    np.testing.assert_array_equal(loihi_snn.run(comp, x, backend="lava-fixed"), want)
    with pytest.raises(AttributeError, match="create_complex_dense"):
        run_stock_netx(comp, x, x.shape[-1])


def test_info_and_resources_describe_rf_layers(rf_file):
    from loihi_snn.netx import describe, resources
    _, path, _ = rf_file
    spec = loihi_snn.read_netx(path)
    text = describe.format_table(spec, describe.layer_table(spec))
    assert "RF_" in text and "sinDecay" in text
    l0 = spec.layers[0]                                      # real and imaginary
    assert l0.num_synapses == np.count_nonzero(l0.fields["weight"]) + \
        np.count_nonzero(l0.fields["weight_imag"]) > 320
    est = resources.estimate(spec)
    assert est is not None
    assert not resources.errors(resources.check(spec))


def _edit(path, out, fn):
    with h5py.File(path, "r") as src, h5py.File(out, "w") as dst:
        for key in src:
            src.copy(src[key], dst, key)
        fn(dst)
    return out


@pytest.mark.parametrize("edit, field, words", [
    (lambda f: (f["layer/0/weight"].__delitem__("imag")), "weight", "weight/real and weight/imag"),
    (lambda f: (f["layer/0"].create_dataset("bias", data=np.ones(16))), "bias", "no bias"),
    (lambda f: (f["layer/0/neuron"].__delitem__("type"),
                f["layer/0/neuron"].create_dataset("type", data=b"CUBA"),
                f["layer/0/neuron"].create_dataset("iDecay", data=4096),
                f["layer/0/neuron"].create_dataset("vDecay", data=0)), "weight",
     "complex input"),
    (lambda f: f.attrs.__setitem__("layer_start", "first_input"), "layer_start", "RF_"),
])
def test_what_rf_cannot_be_is_refused_in_one_line(rf_file, tmp_path, edit, field, words):
    _, path, _ = rf_file
    bad = _edit(path, str(tmp_path / "bad.net"), edit)
    with pytest.raises(NetxFormatError) as info:
        loihi_snn.read_netx(bad)
    msg = str(info.value)
    assert field in msg and words in msg and "\n" not in msg, msg


def test_rf_neurons_on_a_real_dense_layer_are_refused(rf_file, tmp_path):
    _, path, _ = rf_file

    def real_only(f):
        w = f["layer/0/weight/real"][()]
        del f["layer/0/weight"]
        f["layer/0"].create_dataset("weight", data=w)
    bad = _edit(path, str(tmp_path / "bad.net"), real_only)
    with pytest.raises(NetxFormatError, match="complex input"):
        loihi_snn.read_netx(bad)


def test_trainer_rf_block_eval_equals_lava_and_streams_fresh(tmp_path):
    """The trainer's RF block (``loihi_snn.torch.blocks.rf.Dense``: SLAYER's rf block with
    Loihi's integer eval forward) equals the emulator, lava-fixed and lava-fused spike
    for spike (SLAYER's float eval forward can differ from Loihi's integers in a few
    spikes of a trained network); run_many streams RF samples on lava-fused, one fresh
    lane per sample (RF has no reset), and refuses the per-layer stream in one line."""
    import torch

    from loihi_snn.core.errors import OptionError, ShapeError
    from loihi_snn.torch.blocks.rf import Dense
    torch.manual_seed(3)
    p = {"threshold": 0.5, "period": 8, "decay": 0.2, "shared_param": True}
    blocks = torch.nn.ModuleList([Dense(p, 16, 32, weight_scale=4),
                                  Dense(dict(p, period=6), 32, 10, weight_scale=4)])
    X = (torch.rand(4, 16, STEPS) < 0.2).float()
    blocks.eval()
    with torch.no_grad():
        y = X
        for b in blocks:
            y = b(y)
    expect = y.numpy()
    assert expect.sum() > 20
    path = str(tmp_path / "rf.net")
    export_blocks(blocks, path)
    Xi = X.numpy().astype(np.int64)
    np.testing.assert_array_equal(loihi_snn.emulate(path, Xi), expect)
    np.testing.assert_array_equal(loihi_snn.run(path, Xi[0], backend="lava-fixed"), expect[0])
    np.testing.assert_array_equal(loihi_snn.run_many(path, Xi, backend="lava-fused"), expect)
    with pytest.raises(ShapeError, match="lava-fused"):
        loihi_snn.run_many(path, Xi, backend="lava-fixed")
    with pytest.raises(OptionError, match="1/64"):
        Dense(dict(p, threshold=0.1), 16, 4)

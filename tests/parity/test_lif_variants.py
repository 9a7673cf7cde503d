"""LIF family: all 12 combinations of leak x reset x recurrence, trained-model layout,
torch quantized forward == Lava fixed_pt, spike for spike, every layer; the same for the
single-state neuron (``synapse="single"``: no current state, leak off = pure IF)."""
from __future__ import annotations

import itertools

import h5py
import numpy as np
import pytest
import torch

from loihi_snn.torch.blocks import Dense, Recurrent
from loihi_snn.netx import read_netx
from loihi_snn.torch.export import export_blocks
from loihi_snn.torch.neurons import LIF
from loihi_snn.sim.runtime.probe import run_layers

from helpers import run_stock_netx

T = 72
COMBOS = list(itertools.product([True, False], ["hard", "soft", "none"], [False, True]))


def _params(leak, reset, synapse="cuba"):
    return {"threshold": 1.0, "current_decay": 0.3, "voltage_decay": 0.05, "reset": reset,
            "leak": leak, "synapse": synapse, "tau_grad": 0.5, "scale_grad": 1.0}


def _network(leak, reset, recurrent, seed, synapse="cuba"):
    torch.manual_seed(seed)
    p = _params(leak, reset, synapse)
    first = Recurrent(p, 16, 24, weight_scale=2) if recurrent else Dense(p, 16, 24, weight_scale=2)
    blocks = torch.nn.ModuleList([first, Dense(p, 24, 8, weight_scale=2)])
    x = (torch.rand(1, 16, T) < 0.25).float()
    return blocks, x


def _torch_layers(blocks, x):
    outs = []
    with torch.no_grad():
        for b in blocks:
            x = b(x)
            outs.append(x[0].numpy())
    return outs


@pytest.mark.parametrize("leak,reset,recurrent", COMBOS,
                         ids=[f"{'leak' if l else 'noleak'}-{r}-{'rec' if c else 'ff'}"
                              for l, r, c in COMBOS])
def test_torch_quantized_equals_lava_fixed(leak, reset, recurrent, tmp_path):
    blocks, x = _network(leak, reset, recurrent, seed=COMBOS.index((leak, reset, recurrent)))
    blocks.eval()
    expect = _torch_layers(blocks, x)
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    spec = read_netx(path)
    assert spec.layers[0].type == ("dense_rec" if recurrent else "dense")
    assert spec.neuron_types == (["CUBA"] if reset == "hard" else ["LIF"])
    lava = run_layers(path, x[0].numpy())
    for i, (e, o) in enumerate(zip(expect, lava)):
        assert e.sum() > 5, f"layer {i} too quiet for a meaningful comparison"
        np.testing.assert_array_equal(o, e, err_msg=f"layer {i}")


SINGLE = [(False, "none", False), (False, "soft", True), (False, "hard", False),
          (True, "hard", True), (True, "none", False)]


@pytest.mark.parametrize("leak,reset,recurrent", SINGLE,
                         ids=[f"{'leak' if l else 'noleak'}-{r}-{'rec' if c else 'ff'}"
                              for l, r, c in SINGLE])
def test_single_state_torch_quantized_equals_lava_fixed(leak, reset, recurrent, tmp_path):
    """synapse="single" exports iDecay 4096 (lava's current decay multiplies the old
    current by 0) and runs spike for spike equal in torch and Lava fixed_pt."""
    blocks, x = _network(leak, reset, recurrent, seed=40 + SINGLE.index((leak, reset, recurrent)),
                         synapse="single")
    blocks.eval()
    expect = _torch_layers(blocks, x)
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    with h5py.File(path) as f:
        assert f["layer/0/neuron/iDecay"][()] == 4096
    lava = run_layers(path, x[0].numpy())
    for i, (e, o) in enumerate(zip(expect, lava)):
        assert e.sum() > 5, f"layer {i} too quiet for a meaningful comparison"
        np.testing.assert_array_equal(o, e, err_msg=f"layer {i}")


@pytest.mark.parametrize("training", [False, True])
def test_single_state_no_leak_is_integrate_and_fire(training):
    """synapse="single", leak off, reset none: v[t] is the running sum of the input
    (float: weight units; quantized: mantissas), spikes wherever it exceeds the threshold."""
    torch.manual_seed(0)
    z = torch.randint(-8, 12, (2, 5, 40)).float() / 64           # exact in 1/64 steps
    n = LIF(**_params(False, "none", "single")).train(training)
    n.record_voltage = training
    n.use_autograd_loop = training
    s = n(z)
    v = torch.cumsum(z, -1)
    if training:
        torch.testing.assert_close(n.voltage, v)
    torch.testing.assert_close(s, (v > 1.0).float())
    assert n.device_params["iDecay"] == 4096 and n.device_params["vDecay"] == 0


def test_variants_behave_differently():
    """The switches matter: reset modes and leak change the spike trains."""
    torch.manual_seed(0)
    z = torch.rand(1, 50, 64) * 0.6
    out = {}
    for leak, reset in itertools.product([True, False], ["hard", "soft", "none"]):
        n = LIF(**{k: v for k, v in _params(leak, reset).items()}).eval()
        out[(leak, reset)] = n(z)
    assert out[(True, "none")].sum() > out[(True, "soft")].sum() >= out[(True, "hard")].sum()
    assert out[(False, "hard")].sum() > out[(True, "hard")].sum()


@pytest.mark.parametrize("leak,reset,recurrent", [(True, "hard", False), (True, "soft", True),
                                                  (False, "none", False), (False, "soft", True)])
def test_lava_float_agrees_with_torch_float(leak, reset, recurrent, tmp_path):
    """Float models: torch training-mode forward vs Lava floating_pt on the same
    quantized weights; >= 99 % of spikes equal (float rounding at threshold crossings)."""
    blocks, x = _network(leak, reset, recurrent, seed=11)
    blocks.eval()
    _torch_layers(blocks, x)            # set shapes
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    blocks.train()
    expect = _torch_layers(blocks, x)
    lava = run_layers(path, x[0].numpy(), backend="lava-float")
    for e, o in zip(expect, lava):
        assert e.sum() > 5
        assert (np.asarray(o, float) == e).mean() >= 0.99


@pytest.mark.parametrize("synapse", ["cuba", "single"])
def test_plain_cuba_export_is_loadable_by_stock_netx(synapse, tmp_path):
    """hard reset exports as plain CUBA; stock netx (lava's own LIF, current decay
    register du = iDecay - 1 = 4095 for the single-state neuron) gives the same spikes."""
    blocks, x = _network(True, "hard", False, seed=3, synapse=synapse)
    blocks.eval()
    expect = _torch_layers(blocks, x)[-1]
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    stock = run_stock_netx(path, x[0].numpy(), steps=T)
    np.testing.assert_array_equal(stock, expect)


def test_variant_export_records_its_type(tmp_path):
    blocks, x = _network(False, "soft", False, seed=4)
    blocks.eval()
    _torch_layers(blocks, x)
    path = tmp_path / "net.net"
    export_blocks(blocks, path)
    with h5py.File(path) as f:
        assert f["layer/0/neuron/type"][()] == b"LIF"
        assert f["layer/0/neuron/resetMode"][()] == b"soft"
        assert not f["layer/0/neuron/leak"][()]
        assert f["layer/0/neuron/vDecay"][()] == 0


@pytest.mark.parametrize("kwargs,match", [
    ({"current_decay": -0.1}, "current_decay"),
    ({"voltage_decay": 1.5}, "voltage_decay"),
    ({"reset": "sometimes"}, "reset mode"),
    ({"threshold": 5000.0}, "threshold"),
    ({"threshold": 0.0}, "threshold"),
    ({"leak": "yes"}, "leak"),
    ({"synapse": "double"}, "synapse"),
])
def test_bad_parameters_fail_at_construction(kwargs, match):
    params = dict(_params(True, "hard"), **kwargs)
    with pytest.raises(ValueError, match=match):
        LIF(**params)
    with pytest.raises(ValueError, match=match):
        Dense(params, 4, 3)

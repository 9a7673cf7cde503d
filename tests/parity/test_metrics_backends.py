"""loihi_snn.metrics measured on Lava fixed_pt (every layer recorded, one run per sample)
equals the emulator's measurement: synaptic operations per connection, activation
sparsity, spikes and latency, with and without the cutoff's steps -- on a hand-written
dense / conv / pool network and on shipped models (recurrent, graded input, ternary)."""
from __future__ import annotations

import numpy as np
import pytest

from helpers import REPO_ROOT
from helpers.netx_files import write_netx

from loihi_snn.app.evaluation import load_eval_data
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim import metrics as M

IF = {"type": b"LIF", "iDecay": 4096, "vDecay": 0, "vThMant": 3, "refDelay": 1,
      "resetMode": "hard"}
#: what the spikes decide (membrane updates need the state: the emulator's only)
SAME = ("synaptic_operations", "activation_sparsity", "spikes_per_sample", "latency",
        "connection_sparsity", "footprint", "loihi2")


def _conv_pool_dense(path):
    rng = np.random.default_rng(3)
    kernel = rng.integers(-2, 4, (3, 2, 3, 3)) * 2
    return str(write_netx(path, [
        {"type": "input", "shape": [2, 6, 6]},
        {"type": "conv", "shape": [3, 3, 3], "weight": kernel, "stride": [2, 2],
         "padding": [1, 1], "dilation": [1, 1], "groups": 1, "neuron": IF},
        {"type": "pool", "shape": [3, 1, 1], "kernelSize": [2, 2], "stride": [2, 2],
         "padding": [0, 0], "dilation": [1, 1], "weight": np.full((1, 1, 2, 2), 4),
         "neuron": IF},
        {"type": "flatten", "shape": [3]},
        {"type": "dense", "shape": [4], "weight": rng.integers(-2, 5, (4, 3)) * 2,
         "neuron": IF}]))


def _check(net, X, used):
    plan, lava = M.measure_activity(net, X, backend="lava-fixed")
    _, emu = M.measure_activity(net, X)
    np.testing.assert_array_equal(lava.spikes, emu.spikes)
    np.testing.assert_array_equal(lava.ops, emu.ops)
    for steps in (None, used):
        a = M.metrics_from_activity(plan, lava, steps).to_dict()
        b = M.metrics_from_activity(plan, emu, steps).to_dict()
        assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
        assert a["membrane_updates"] is None and b["membrane_updates"] is not None


def test_hand_written_conv_pool_dense_network(tmp_path):
    net = _conv_pool_dense(tmp_path / "cpd.net")
    rng = np.random.default_rng(1)
    X = (rng.random((2, 2, 6, 6, 6)) < 0.4).astype(np.int64)
    _check(net, X, [3, 6])


@pytest.mark.parametrize("name", ["mnist1d_rlif", "mnist1d_conv", "digits_ternary"])
def test_shipped_models(name):
    """recurrent synapses; graded (signed) input into a conv; ternary spikes."""
    net = str(REPO_ROOT / "netx_models" / name / f"{name}.net")
    data = load_eval_data(read_netx(net), limit=2)
    _check(net, data.inputs, [data.T // 2, data.T])


@pytest.mark.parametrize("kind", ["rf", "rf_iz"])
def test_resonate_and_fire_complex_dense(kind, tmp_path):
    """RF neurons on complex dense layers: the real and the imaginary synapses both count
    (dense: 2 x (20 x 16 + 16 x 8) per step)."""
    from test_rf import rf_net            # the SLAYER-trained RF network of tests/parity
    from loihi_snn.torch.export import export_blocks
    blocks, x = rf_net(kind)
    net = str(tmp_path / f"{kind}.net")
    export_blocks(blocks, net)
    X = np.stack([x, x[:, ::-1].copy()])
    _check(net, X, [20, 40])
    m = M.measure(net, X)
    assert m.synaptic_operations["dense"] == 2 * (20 * 16 + 16 * 8) * 40
    assert m.connection_sparsity["weights"] == 2 * (20 * 16 + 16 * 8)

"""loihi_snn.metrics: NeuroBench's metrics on the deployed network, counted by hand on tiny
dense, conv and pool networks (fan-outs with borders, stride, dilation and groups; the
cutoff's steps; membrane updates; footprint bits), and on every shipped model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import REPO_ROOT
from helpers.netx_files import write_netx

import loihi_snn
from loihi_snn.core.errors import OptionError
from loihi_snn.sim import metrics as M

#: a neuron whose arithmetic is easy to follow: u holds one step's input (iDecay 4096),
#: no voltage leak, threshold 5 (weights in the same units), hard reset
IF = {"type": b"LIF", "iDecay": 4096, "vDecay": 0, "vThMant": 5, "refDelay": 1,
      "resetMode": "hard"}


def _tiny(tmp_path):
    """input 3 -> dense 2 [[4, 0, 2], [0, 0, 6]] -> dense 1 [[2, 0]]."""
    return str(write_netx(tmp_path / "tiny.net", [
        {"type": "input", "shape": np.array([3])},
        {"type": "dense", "shape": np.array([2]), "weight": np.array([[4, 0, 2], [0, 0, 6]]),
         "neuron": IF},
        {"type": "dense", "shape": np.array([1]), "weight": np.array([[2, 0]]), "neuron": IF}]))


def _tiny_input():
    x = np.zeros((1, 3, 5), np.int64)
    x[0, :, 0] = 1          # every input at step 1
    x[0, 1, 3] = 1          # input 1 (no synapse) at step 4
    x[0, 0, 4] = 1          # input 0 at step 5
    return x


def test_tiny_dense_network_counted_by_hand(tmp_path):
    m = M.measure(_tiny(tmp_path), _tiny_input())
    syn = m.synaptic_operations
    # fan-out of the inputs: non-zero weights per column [1, 0, 2]; step 1: 1 + 0 + 2,
    # step 4: input 1 drives nothing, step 5: 1 -> 4 operations
    # layer 1 fires both neurons at step 2 (6 > 5 each); their fan-outs [1, 0] -> 1
    assert [c["effective"] for c in syn["layers"]] == [4.0, 1.0]
    assert syn["effective_acs"] == 5.0 and syn["effective_macs"] == 0.0
    # dense: every synapse every step: (3 x 2 + 2 x 1) x 5 steps
    assert syn["dense"] == 40.0 and [c["dense"] for c in syn["layers"]] == [30.0, 10.0]
    assert [c["operation"] for c in syn["layers"]] == ["AC", "AC"]
    assert [c["source"] for c in syn["layers"]] == ["input", "layer 1"]
    # two spikes of 3 neurons x 5 steps
    assert m.spikes_per_sample == 2.0
    assert m.activation_sparsity["overall"] == pytest.approx(1 - 2 / 15)
    assert [a["sparsity"] for a in m.activation_sparsity["layers"]] == [0.8, 1.0]
    assert m.connection_sparsity["overall"] == 0.5 and m.connection_sparsity["zeros"] == 4
    # membrane updates (NeuroBench: every neuron at step 1, then the neurons whose
    # voltage changed, after the reset): layer 1: 2 (step 1) + 0 (v rises, spikes, is
    # reset to 0) + 0 + 0 + 0; layer 2: 1 + 0 + 1 (v rises at step 3) + 0 (v kept) + 0
    assert m.membrane_updates["per_sample"] == 4.0
    assert [l["per_sample"] for l in m.membrane_updates["layers"]] == [2.0, 2.0]
    assert m.membrane_updates["neuron_updates_dense"] == 15.0
    assert m.latency == {"mean_steps": 5.0, "min_steps": 5, "max_steps": 5,
                         "pipeline_depth_steps": 2}
    fp = m.footprint
    bits = [(l["weight_bits"], l["weights_bits"], l["state_bits"]) for l in fp["layers"]]
    assert bits == [(2, 6 * 2, 2 * 2 * 24), (1, 2 * 1, 1 * 2 * 24)]
    assert fp["bytes"] == -(-(12 + 2 + 2 * M.WEIGHT_EXP_BITS + 96 + 48) // 8)
    assert fp["parameters"] == 8 and fp["float32_parameter_bytes"] == 32
    assert m.energy["estimate_joules"] is None and "Loihi 2" in m.energy["note"]
    assert m.loihi2["cores"] >= 1 and m.loihi2["chips"] == 1


def test_tiny_network_with_the_cutoff_counts_only_the_steps_used(tmp_path):
    net, x = _tiny(tmp_path), _tiny_input()
    m = M.measure(net, x, used_steps=[2])
    assert m.cutoff and m.latency["mean_steps"] == 2.0
    assert m.synaptic_operations["effective_acs"] == 3.0 + 1.0
    assert m.synaptic_operations["dense"] == 8 * 2
    assert m.activation_sparsity["overall"] == pytest.approx(1 - 2 / 6)
    assert m.membrane_updates["per_sample"] == 2 + 0 + 1 + 0
    # one run serves every cutoff: the recorded activity, then any steps used
    plan, activity = M.measure_activity(net, np.concatenate([x, x]))
    both = M.metrics_from_activity(plan, activity, [2, 5])
    assert both.effective_ops.tolist() == [4, 5] and both.dense_ops.tolist() == [16, 40]
    assert both.steps.tolist() == [2, 5]
    assert both.ops_per_step.tolist() == [[3, 1, 0, 0, 0], [3, 1, 0, 0, 1]]
    for bad in ([0], [6], [1, 2], [[2]], [2.5], ["a"], [float("nan")], "5"):
        with pytest.raises(OptionError):
            M.measure(net, x, used_steps=bad)
    for kw in ({"backend": "gpu"}, {"input_message_bits": "x"}, {"steps": 0}):
        with pytest.raises(loihi_snn.LoihiSnnError):
            M.measure(net, x, **kw)


def _brute_fanout(mask, in_shape, stride, padding, dilation, groups):
    """d(sum conv(x))/dx with the 0/1 mask as the kernel: the synapses each input drives."""
    x = torch.zeros((1,) + tuple(in_shape), dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.conv2d(x, torch.tensor(mask, dtype=torch.float64), stride=stride,
                                   padding=padding, dilation=dilation, groups=groups)
    y.sum().backward()
    return x.grad[0].numpy(), tuple(y.shape[1:])


def test_conv_fanout_by_hand_and_against_the_conv_gradient():
    # 3x3 kernel of ones, padding 1, stride 1 on a 3x3 map: corners reach 4 outputs,
    # edges 6, the centre 9
    f = M.conv_fanout(np.ones((1, 1, 3, 3)), (1, 3, 3), (1, 3, 3), (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_array_equal(f[0], [[4, 6, 4], [6, 9, 6], [4, 6, 4]])
    rng = np.random.default_rng(0)
    for _ in range(60):
        g = int(rng.choice([1, 2]))
        cin, cout = g * int(rng.integers(1, 3)), g * int(rng.integers(1, 3))
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        padding = tuple(int(v) for v in rng.integers(0, 2, 2))
        dilation = tuple(int(v) for v in rng.integers(1, 3, 2))
        h, w = (int(v) for v in rng.integers(4, 9, 2))
        mask = (rng.random((cout, cin // g, kh, kw)) < 0.6).astype(np.float64)
        try:
            ref, out_shape = _brute_fanout(mask, (cin, h, w), stride, padding, dilation, g)
        except RuntimeError:        # kernel larger than the padded map
            continue
        f = M.conv_fanout(mask, (cin, h, w), out_shape, stride, padding, dilation, g)
        np.testing.assert_array_equal(f, ref)


def test_conv_and_pool_network_counted_by_hand(tmp_path):
    """input (1, 4, 4) -> conv 2 x 3x3, padding 1 (kernel 0 all 2s, kernel 1 one tap)
    -> 2x2 sum pool, stride 2."""
    kernel = np.zeros((2, 1, 3, 3), np.int64)
    kernel[0] = 2
    kernel[1, 0, 1, 1] = 2                      # the centre tap only
    net = str(write_netx(tmp_path / "conv.net", [
        {"type": "input", "shape": [1, 4, 4]},
        {"type": "conv", "shape": [2, 4, 4], "weight": kernel, "stride": [1, 1],
         "padding": [1, 1], "dilation": [1, 1], "groups": 1, "neuron": dict(IF, vThMant=1)},
        {"type": "pool", "shape": [2, 2, 2], "kernelSize": [2, 2], "stride": [2, 2],
         "padding": [0, 0], "dilation": [1, 1], "weight": np.full((1, 1, 2, 2), 2),
         "neuron": dict(IF, vThMant=1)}]))
    x = np.zeros((2, 1, 4, 4, 3), np.int64)
    x[0, 0, 0, 0, 0] = 1            # a corner pixel: 4 outputs of kernel 0, 1 of kernel 1
    x[1, 0, 1, 1, 0] = 1            # an inner pixel: 9 + 1
    m = M.measure(net, x)
    conv_in, pool_in = m.synaptic_operations["layers"]
    plan = M.cost_plan(net)
    assert plan.connections[0].fanout.reshape(4, 4)[0].tolist() == [5, 7, 7, 5]
    assert plan.connections[1].fanout.tolist() == [1] * 32          # pool: no overlap
    assert m.effective_ops.tolist() == [5 + 5, 10 + 10]   # the conv fires what it got
    assert conv_in["effective"] == (5 + 10) / 2 and pool_in["effective"] == (5 + 10) / 2
    # dense: taps inside the map of both kernels (36 + 36 + ... = 2 x 100 for 3x3 on 4x4
    # with padding 1) and 32 pool synapses, every step
    dense_conv = int(M.conv_fanout(np.ones((2, 1, 3, 3)), (1, 4, 4), (2, 4, 4), (1, 1),
                                   (1, 1), (1, 1), 1).sum())
    assert dense_conv == 2 * 100
    assert m.synaptic_operations["dense"] == 3 * (dense_conv + 32)
    assert m.connection_sparsity["zeros"] == 8 and m.connection_sparsity["weights"] == 18 + 4


def test_torch_backend_measures_the_same(tmp_path):
    """The emulator's torch backend (``device=``) records the same activity as numpy."""
    net = str(REPO_ROOT / "netx_models" / "mnist1d_rlif" / "mnist1d_rlif.net")
    from loihi_snn.app.evaluation import load_eval_data
    X = load_eval_data(loihi_snn.read_netx(net), limit=6).inputs
    a = M.measure(net, X).to_dict(per_sample=True)
    b = M.measure(net, X, device="cpu").to_dict(per_sample=True)
    assert a == b and a["membrane_updates"]["per_sample"] > 0


def test_graded_input_counts_macs(tmp_path):
    net = _tiny(tmp_path)
    x = _tiny_input() * 3                       # graded values: the first synapse multiplies
    m = M.measure(net, x)
    ops = m.synaptic_operations
    assert ops["effective_macs"] == 4.0 and ops["layers"][0]["operation"] == "MAC"
    assert ops["layers"][1]["operation"] == "AC"
    assert ops["effective"] == ops["effective_acs"] + ops["effective_macs"]


def test_public_name_and_format(tmp_path):
    assert loihi_snn.metrics is M
    m = loihi_snn.metrics.measure(_tiny(tmp_path), _tiny_input())
    text = M.format_metrics(m)
    assert "effective ACs" in text and "NeuroCores" in text and "not estimated" in text
    assert M.format_metrics(m.to_dict()) == text
    d = m.to_dict(per_sample=True)
    assert d["per_sample"]["effective_ops"] == [5] and d["per_sample"]["steps"] == [5]


@pytest.mark.parametrize("name", ["digits_cuba", "digits_ternary", "mnist1d_rlif",
                                  "mnist1d_conv", "events_asa"])
def test_shipped_models(name):
    """On every shipped model: the spike counts are the emulator's, ACs + MACs never exceed
    dense, and the recurrent / conv / ternary / graded paths all count."""
    from loihi_snn.app.evaluation import load_eval_data
    path = str(REPO_ROOT / "netx_models" / name / f"{name}.net")
    X = load_eval_data(loihi_snn.read_netx(path), limit=8).inputs
    m = M.measure(path, X)
    _, counts, _ = loihi_snn.emulate(path, X, return_spike_counts=True)
    assert m.spikes_per_sample == counts.sum() / len(X)
    syn = m.synaptic_operations
    assert 0 < syn["effective"] <= syn["dense"]
    for c in syn["layers"]:
        assert c["effective"] <= c["dense"] and c["synapses"] <= c["synapses_dense"]
    neurons = sum(a["neurons"] for a in m.activation_sparsity["layers"])
    assert 1 - m.activation_sparsity["overall"] == pytest.approx(
        counts.sum() / (neurons * X.shape[-1] * len(X)))
    kinds = {c["kind"] for c in syn["layers"]}
    if name == "mnist1d_rlif":
        assert "recurrent" in kinds
    if name == "mnist1d_conv":      # graded input (signed integers) into the first conv
        assert syn["effective_macs"] > 0 and syn["layers"][0]["operation"] == "MAC"
    if name == "digits_ternary":
        assert syn["layers"][1]["message"] == "ternary"

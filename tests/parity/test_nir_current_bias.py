"""A bias into a CubaLIF's synaptic current (NIR ``Affine`` bias -> ``CubaLIF`` with
``tau_syn`` finite): lowered as the weight of an always-on neuron (appended to the
previous dense layer, to the previous conv layer as a channel before a flatten, or to the
layer itself through its recurrent weight).  Integer graphs run spike for spike like NIR's
equations (``check_import``: the float reference vs the fixed-point network), and the
emulator, lava-fixed and lava-fused agree spike for spike; what has no such form is
refused in one line naming node and field."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from helpers.nir_graphs import DT, chain_graph, ints  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.nir import NirError, check_import, from_nir, normalise  # noqa: E402
from loihi_snn.nir.lower import always_on_counts  # noqa: E402


def cuba(shape, thr):
    """CubaLIF at DT: u <- u/2 + 2 du x = u/2 + x, v <- 3/4 v + u (r dv = 1), threshold thr."""
    return nir.CubaLIF(tau_syn=np.full(shape, DT / 0.5), tau_mem=np.full(shape, DT / 0.25),
                       r=np.full(shape, 4.0), v_leak=np.zeros(shape),
                       v_threshold=np.full(shape, float(thr)), w_in=np.full(shape, 2.0),
                       v_reset=np.zeros(shape))


def two_dense(rng):
    """Both layers biased: the hidden layer hosts the always-on neuron (its own bias
    through the recurrent weight, the output's through the dense weight)."""
    return chain_graph({"fc1": nir.Affine(ints(rng, (12, 10)), ints(rng, (12,), -4, 6)),
                        "l1": cuba(12, 8),
                        "fc2": nir.Affine(ints(rng, (5, 12)), ints(rng, (5,), -4, 6)),
                        "l2": cuba(5, 8)}, [10], [5]), (10,), {0: 1}


def three_dense_recurrent(rng):
    """Only the last two layers biased (the first hosts one neuron for the second, the
    second one for the third); the second is recurrent with a recurrent Affine bias."""
    g = chain_graph({"fc1": nir.Linear(ints(rng, (12, 10))), "l1": cuba(12, 6),
                     "fc2": nir.Affine(ints(rng, (8, 12)), ints(rng, (8,), -4, 6)),
                     "l2": cuba(8, 8),
                     "fc3": nir.Affine(ints(rng, (5, 8)), ints(rng, (5,), -4, 6)),
                     "l3": cuba(5, 8)}, [10], [5])
    g.nodes["rec"] = nir.Affine(ints(rng, (8, 8), -4, 4), np.array([2.0, 0, 0, -2, 0, 0, 4, 0]))
    g.edges += [("l2", "rec"), ("rec", "l2")]
    return g, (10,), {0: 1, 1: 1}


def conv_flatten_dense(rng):
    """The conv layer hosts an always-on channel; the dense bias is its first pixel's
    weight."""
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(3))
    return chain_graph({"conv": conv, "l1": cuba((3, 6, 6), 4),
                        "flat": nir.Flatten(input_type={"input": np.array([3, 6, 6])},
                                            start_dim=0),
                        "fc": nir.Affine(ints(rng, (4, 108)), np.array([4.0, 0, -2, 12])),
                        "l2": cuba(4, 10)}, [2, 6, 6], [4]), (2, 6, 6), {1: 36}


GRAPHS = {"two_dense": two_dense, "three_dense_recurrent": three_dense_recurrent,
          "conv_flatten_dense": conv_flatten_dense}


@pytest.mark.parametrize("name", sorted(GRAPHS))
@pytest.mark.parametrize("reset", ["hard", "soft"])
def test_current_bias_runs_spike_for_spike_like_nir(name, reset, tmp_path):
    rng = np.random.default_rng(3)
    graph, shape, hosts = GRAPHS[name](rng)
    out = from_nir(graph, str(tmp_path / f"{name}.net"), dt=DT, reset=reset)
    assert always_on_counts(out) == hosts
    T = 12       # u halves every step: Loihi's 6 fraction bits keep it exact this long
    x = (rng.random((6,) + shape + (T,)) < 0.3).astype(np.int64)
    r = check_import(normalise(graph), out, x, dt=DT, reset=reset)
    assert [l["spike_agreement"] for l in r["layers"]] == [1.0] * len(r["layers"]), r["layers"]
    assert all(l["float_spikes_per_sample"] > 0 for l in r["layers"]), r["layers"]
    # the same graph without its biases behaves differently: the bias matters
    for node in graph.nodes.values():
        if isinstance(node, nir.Affine):
            node.bias = np.zeros_like(np.asarray(node.bias))
    r0 = check_import(normalise(graph), out, x, dt=DT, reset=reset)
    assert min(l["spike_agreement"] for l in r0["layers"]) < 1.0


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_current_bias_emulator_equals_lava_fixed_and_fused(name, tmp_path):
    rng = np.random.default_rng(4)
    graph, shape, _ = GRAPHS[name](rng)
    out = from_nir(graph, str(tmp_path / f"{name}.net"), dt=DT, reset="soft")
    x = (rng.random((2,) + shape + (15,)) < 0.3).astype(np.int64)
    want = loihi_snn.emulate(out, x)
    assert want.sum() > 0
    np.testing.assert_array_equal(loihi_snn.run(out, x[0], backend="lava-fixed"), want[0])
    np.testing.assert_array_equal(loihi_snn.run(out, x[1], backend="lava-fused"), want[1])


def test_step_1_start_notes_the_early_bias(tmp_path):
    graph, _, _ = two_dense(np.random.default_rng(0))
    out = from_nir(graph, str(tmp_path / "s.net"), dt=DT, layer_start="step_1")
    import json
    notes = json.loads(loihi_snn.read_netx(out).extensions["nir"]["notes"])
    assert any("always-on" in n for n in notes), notes


def _refused(graph, tmp_path, node, words):
    out = tmp_path / "net.net"
    with pytest.raises(NirError) as info:
        from_nir(graph, str(out), dt=DT)
    msg = str(info.value)
    assert f"node '{node}'" in msg and "field 'bias'" in msg and words in msg, msg
    assert "\n" not in msg and not out.exists()


def test_a_conv_current_bias_is_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.array([2.0, 0, 0]))
    g = chain_graph({"conv": conv, "l1": cuba((3, 6, 6), 4),
                     "flat": nir.Flatten(input_type={"input": np.array([3, 6, 6])}, start_dim=0),
                     "fc": nir.Linear(ints(rng, (4, 108))), "l2": cuba(4, 10)}, [2, 6, 6], [4])
    _refused(g, tmp_path, "conv", "Conv2d layer")


def test_a_single_layers_current_bias_is_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    g = chain_graph({"fc": nir.Affine(ints(rng, (3, 4)), np.ones(3)), "l": cuba(3, 4)}, [4], [3])
    _refused(g, tmp_path, "fc", "only layer")


def test_an_output_bias_after_a_pool_is_refused_in_one_line(tmp_path):
    rng = np.random.default_rng(0)
    conv = nir.Conv2d(input_shape=(4, 4), weight=ints(rng, (2, 1, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(2))
    g = chain_graph({"conv": conv, "l1": cuba((2, 4, 4), 4),
                     "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                           padding=np.array([0, 0])),
                     "l2": cuba((2, 2, 2), 1),
                     "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=0),
                     "fc": nir.Affine(ints(rng, (3, 8)), np.ones(3)), "l3": cuba(3, 4)},
                    [1, 4, 4], [3])
    _refused(g, tmp_path, "fc", "output layer after a pool")

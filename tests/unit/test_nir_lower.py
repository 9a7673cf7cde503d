"""loihi_snn.nir lowering: NIR graphs in exact integers run spike for spike like NIR's own
equations (the float reference) on the fixed-point emulator, for every layer kind --
dense, recurrent, conv -> flatten -> dense, sum and average pooling -- and the
quantisation of float graphs (weights, thresholds, decays) stays close."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from helpers.nir_graphs import DT, chain_graph, if_node, ints  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.nir import check_import, from_nir, normalise  # noqa: E402


def dense_net(rng):
    return chain_graph({"fc1": nir.Linear(ints(rng, (12, 10))),
                        "if1": if_node(12, 6), "fc2": nir.Linear(ints(rng, (5, 12))),
                        "if2": if_node(5, 8)}, [10], [5]), (10,)


def recurrent_net(rng):
    g, _ = dense_net(rng)
    g.nodes["rec"] = nir.Linear(ints(rng, (12, 12), -4, 4))
    g.edges += [("if1", "rec"), ("rec", "if1")]
    return g, (10,)


def conv_net(rng):
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(3))
    return chain_graph({"conv": conv, "if1": if_node((3, 6, 6), 4),
                        "flat": nir.Flatten(input_type={"input": np.array([3, 6, 6])}, start_dim=0),
                        "fc": nir.Linear(ints(rng, (4, 108))), "if2": if_node(4, 10)},
                       [2, 6, 6], [4]), (2, 6, 6)


def pool_net(rng, pool):
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(3))
    return chain_graph({"conv": conv, "if1": if_node((3, 6, 6), 4),
                        "pool": pool(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                                     padding=np.array([0, 0])),
                        "if2": if_node((3, 3, 3), 1 if pool is nir.SumPool2d else 0.4),
                        "flat": nir.Flatten(input_type={"input": np.array([3, 3, 3])}, start_dim=0),
                        "fc": nir.Linear(ints(rng, (4, 27))), "if3": if_node(4, 6)},
                       [2, 6, 6], [4]), (2, 6, 6)


NETS = {"dense": dense_net, "recurrent": recurrent_net, "conv": conv_net,
        "sumpool": lambda r: pool_net(r, nir.SumPool2d),
        "avgpool": lambda r: pool_net(r, nir.AvgPool2d)}


@pytest.mark.parametrize("name", sorted(NETS))
def test_integer_graphs_run_spike_for_spike_like_nir(name, tmp_path):
    rng = np.random.default_rng(3)
    graph, in_shape = NETS[name](rng)
    out = str(tmp_path / f"{name}.net")
    from_nir(graph, out, dt=DT)
    x = (rng.random((6,) + in_shape + (25,)) < 0.3).astype(np.int64)
    r = check_import(normalise(graph), out, x, dt=DT, reset="hard")
    assert [l["spike_agreement"] for l in r["layers"]] == [1.0] * len(r["layers"]), r["layers"]
    assert r["prediction_agreement"] == 1.0
    assert all(l["float_spikes_per_sample"] > 0 for l in r["layers"]), r["layers"]


@pytest.mark.parametrize("reset", ["soft", "none"])
def test_soft_and_no_reset_lower_to_our_lif_family(reset, tmp_path):
    rng = np.random.default_rng(5)
    graph, in_shape = dense_net(rng)
    out = str(tmp_path / "net.net")
    from_nir(graph, out, dt=DT, reset=reset)
    spec = loihi_snn.read_netx(out)
    assert {l.neuron.type for l in spec.layers} == {"LIF"}
    assert {l.neuron.params["resetMode"] for l in spec.layers} == {reset}
    x = (rng.random((6,) + in_shape + (25,)) < 0.3).astype(np.int64)
    r = check_import(normalise(graph), out, x, dt=DT, reset=reset)
    assert [l["spike_agreement"] for l in r["layers"]] == [1.0, 1.0]


def test_float_graph_is_quantized_to_8_bits_with_the_threshold_scaled(tmp_path):
    """Float weights and a leak: per-layer integer scale S = vThMant, weights even integers
    in [-256, 254]; the fixed-point network agrees with the float reference closely."""
    rng = np.random.default_rng(0)
    tau = DT / (1 - 0.9)
    lif = lambda n, thr: nir.LIF(tau=np.full(n, tau), r=np.full(n, tau / DT),  # noqa: E731
                                 v_leak=np.zeros(n), v_threshold=np.full(n, thr), v_reset=np.zeros(n))
    graph = chain_graph({"fc1": nir.Affine(rng.normal(0, 0.4, (40, 30)), rng.normal(0, .05, 40)),
                         "lif1": lif(40, 1.0), "fc2": nir.Affine(rng.normal(0, 0.5, (10, 40)),
                                                                np.zeros(10)),
                         "lif2": lif(10, 0.7)}, [30], [10])
    out = str(tmp_path / "float.net")
    from_nir(graph, out)
    spec = loihi_snn.read_netx(out)
    for layer, thr in zip(spec.layers, (1.0, 0.7)):
        w = layer.fields["weight"]
        assert w.max() <= 254 and w.min() >= -256 and not np.any(w % 2)
        assert max(w.max(), -w.min()) >= 250          # the mantissa is filled
        assert layer.neuron.params["vDecay"] == 410 and layer.neuron.params["iDecay"] == 4096
    x = (rng.random((40, 30, 30)) < 0.3).astype(np.int64)
    r = check_import(normalise(graph), out, x, dt=DT, reset="hard")
    assert all(l["spike_agreement"] > 0.95 for l in r["layers"]), r["layers"]
    assert r["prediction_agreement"] >= 0.85
    low = str(tmp_path / "low.net")
    from_nir(graph, low, weight_bits=4)
    w4 = loihi_snn.read_netx(low).layers[0].fields["weight"]
    assert not np.any(w4 % 32) and w4.max() <= 224          # 4-bit mantissa, step 2**5

"""NIR 1.0.8's node list beyond Affine / Linear / Conv2d / pooling / Flatten / LIF / IF /
CubaLIF, as snnTorch, Norse, Sinabs and Rockpool write them: ``Scale`` (folded into the
synapse before or after it, or a diagonal synapse between two neuron nodes), ``Conv1d``
(a 1 x K Conv2d over a (C, 1, L) map), ``Delay`` (a dense layer's axonal delays, per
input or per output), ``Threshold`` (a stateless spiking neuron: v is this step's
input) run spike for spike like NIR's equations; ``LI`` / ``CubaLI`` / ``I``
(non-spiking, graded output) and delays without an exact form are refused in one line
naming node and field."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from helpers.nir_graphs import DT, chain_graph, if_node, ints  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.nir import NirError, check_import, from_nir, normalise  # noqa: E402


def flat(shape):
    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0)


def scale_dense(rng):
    """Scale after a synapse, before one, and alone between two neuron nodes."""
    return chain_graph({"fc1": nir.Linear(ints(rng, (12, 10))), "s1": nir.Scale(np.full(12, 2.0)),
                        "if1": if_node(12, 12), "s2": nir.Scale(rng.integers(1, 3, 12) * 1.0),
                        "fc2": nir.Affine(ints(rng, (5, 12)), ints(rng, (5,), -4, 6)),
                        "if2": if_node(5, 8), "s3": nir.Scale(np.full(5, 4.0)),
                        "if3": if_node(5, 3)}, [10], [5]), (10,)


def scale_conv(rng):
    """Per-channel Scales on a conv map: after a conv, before a sum pool (the pool becomes
    a depthwise conv) and alone (a depthwise 1 x 1 conv)."""
    conv = nir.Conv2d(input_shape=(6, 6), weight=ints(rng, (3, 2, 3, 3), -6, 6), stride=1,
                      padding=1, dilation=1, groups=1, bias=np.zeros(3))
    pool = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                         padding=np.array([0, 0]))
    return chain_graph({"conv": conv, "s1": nir.Scale(np.array([1.0, 2.0, 1.0])),
                        "if1": if_node((3, 6, 6), 4), "s2": nir.Scale(np.array([2.0, 1.0, 1.0])),
                        "pool": pool, "if2": if_node((3, 3, 3), 2),
                        "s3": nir.Scale(np.array([3.0, 2.0, 2.0])), "if3": if_node((3, 3, 3), 1),
                        "flat": flat([3, 3, 3]), "fc": nir.Linear(ints(rng, (4, 27))),
                        "if4": if_node(4, 6)}, [2, 6, 6], [4]), (2, 6, 6)


def conv1d(rng):
    c1 = nir.Conv1d(input_shape=12, weight=ints(rng, (3, 2, 3), -6, 6), stride=1, padding=1,
                    dilation=1, groups=1, bias=np.array([0.0, 2.0, -2.0]))
    c2 = nir.Conv1d(input_shape=12, weight=ints(rng, (4, 3, 3), -6, 6), stride=2, padding=1,
                    dilation=1, groups=1, bias=np.zeros(4))
    return chain_graph({"c1": c1, "if1": if_node((3, 12), 4), "c2": c2, "if2": if_node((4, 6), 4),
                        "flat": flat([4, 6]), "fc": nir.Linear(ints(rng, (4, 24))),
                        "if3": if_node(4, 6)}, [2, 12], [4]), (2, 1, 12)


def delays(rng):
    """A Delay before a dense synapse (per input) and one after another (per output)."""
    return chain_graph({"d1": nir.Delay(rng.integers(0, 5, 10) * DT),
                        "fc1": nir.Affine(ints(rng, (12, 10)), ints(rng, (12,), -2, 4)),
                        "if1": if_node(12, 6), "fc2": nir.Linear(ints(rng, (5, 12))),
                        "d2": nir.Delay(rng.integers(0, 3, 5) * DT), "if2": if_node(5, 8)},
                       [10], [5]), (10,)


def threshold(rng):
    return chain_graph({"fc1": nir.Linear(ints(rng, (12, 10))), "if1": if_node(12, 6),
                        "fc2": nir.Affine(ints(rng, (5, 12)), np.array([0.0, 2, -2, 0, 4])),
                        "th": nir.Threshold(np.full(5, 5.0))}, [10], [5]), (10,)


GRAPHS = {"scale_dense": scale_dense, "scale_conv": scale_conv, "conv1d": conv1d,
          "delay": delays, "threshold": threshold}


@pytest.mark.parametrize("name", sorted(GRAPHS))
def test_node_runs_spike_for_spike_like_nir(name, tmp_path):
    rng = np.random.default_rng(3)
    graph, shape = GRAPHS[name](rng)
    out = from_nir(graph, str(tmp_path / f"{name}.net"), dt=DT)
    x = (rng.random((5,) + shape + (25,)) < 0.3).astype(np.int64)
    r = check_import(normalise(graph), out, x, dt=DT, reset="hard")
    assert [l["spike_agreement"] for l in r["layers"]] == [1.0] * len(r["layers"]), r["layers"]
    assert all(l["float_spikes_per_sample"] > 0 for l in r["layers"]), r["layers"]
    assert r["prediction_agreement"] == 1.0


@pytest.mark.parametrize("name", ["delay", "conv1d"])
def test_node_emulator_equals_lava_fixed(name, tmp_path):
    rng = np.random.default_rng(4)
    graph, shape = GRAPHS[name](rng)
    out = from_nir(graph, str(tmp_path / f"{name}.net"), dt=DT)
    x = (rng.random((1,) + shape + (20,)) < 0.3).astype(np.int64)
    want = loihi_snn.emulate(out, x)
    assert want.sum() > 0
    np.testing.assert_array_equal(loihi_snn.run(out, x[0], backend="lava-fixed"), want[0])


def test_lowered_forms():
    rng = np.random.default_rng(3)
    chain = normalise(delays(rng)[0])
    assert [s.delay_side for s in chain.spiking_stages] == ["in", "out"]
    chain = normalise(conv1d(rng)[0])
    assert chain.input_shape == (2, 1, 12)
    assert [s.out_shape for s in chain.spiking_stages] == [(3, 1, 12), (4, 1, 6), (4,)]
    chain = normalise(scale_dense(rng)[0])
    assert [type(s.synapse).__name__ for s in chain.spiking_stages] == ["Linear", "Affine", "Linear"]
    assert "s1" in chain.spiking_stages[0].names


def _dense(neuron, n=3):
    return chain_graph({"fc": nir.Linear(np.ones((n, 4))), "neuron": neuron}, [4], [n])


@pytest.mark.parametrize("graph, node, field, words", [
    (lambda: _dense(nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))), "neuron", "type",
     "non-spiking"),
    (lambda: _dense(nir.CubaLI(tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3),
                               v_leak=np.zeros(3))), "neuron", "type", "non-spiking"),
    (lambda: _dense(nir.I(r=np.ones(3))), "neuron", "type", "non-spiking"),
    (lambda: chain_graph({"d": nir.Delay(np.full(4, 1.5 * DT)), "fc": nir.Linear(np.ones((3, 4))),
                          "if": if_node(3, 2)}, [4], [3]), "d", "delay", "whole steps"),
    (lambda: chain_graph({"d": nir.Delay(np.full(4, 100 * DT)), "fc": nir.Linear(np.ones((3, 4))),
                          "if": if_node(3, 2)}, [4], [3]), "d", "delay", "0..62"),
    (lambda: chain_graph({"fc": nir.Affine(np.ones((3, 4)), np.ones(3)),
                          "d": nir.Delay(np.full(3, DT)), "if": if_node(3, 2)}, [4], [3]),
     "d", "delay", "bias is not delayed"),
    (lambda: chain_graph({"conv": nir.Conv2d(input_shape=(4, 4), weight=np.ones((2, 1, 3, 3)),
                                             stride=1, padding=1, dilation=1, groups=1,
                                             bias=np.zeros(2)),
                          "d": nir.Delay(np.full(32, DT)), "if": if_node((2, 4, 4), 2)},
                         [1, 4, 4], [2, 4, 4]), "d", "delay", "dense layer"),
    (lambda: chain_graph({"fc": nir.Linear(np.ones((3, 4))), "s": nir.Scale(np.ones(5)),
                          "if": if_node(3, 2)}, [4], [3]), "s", "scale", "5 values"),
])
def test_nodes_without_an_exact_form_are_refused_in_one_line(graph, node, field, words, tmp_path):
    out = tmp_path / "net.net"
    with pytest.raises(NirError) as info:
        from_nir(graph(), str(out), dt=DT)
    msg = str(info.value)
    assert f"node '{node}'" in msg and f"field '{field}'" in msg and words in msg, msg
    assert "\n" not in msg and not out.exists()

"""loihi_snn.nir: reading and normalising NIR graphs, and the one-line errors of nodes
without a Loihi form (hand-built graphs in the shapes the exporters write)."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from loihi_snn.nir import NirError, from_nir, normalise  # noqa: E402
from loihi_snn.nir.dynamics import stage_dynamics  # noqa: E402

DT = 1e-4


def lif(n, beta=0.9, thr=1.0, **kw):
    """An LIF node as snnTorch 1.0 writes it: tau = dt/(1-beta), r = tau/dt."""
    tau = np.full(n, DT / (1 - beta))
    p = dict(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=np.full(n, thr),
             v_reset=np.zeros(n))
    p.update(kw)
    return nir.LIF(**p)


def affine(n_out, n_in, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 0.5, (n_out, n_in))
    return nir.Affine(weight=w, bias=rng.normal(0, 0.1, n_out) if bias else np.zeros(n_out))


def rleaky_graph(order=None):
    """snnTorch's RLeaky export: flat dotted names and a cycle lif1.lif <-> lif1.w_rec."""
    nodes = {"input": nir.Input(input_type=np.array([6])), "fc1": affine(5, 6),
             "lif1.lif": lif(5), "lif1.w_rec": affine(5, 5, seed=1), "fc2": affine(3, 5, seed=2),
             "lif2": lif(3), "output": nir.Output(output_type=np.array([3]))}
    edges = [("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"),
             ("lif1.w_rec", "lif1.lif"), ("lif1.lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    if order is not None:
        edges = [edges[i] for i in order]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def test_rleaky_cycle_becomes_a_recurrent_dense_stage_whatever_the_edge_order():
    for order in (None, [6, 2, 0, 4, 1, 5, 3]):
        chain = normalise(rleaky_graph(order))
        assert [s.kind for s in chain.stages] == ["dense", "dense"]
        first = chain.stages[0]
        assert (first.synapse_name, first.neuron_name, first.recurrent_name) == \
            ("fc1", "lif1.lif", "lif1.w_rec")
        assert chain.stages[1].recurrent is None and chain.output_shape == (3,)


def test_nested_rnn_subgraph_is_inlined_under_dotted_names():
    """snnTorch's importer (and older exporters) nest the cycle as a sub-NIRGraph."""
    g = rleaky_graph()
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([5])), "lif": g.nodes["lif1.lif"],
                              "w_rec": g.nodes["lif1.w_rec"],
                              "output": nir.Output(output_type=np.array([5]))},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    nested = nir.NIRGraph(nodes={"input": g.nodes["input"], "fc1": g.nodes["fc1"], "lif1": sub,
                                 "fc2": g.nodes["fc2"], "lif2": g.nodes["lif2"],
                                 "output": g.nodes["output"]},
                          edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"),
                                 ("fc2", "lif2"), ("lif2", "output")])
    chain = normalise(nested)
    assert chain.stages[0].neuron_name == "lif1.lif" and chain.stages[0].recurrent_name == "lif1.w_rec"


def test_batch_dimension_in_the_input_type_is_dropped():
    """Norse's to_nir traced with a batched sample records Input (1, 64)."""
    g = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([1, 6])), "0": affine(3, 6),
                            "1": lif(3), "output": nir.Output(output_type=np.array([1, 3]))},
                     edges=[("input", "0"), ("0", "1"), ("1", "output")], type_check=False)
    assert normalise(g).input_shape == (6,)


def test_snntorch_time_constants_give_beta_at_dt_1e4():
    chain = normalise(rleaky_graph())
    d = stage_dynamics(chain.source, chain.stages[0], DT)
    np.testing.assert_allclose(1 - d.dv, 0.9)
    np.testing.assert_allclose(d.b, 1.0)          # r dt / tau = 1: v <- beta v + x


def _graph(neuron, syn=None, n_in=4):
    n = int(np.size(getattr(neuron, "tau", getattr(neuron, "v_threshold", None))))
    syn = affine(n, n_in) if syn is None else syn
    return nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([n_in])), "fc": syn,
                               "neuron": neuron, "output": nir.Output(output_type=np.array([n]))},
                        edges=[("input", "fc"), ("fc", "neuron"), ("neuron", "output")])


@pytest.mark.parametrize("graph, node, field, words", [
    (lambda: _graph(nir.LI(tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))), "neuron", "type",
     "non-spiking readout"),
    (lambda: _graph(lif(3, tau=np.array([1e-3, 1e-3, 2e-3]))), "neuron", "tau", "one value per layer"),
    (lambda: _graph(lif(3, v_reset=np.full(3, 0.5))), "neuron", "v_reset", "reset"),
    (lambda: _graph(lif(3, v_threshold=np.array([1.0, -1.0, 1.0]))), "neuron", "v_threshold", "> 0"),
    (lambda: _graph(lif(3, tau=np.full(3, 1e-5))), "neuron", "tau", "dt_norse**2"),
    (lambda: _graph(nir.CubaLIF(tau_syn=np.full(3, 2e-4), tau_mem=np.full(3, 1e-3),
                                r=np.full(3, 10.0), v_leak=np.zeros(3), v_threshold=np.ones(3),
                                w_in=np.full(3, 2.0))), "fc", "bias", "synaptic current"),
])
def test_nodes_without_a_loihi_form_give_one_line_naming_node_and_field(graph, node, field, words,
                                                                        tmp_path):
    out = tmp_path / "net.net"
    with pytest.raises(NirError) as info:
        from_nir(graph(), str(out), dt=DT)
    msg = str(info.value)
    assert f"node '{node}'" in msg and f"field '{field}'" in msg and words in msg, msg
    assert "\n" not in msg and not out.exists()


def test_branches_and_missing_files_are_refused(tmp_path):
    g = rleaky_graph()
    g.edges.append(("fc1", "fc2"))          # fc1 feeds two nodes
    with pytest.raises(NirError, match="node 'fc1': field 'edges'"):
        normalise(g)
    with pytest.raises(NirError, match="no such file"):
        normalise(str(tmp_path / "missing.nir"))
    bad = tmp_path / "bad.nir"
    bad.write_text("not hdf5")
    with pytest.raises(NirError, match="not a readable NIR file"):
        normalise(str(bad))


def test_v_leak_becomes_a_bias_and_matches_the_reference(tmp_path):
    """A non-zero v_leak is a constant drive dt/tau * v_leak per step: Loihi's bias."""
    from loihi_snn.nir import check_import
    g = _graph(lif(3, v_leak=np.full(3, 0.6), v_threshold=np.full(3, 0.5)), affine(3, 4, bias=False))
    out = tmp_path / "leak.net"
    from_nir(g, str(out), dt=DT)
    x = (np.random.default_rng(0).random((4, 4, 30)) < 0.3).astype(np.int64)
    r = check_import(normalise(g), str(out), x, dt=DT, reset="hard")
    assert r["layers"][0]["float_spikes_per_sample"] > 0
    assert r["layers"][0]["spike_agreement"] > 0.95

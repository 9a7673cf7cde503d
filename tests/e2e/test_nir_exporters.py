"""NIR against the real exporters (snnTorch 1.0, Norse 1.1, nir 1.0.8, nirtorch 2.6):
what they write, their quirks, and our import of it -- the float reference of NIR's
equations equals each framework's own forward spike for spike, and the imported network
runs on Lava fixed_pt as the emulator does."""
from __future__ import annotations

import numpy as np
import pytest

nir = pytest.importorskip("nir")
torch = pytest.importorskip("torch")
snn = pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")

from snntorch.export_nir import export_to_nir  # noqa: E402

import loihi_snn  # noqa: E402
from loihi_snn.nir import NirError, check_import, from_nir, normalise  # noqa: E402
from loihi_snn.nir.reference import simulate  # noqa: E402

torch.set_num_threads(1)
DT = 1e-4      # snnTorch's


def vec(shape, v):
    return torch.full(shape if isinstance(shape, tuple) else (shape,), float(v))


def leaky(n, reset="zero", output=False, beta=0.9):
    return snn.Leaky(beta=vec(n, beta), threshold=vec(n, 1.0), init_hidden=True,
                     reset_mechanism=reset, reset_delay=False, output=output)


def snn_spikes(net, x, watch):
    """snnTorch forward over time (init_hidden): the spikes of the ``watch`` modules."""
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron) and hasattr(m, "mem"):
            m.reset_mem()
    rec = [[] for _ in watch]

    def hook(r):
        return lambda mod, inp, out: r.append((out[0] if isinstance(out, tuple) else out).numpy().copy())
    handles = [m.register_forward_hook(hook(r)) for r, m in zip(rec, watch)]
    try:
        with torch.no_grad():
            for t in range(x.shape[-1]):
                net(torch.tensor(x[..., t], dtype=torch.float32))
    finally:
        for h in handles:
            h.remove()
    return [np.stack(r, -1) for r in rec]


def spikes_input(shape, T=20, p=0.3, seed=0, n=8):
    return (np.random.default_rng(seed).random((n,) + shape + (T,)) < p).astype(np.int64)


def scaled(net, factor):
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(factor)
    return net


@pytest.fixture(scope="module")
def dense_leaky():
    torch.manual_seed(0)
    net = scaled(torch.nn.Sequential(torch.nn.Linear(16, 12), leaky(12), torch.nn.Linear(12, 4),
                                     leaky(4, output=True)), 3.0)
    return net, export_to_nir(net, torch.zeros(16))


def test_snntorch_leaky_quirks_dt_1e4_and_zero_reset_potential(dense_leaky, tmp_path):
    """snnTorch writes tau = dt/(1-beta), r = tau/dt with dt = 1e-4 and v_reset = 0 (no
    reset mode: its default 'subtract' cannot be written)."""
    net, graph = dense_leaky
    node = graph.nodes["1"]
    np.testing.assert_allclose(node.tau, DT / (1 - 0.9), rtol=1e-6)
    np.testing.assert_allclose(node.r, node.tau / DT, rtol=1e-6)
    assert not np.any(node.v_reset) and not hasattr(node, "reset_mode")
    path = str(tmp_path / "dense.nir")
    nir.write(path, graph)
    x = spikes_input((16,))
    ref = simulate(normalise(path), x, dt=DT)
    src = snn_spikes(net, x, [net[1], net[3]])
    for r, s in zip(ref, src):
        np.testing.assert_array_equal(r, s)          # NIR reference == snnTorch, every spike


def test_snntorch_scalar_beta_cannot_be_exported():
    """Quirk: snnTorch 1.0's exporter needs per-neuron beta/threshold (scalars give NIR
    nodes of shape () that nir's type inference rejects)."""
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), snn.Leaky(beta=0.9, init_hidden=True,
                                                               output=True))
    with pytest.raises((ValueError, AssertionError)):
        export_to_nir(net, torch.zeros(4))


class RNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(16, 10)
        self.lif1 = snn.RLeaky(beta=vec(10, 0.9), threshold=vec(10, 1.0), linear_features=10,
                               init_hidden=True, reset_mechanism="zero", reset_delay=False)
        self.fc2 = torch.nn.Linear(10, 4)
        self.lif2 = leaky(4, output=True)

    def forward(self, x):
        return self.lif2(self.fc2(self.lif1(self.fc1(x))))


def test_snntorch_rleaky_flat_dotted_cycle_imports_and_runs_on_lava(tmp_path):
    torch.manual_seed(1)
    net = scaled(RNet(), 3.0)
    graph = export_to_nir(net, torch.zeros(16))
    assert {"lif1.lif", "lif1.w_rec"} <= set(graph.nodes)
    assert ("lif1.w_rec", "lif1.lif") in graph.edges and ("lif1.lif", "lif1.w_rec") in graph.edges
    path, out = str(tmp_path / "r.nir"), str(tmp_path / "r.net")
    nir.write(path, graph)
    from_nir(path, out)
    assert loihi_snn.read_netx(out).layers[0].type == "dense_rec"
    x = spikes_input((16,))
    ref = simulate(normalise(path), x, dt=DT)
    src = snn_spikes(net, x, [net.lif1, net.lif2])
    for r, s in zip(ref, src):
        np.testing.assert_array_equal(r, s)
    r = check_import(normalise(path), out, x, dt=DT, reset="hard")
    assert all(l["spike_agreement"] > 0.9 for l in r["layers"]), r["layers"]
    xp = np.concatenate([x[:3], np.zeros(x[:3].shape[:-1] + (2,), x.dtype)], -1)
    lava = loihi_snn.run_many(out, xp, backend="lava-fixed")
    np.testing.assert_array_equal(lava, loihi_snn.emulate(out, xp))


def test_snntorch_synaptic_becomes_cubalif_with_w_in_tau_syn_over_dt(tmp_path):
    torch.manual_seed(2)
    syn = lambda n: snn.Synaptic(alpha=vec(n, 0.5), beta=vec(n, 0.9),  # noqa: E731
                                 threshold=vec(n, 1.0), init_hidden=True, reset_mechanism="zero",
                                 reset_delay=False)
    net = scaled(torch.nn.Sequential(torch.nn.Linear(16, 8, bias=False), syn(8),
                                     torch.nn.Linear(8, 4, bias=False), syn(4)), 2.0)
    graph = export_to_nir(net, torch.zeros(16))
    node = graph.nodes["1"]
    assert type(node).__name__ == "CubaLIF"
    np.testing.assert_allclose(node.w_in, node.tau_syn / DT, rtol=1e-6)
    out = str(tmp_path / "c.net")
    from_nir(graph, out)
    assert loihi_snn.read_netx(out).layers[0].neuron.params["iDecay"] == 2048
    x = spikes_input((16,))
    ref = simulate(normalise(graph), x, dt=DT)
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron):
            m.reset_mem()
    spk = []
    with torch.no_grad():
        for t in range(x.shape[-1]):
            spk.append(net(torch.tensor(x[..., t], dtype=torch.float32)).numpy())
    np.testing.assert_array_equal(ref[1], np.stack(spk, -1))


def test_snntorch_conv_export_quirk_and_import(tmp_path):
    """Quirk: snnTorch 1.0's export_to_nir fails on a conv net (its final infer_types); its
    own extractor works but writes tensors, None types and the batch dimension."""
    import nirtorch
    from snntorch.export_nir import _extract_snntorch_module
    torch.manual_seed(3)
    net = scaled(torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), leaky((4, 6, 6)),
                                     torch.nn.Flatten(), torch.nn.Linear(144, 4),
                                     leaky(4, output=True)), 2.0)
    with pytest.raises(Exception):
        export_to_nir(net, torch.zeros(1, 1, 6, 6))
    graph = nirtorch.extract_nir_graph(net, _extract_snntorch_module, torch.zeros(1, 1, 6, 6),
                                       model_name="snntorch")
    assert tuple(graph.nodes["input"].input_type["input"]) == (1, 1, 6, 6)
    chain = normalise(graph)
    assert chain.input_shape == (1, 6, 6) and [s.kind for s in chain.stages] == \
        ["conv", "flatten", "dense"]
    out = str(tmp_path / "conv.net")
    from_nir(graph, out)
    x = spikes_input((1, 6, 6), p=0.4)
    ref = simulate(chain, x, dt=DT)
    src = snn_spikes(net, x, [net[1], net[4]])
    for r, s in zip(ref, src):
        np.testing.assert_array_equal(r, s)
    r = check_import(chain, out, x, dt=DT, reset="hard")
    assert all(l["spike_agreement"] > 0.9 for l in r["layers"]), r["layers"]


def test_nir_takes_conv_kernels_as_square_and_from_nir_reads_1x5_kernels(tmp_path):
    """Quirk (nir 1.0.8): a Conv2d's output type is computed from weight.shape[2] (the
    kernel height) in both dimensions, so a 1 x 5 kernel over a 1 x N map (MNIST-1D,
    layout space) is taken as 1 x 1 and fails nir's type check; a file written with the true types is read unchecked by from_nir,
    whose shapes are its own, and runs like snnTorch."""
    torch.manual_seed(5)
    net = scaled(torch.nn.Sequential(torch.nn.Conv2d(1, 3, (1, 5), padding=(0, 2)),
                                     leaky((3, 1, 12)), torch.nn.Flatten(),
                                     torch.nn.Linear(36, 4), leaky(4, output=True)), 2.0)
    conv = nir.Conv2d(input_shape=(1, 12), weight=net[0].weight.detach().numpy(),
                      stride=1, padding=(0, 2), dilation=1, groups=1,
                      bias=net[0].bias.detach().numpy())
    assert tuple(conv.output_type["output"]) == (3, 1, 16)      # as if the kernel were 1 x 1
    ones = np.ones((3, 1, 12))
    nodes = {"input": nir.Input(input_type=np.array([1, 1, 12])), "conv": conv,
             "lif1": nir.LIF(tau=DT / 0.1 * ones, r=10 * ones, v_leak=0 * ones,
                             v_threshold=ones, v_reset=0 * ones),
             "flat": nir.Flatten(input_type={"input": np.array([3, 1, 12])}, start_dim=0),
             "fc": nir.Affine(weight=net[3].weight.detach().numpy(),
                              bias=net[3].bias.detach().numpy()),
             "lif2": nir.LIF(tau=np.full(4, DT / 0.1), r=np.full(4, 10.0), v_leak=np.zeros(4),
                             v_threshold=np.ones(4), v_reset=np.zeros(4)),
             "output": nir.Output(output_type=np.array([4]))}
    edges = [("input", "conv"), ("conv", "lif1"), ("lif1", "flat"), ("flat", "fc"),
             ("fc", "lif2"), ("lif2", "output")]
    with pytest.raises(ValueError, match="Type inference error"):
        nir.NIRGraph(nodes=nodes, edges=edges)
    conv.output_type = {"output": np.array([3, 1, 12])}
    path = str(tmp_path / "k15.nir")
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges))
    with pytest.raises(ValueError, match="Type inference error"):
        nir.read(path)
    chain = normalise(path)
    assert [s.out_shape for s in chain.stages] == [(3, 1, 12), (36,), (4,)]
    x = spikes_input((1, 1, 12), p=0.4)
    ref = simulate(chain, x, dt=DT)
    for r, s in zip(ref, snn_spikes(net, x, [net[1], net[4]])):
        np.testing.assert_array_equal(r, s)
    out = str(tmp_path / "k15.net")
    from_nir(path, out)
    assert loihi_snn.read_netx(out).layers[1].fields["kernel"] == (1, 5)


def test_snntorch_subtract_reset_is_lost_in_nir_and_recovered_with_reset_soft(tmp_path):
    torch.manual_seed(4)
    net = scaled(torch.nn.Sequential(torch.nn.Linear(16, 12), leaky(12, "subtract"),
                                     torch.nn.Linear(12, 4), leaky(4, "subtract", output=True)), 2.0)
    graph = export_to_nir(net, torch.zeros(16))
    x = spikes_input((16,), T=30)
    src = snn_spikes(net, x, [net[1]])[0]
    chain = normalise(graph)
    hard = simulate(chain, x, dt=DT, reset="hard")[0]
    soft = simulate(chain, x, dt=DT, reset="soft")[0]
    # equal except where v stays above threshold after the subtraction: snnTorch then
    # tests the next step's spike against v - threshold (its double-reset guard)
    assert np.mean(soft == src) >= 0.95 and np.mean(soft == src) > np.mean(hard == src) + 0.03
    assert soft.sum() > hard.sum()


def test_norse_lifbox_quirk_tau_is_dt_over_tau_inv(tmp_path):
    """Norse 1.1 writes tau = dt / tau_mem_inv (its dt once too many): the default dt is
    refused with a hint, dt = dt_norse**2 reproduces Norse's forward spike for spike."""
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(5)

    def cell(n):
        return norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.full((n,), 100.0),
                                                       v_th=torch.ones(n), v_leak=torch.zeros(n),
                                                       v_reset=torch.zeros(n)))
    model = scaled(norse.SequentialState(torch.nn.Linear(16, 12), cell(12),
                                         torch.nn.Linear(12, 4), cell(4)), 30.0)
    graph = norse.to_nir(model, torch.zeros(16), dt=1e-3)
    np.testing.assert_allclose(np.asarray(graph.nodes["1"].tau), 1e-3 / 100.0, rtol=1e-6)
    path = str(tmp_path / "norse.nir")
    nir.write(path, graph)
    with pytest.raises(NirError, match="node '1': field 'tau'.*dt_norse"):
        from_nir(path, str(tmp_path / "bad.net"))
    x = spikes_input((16,))
    ref = simulate(normalise(path), x, dt=1e-6)
    state, outs = None, []
    with torch.no_grad():
        for t in range(x.shape[-1]):
            o, state = model(torch.tensor(x[..., t], dtype=torch.float32), state)
            outs.append(o.numpy())
    np.testing.assert_array_equal(ref[-1], np.stack(outs, -1))
    assert ref[-1].sum() > 0
    from_nir(path, str(tmp_path / "norse.net"), dt=1e-6)

"""ASA gate: causal, per-sample, trained split; torch quantized == Lava fixed_pt spike for
spike; fixed-point arithmetic defined once for numpy and torch; NetX ``asa/`` validation."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from loihi_snn import NetxFormatError
from loihi_snn.torch.blocks import ASAConv, ASAGate, Conv, Dense, Flatten
from loihi_snn.core.metrics import layer_firing_rates, nasfr, spikes_per_sample
from loihi_snn.netx import read_netx
from loihi_snn.torch.export import export_blocks
from loihi_snn.core import asa as af
from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.runtime.probe import run_layers

from helpers import put

T = 40
HW = 8


def _p(**kw):
    return dict({"threshold": 0.5, "current_decay": 0.3, "voltage_decay": 0.05}, **kw)


def _randomize_gate(gate: ASAGate, seed: int) -> None:
    """Gate parameters that make both maps (and, adaptive, the split) vary a lot (a
    meaningful parity test)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if gate.split == "adaptive":
            gate.score_weight.copy_(torch.randn(gate.score_weight.shape, generator=g) * 0.6)
            gate.score_bias.copy_(torch.randn(gate.channels, generator=g) * 0.3)
        else:
            gate.score.copy_(torch.randn(gate.channels, generator=g))
        if gate.split != "gain":
            gate.weight_imp.copy_(torch.randn(2, 3, 3, generator=g) * 0.8)
            gate.weight_sub.copy_(torch.randn(2, 3, 3, generator=g) * 0.8)
            gate.bias_imp.fill_(0.7)
            gate.bias_sub.fill_(-0.4)


#: parity nets: name -> (input (C, H, W), blocks)
SHAPES = {
    # two adaptive gates, 2x8x8, the second with k = 1 of 4
    "adaptive": (2, HW, HW),
    # plain conv, then a static gate on a soft-reset non-leaky neuron
    "static": (2, HW, HW),
    # non-square input, adaptive gate on a stride-2 conv with odd channel counts
    "adaptive-stride": (3, 6, 10),
}


def _net(kind: str, seed: int, split: str = "adaptive"):
    torch.manual_seed(seed)
    if kind == "adaptive":      # ``split`` picks the two gates' split
        blocks = [ASAConv(_p(), 2, 6, 3, padding=1, weight_scale=4, asa_split=split),
                  ASAConv(_p(), 6, 4, 3, padding=1, weight_scale=3, asa_ratio=0.25,
                          asa_split=split)]
        out = 4 * HW * HW
    elif kind == "static":
        blocks = [Conv(_p(), 2, 6, 3, padding=1, weight_scale=4),
                  ASAConv(_p(reset="soft", leak=False), 6, 4, 3, padding=1, weight_scale=3,
                          asa_split="static")]
        out = 4 * HW * HW
    elif kind == "adaptive-stride":
        blocks = [ASAConv(_p(), 3, 5, 3, padding=1, stride=2, weight_scale=5, asa_ratio=0.6),
                  ASAConv(_p(reset="soft"), 5, 3, 3, padding=1, weight_scale=3)]
        out = 3 * 3 * 5
    else:
        raise ValueError(kind)
    blocks += [Flatten(), Dense(_p(), out, 5, weight_scale=2)]
    blocks = torch.nn.ModuleList(blocks)
    for i, b in enumerate(blocks):
        if isinstance(b, ASAConv):
            _randomize_gate(b.gate, seed + i)
    return blocks


def _inputs(n: int, seed: int, t: int = T, shape=(2, HW, HW)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand((n,) + tuple(shape) + (t,), generator=g) < 0.3).float()


def _layers(blocks, x):
    outs = []
    with torch.no_grad():
        for b in blocks:
            x = b(x)
            if getattr(b, "neuron", None) is not None:
                outs.append(x.numpy())
    return outs


def _export(blocks, x, path):
    blocks.eval()
    _layers(blocks, x)                        # SLAYER sets shapes on the first forward
    export_blocks(blocks, path, input_shape=tuple(x.shape[1:-1]))
    return path


# ----------------------------------------------------------------------------- parity

@pytest.mark.parametrize("kind", list(SHAPES))
def test_torch_quantized_equals_lava_fixed_and_emulator(kind, tmp_path):
    """Spike for spike, every layer: torch quantized == Lava fixed_pt (one sample) ==
    emulator (a batch of two, per-layer spike counts per step)."""
    blocks = _net(kind, seed=3)
    X = _inputs(2, seed=4, t=24, shape=SHAPES[kind])
    path = _export(blocks, X, tmp_path / "asa.net")
    spec = read_netx(path)
    gates = [l.fields["asa"] for l in spec.layers if "asa" in l.fields]
    assert len(gates) == (1 if kind == "static" else 2)
    assert {g["split"] for g in gates} == {"static" if kind == "static" else "adaptive"}
    expect = _layers(blocks, X)
    lava = run_layers(path, X[0].numpy())
    assert len(lava) == len(expect) == 3
    for i, (e, o) in enumerate(zip(expect, lava)):
        assert e[0].sum() > 20, f"layer {i} too quiet for a meaningful comparison"
        np.testing.assert_array_equal(o.reshape(e[0].shape), e[0], err_msg=f"layer {i}")
    out, counts, sizes = emulate(path, X.numpy(), return_spike_counts=True)
    np.testing.assert_array_equal(out, expect[-1])
    for i, e in enumerate(expect):
        np.testing.assert_array_equal(counts[i], (e != 0).reshape(len(X), -1, e.shape[-1])
                                      .sum(1), err_msg=f"emulator layer {i}")
    # the gates really gated: many distinct gains, both groups used; the adaptive split
    # changes from sample to sample and from step to step
    block = blocks[1]
    z = block.synapse(torch.from_numpy(expect[0]))
    mi, ms, mask = block.gate.maps(z)
    assert len(torch.unique(mi)) > 10 and len(torch.unique(ms)) > 10
    assert (mi != ms).float().mean() > 0.5
    assert torch.all(mask.sum(1) == block.gate.num_important)
    if kind != "static":
        z0 = blocks[0].synapse(X)
        sets = {tuple(m[:, t].tolist()) for g, zz in ((blocks[0].gate, z0), (block.gate, z))
                for m in g.maps(zz)[2] for t in range(zz.shape[-1])}
        assert len(sets) >= 4, sets


def test_gain_control_is_a_constant_gain(tmp_path):
    """``asa_split="gain"``: zero map weights, nothing learned, every current scaled by
    the table gain of the bias; exported as a static gate that Lava runs spike for spike."""
    torch.manual_seed(0)
    block = ASAConv(_p(), 2, 4, 3, padding=1, weight_scale=4, asa_split="gain",
                    asa_map_bias=1.0)
    assert not any(p.requires_grad for p in block.gate.parameters())
    block.eval()
    x = _inputs(2, seed=1, t=6)
    z = block.synapse(x)
    a = torch.round(z * 64).long()
    g = af.table_gain(4096)                        # z = 1.0: table bin 16
    assert g == 189                              # 256 sigmoid(16.5 / 16): the bin centre
    torch.testing.assert_close(block.gate(z), ((g * a) >> 8).double().float() / 64,
                               rtol=0, atol=0)
    blocks = torch.nn.ModuleList([block, Flatten(), Dense(_p(), 4 * HW * HW, 3,
                                                          weight_scale=2)])
    path = _export(blocks, x, tmp_path / "gain.net")
    assert read_netx(path).layers[1].fields["asa"]["split"] == "static"
    expect = _layers(blocks, x)
    np.testing.assert_array_equal(emulate(path, x.numpy()), expect[-1])


def test_lava_float_agrees_with_torch_float(tmp_path):
    """Lava floating_pt (float64) vs the torch training forward (float32) on the same
    quantized parameters: >= 99 % of the spikes of every layer equal (float rounding at
    threshold crossings may flip a few)."""
    blocks = _net("adaptive", seed=5)
    x = _inputs(1, seed=6)
    path = _export(blocks, x, tmp_path / "asa.net")
    blocks.train()
    expect = _layers(blocks, x)
    lava = run_layers(path, x[0].numpy(), backend="lava-float")
    for i, (e, o) in enumerate(zip(expect, lava)):
        assert e.sum() > 20
        assert (np.asarray(o, float).reshape(e[0].shape) == e[0]).mean() >= 0.99, f"layer {i}"


def test_streamed_and_controlled_runs_equal_torch(tmp_path):
    """The gate is stateless: a stream of samples with neuron resets between them
    (run_many, on Lava, the fused Lava process and the batched emulator) and the cutoff
    controller's resettable neurons (controlled=True) give the torch batch results."""
    from loihi_snn.sim.runtime.cutoff_run import run_cutoff
    from loihi_snn.sim.runtime.stream import run_many
    blocks = _net("adaptive", seed=7)
    X = _inputs(3, seed=8, t=32)
    path = _export(blocks, X, tmp_path / "asa.net")
    expect = _layers(blocks, X)[-1]
    assert expect.sum() > 10
    np.testing.assert_array_equal(run_many(path, X.numpy()), expect)
    for backend in ("emulator", "lava-fused"):
        np.testing.assert_array_equal(run_many(path, X.numpy(), backend=backend), expect,
                                      err_msg=backend)
    res = run_cutoff(path, X.numpy(), cutoff=False)
    np.testing.assert_array_equal(res.predictions, expect.sum(-1).argmax(1))


def test_export_is_refused_by_stock_netx(tmp_path):
    """An ASA layer is written with our LIF neuron type, so stock netx cannot silently
    run it without the gate."""
    from lava.lib.dl import netx
    blocks = _net("adaptive", seed=9)
    path = _export(blocks, _inputs(1, 1), tmp_path / "asa.net")
    with h5py.File(path) as f:
        assert f["layer/1/neuron/type"][()] == b"LIF"
        g = f["layer/1/asa"]
        assert g["split"][()] == b"adaptive" and g["numImportant"][()] == 3
        assert g["scoreWeight"].shape == (6, 12) and g["scoreBias"].shape == (6,)
        assert g["weightImp"].shape == (1, 2, 3, 3)
        assert f["layer/2/asa/numImportant"][()] == 1           # ratio 0.25 of 4
    with pytest.raises(Exception):
        netx.hdf5.Network(net_config=str(path))
    static = _export(_net("adaptive", seed=9, split="static"), _inputs(1, 1),
                     tmp_path / "static.net")
    with h5py.File(static) as f:
        g = f["layer/1/asa"]
        assert g["split"][()] == b"static" and "scoreWeight" not in g
        assert g["important"].shape == (6,) and g["important"][()].sum() == 3


# ----------------------------------------------------------------------------- arithmetic

def _random_gate_params(rng):
    C = int(rng.integers(2, 9))
    imp = np.zeros(C, bool)
    imp[rng.choice(C, int(rng.integers(1, C)), replace=False)] = True
    return C, dict(important=imp,
                   w_imp=rng.integers(af.W_MIN, af.W_MAX + 1, (2, 3, 3)),
                   b_imp=int(rng.integers(-200000, 200000)),
                   w_sub=rng.integers(af.W_MIN, af.W_MAX + 1, (1, 2, 3, 3)),
                   b_sub=int(rng.integers(-200000, 200000)),
                   shift=int(rng.integers(4, 12)))


@pytest.mark.parametrize("seed", range(6))
def test_numpy_and_torch_fixed_functions_give_identical_integers(seed):
    rng = np.random.default_rng(seed)
    C, kw = _random_gate_params(rng)
    scale = [50, 3000, (1 << 23) - 1][seed % 3]
    a = rng.integers(-scale, scale + 1, (3, 2, C, 5, 7))
    y_np = af.asa_gate_fixed(a, kw["important"], kw["w_imp"], kw["b_imp"], kw["w_sub"],
                             kw["b_sub"], kw["shift"])
    y_t = af.asa_gate_fixed(torch.from_numpy(a), torch.from_numpy(kw["important"]),
                            torch.from_numpy(kw["w_imp"]), kw["b_imp"],
                            torch.from_numpy(kw["w_sub"]), kw["b_sub"], kw["shift"])
    assert y_np.dtype == np.int64 and y_t.dtype == torch.int64
    np.testing.assert_array_equal(y_t.numpy(), y_np)
    assert np.all(np.abs(y_np) <= np.abs(a))
    m_np = af.asa_maps_fixed(a, kw["important"], kw["w_imp"], kw["b_imp"], kw["w_sub"],
                             kw["b_sub"], kw["shift"])
    m_t = af.asa_maps_fixed(torch.from_numpy(a), kw["important"], kw["w_imp"], kw["b_imp"],
                            kw["w_sub"], kw["b_sub"], kw["shift"])
    for mn, mt in zip(m_np, m_t):
        np.testing.assert_array_equal(mt.numpy(), mn)
        assert 0 <= mn.min() and mn.max() <= af.M_ONE
    # the float form agrees between numpy (float64) and torch (float64)
    x = a / 64.0
    args = (kw["important"].astype(float), kw["w_imp"] / 64, kw["b_imp"] / 4096,
            kw["w_sub"] / 64, kw["b_sub"] / 4096)
    f_np = af.asa_gate_float(x, *args)
    f_t = af.asa_gate_float(torch.from_numpy(x), *[torch.as_tensor(v) for v in args])
    np.testing.assert_allclose(f_t.numpy(), f_np, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_adaptive_split_numpy_and_torch_give_identical_integers(seed):
    rng = np.random.default_rng(10 + seed)
    C = int(rng.integers(2, 10))
    k = int(rng.integers(1, C))
    p = af.gate_params(split="adaptive", num_important=k,
                       score_weight=rng.integers(af.W_MIN, af.W_MAX + 1, (C, 2 * C)),
                       score_bias=rng.integers(-50000, 50000, C),
                       weight_imp=rng.integers(af.W_MIN, af.W_MAX + 1, (2, 3, 3)),
                       bias_imp=int(rng.integers(-200000, 200000)),
                       weight_sub=rng.integers(af.W_MIN, af.W_MAX + 1, (2, 3, 3)),
                       bias_sub=int(rng.integers(-200000, 200000)))
    scale = [50, 3000, (1 << 23) - 1][seed % 3]
    a = rng.integers(-scale, scale + 1, (3, 4, C, 5, 7))
    a[0, 0] = 7                                   # all scores tied except for the bias
    y_np, (m_np, mi_np, ms_np) = af.apply_gate_fixed(a, p, return_maps=True)
    y_t, (m_t, mi_t, ms_t) = af.apply_gate_fixed(torch.from_numpy(a), p, return_maps=True)
    np.testing.assert_array_equal(y_t.numpy(), y_np)
    np.testing.assert_array_equal(m_t.numpy(), m_np)
    assert m_np.shape == (3, 4, C) and np.all(m_np.sum(-1) == k)
    assert np.all(np.abs(y_np) <= np.abs(a))
    # the set is the top k of the integer scores, ties to the lower index
    s = af.channel_scores(a, p["score_weight"], p["score_bias"])
    order = np.argsort(-s, axis=-1, kind="stable")[..., :k]
    expect = np.zeros_like(m_np)
    np.put_along_axis(expect, order, True, axis=-1)
    np.testing.assert_array_equal(m_np, expect)
    # per position: the same as a static gate with that position's set
    for n, t in ((0, 0), (2, 3)):
        stat = af.asa_gate_fixed(a[n, t], m_np[n, t], p["weight_imp"], p["bias_imp"],
                                 p["weight_sub"], p["bias_sub"])
        np.testing.assert_array_equal(y_np[n, t], stat)


def test_top_k_mask_breaks_ties_by_index_and_scores_follow_their_definition():
    s = np.array([[3, 1, 3, 3, 0], [0, 0, 0, 0, 0]])
    np.testing.assert_array_equal(af.top_k_mask(s, 2), [[1, 0, 1, 0, 0], [1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(af.top_k_mask(torch.from_numpy(s), 2).numpy(),
                                  af.top_k_mask(s, 2))
    with pytest.raises(ValueError, match="k <= 4"):
        af.top_k_mask(s, 5)
    rng = np.random.default_rng(0)
    a = rng.integers(-1000, 1000, (2, 3, 4, 5))
    d = af.channel_descriptors(a)
    np.testing.assert_array_equal(d[..., :3], np.floor_divide(a.sum((-2, -1)), 20))
    np.testing.assert_array_equal(d[..., 3:], a.max((-2, -1)))
    w, b = rng.integers(-256, 256, (3, 6)), rng.integers(-99, 99, 3)
    np.testing.assert_array_equal(af.channel_scores(a, w, b), d @ w.T + b)


def test_fixed_pieces_follow_their_definition():
    """floor mean, exact max, shifted-slice conv == torch conv2d, >> 8 output."""
    rng = np.random.default_rng(1)
    a = rng.integers(-1000, 1000, (4, 5, 6))
    imp = np.array([True, False, True, False])
    f_imp, f_sub = af.group_features_fixed(a, imp)
    np.testing.assert_array_equal(f_imp[0], np.floor(a[imp].sum(0) / 2).astype(np.int64))
    np.testing.assert_array_equal(f_sub[1], a[~imp].max(0))
    w = rng.integers(-256, 256, (2, 3, 3))
    z = af.conv3x3(f_imp, w, 17)
    ref = torch.nn.functional.conv2d(torch.from_numpy(f_imp[None]).double(),
                                     torch.from_numpy(w[None]).double(), padding=1)[0, 0] + 17
    np.testing.assert_array_equal(z, ref.numpy().astype(np.int64))
    m = af.sigmoid_fixed(z)
    y = af.asa_gate_fixed(a, imp, w, 17, w, 17)
    np.testing.assert_array_equal(y[0], (m * a[0]) >> 8)


@pytest.mark.parametrize("shift", [6, af.SIGMOID_SHIFT, 10])
def test_sigmoid_table_is_monotone_and_bounded(shift):
    table = af.sigmoid_table(shift)
    assert table.shape == (256,) and table.dtype == np.int64
    assert np.all(np.diff(table) >= 0)
    assert table.min() >= 0 and table.max() <= 256
    centers = (np.arange(-128, 128) + 0.5) * 2.0 ** shift / 4096
    np.testing.assert_allclose(table, 256 / (1 + np.exp(-centers)), atol=0.5 + 1e-9)
    if shift == af.SIGMOID_SHIFT:       # span about +-8: saturates at both ends
        assert table[0] == 0 and table[-1] == 256 and table[128] == 130
    z = np.arange(-(1 << 16), 1 << 16, 37)
    assert np.all(np.diff(af.sigmoid_fixed(z, shift)) >= 0)


# ----------------------------------------------------------------------------- semantics

@pytest.mark.parametrize("split", ["adaptive", "static"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_batch_independence(mode, split):
    """Changing the other samples of a batch leaves one sample's output unchanged."""
    torch.manual_seed(0)
    block = ASAConv(_p(), 2, 6, 3, padding=1, weight_scale=4, asa_split=split)
    _randomize_gate(block.gate, 2)
    block.train(mode == "train")
    x1 = _inputs(4, seed=1)
    x2 = x1.clone()
    x2[1:] = _inputs(3, seed=2)
    with torch.no_grad():
        g1, g2 = block.gate(block.synapse(x1)), block.gate(block.synapse(x2))
        s1, s2 = block(x1), block(x2)
    assert not torch.equal(g1[1:], g2[1:])
    torch.testing.assert_close(g1[0], g2[0], rtol=0, atol=1e-6 if mode == "train" else 0)
    torch.testing.assert_close(s1[0], s2[0], rtol=0, atol=0)
    assert s1[0].sum() > 20


@pytest.mark.parametrize("split", ["adaptive", "static"])
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_causality(mode, split):
    """Changing the input after step t leaves gate outputs and spikes up to t unchanged."""
    torch.manual_seed(0)
    block = ASAConv(_p(), 2, 6, 3, padding=1, weight_scale=4, asa_split=split)
    _randomize_gate(block.gate, 3)
    block.train(mode == "train")
    t = 17
    x1 = _inputs(2, seed=5)
    x2 = x1.clone()
    x2[..., t + 1:] = 1.0 - x2[..., t + 1:]
    with torch.no_grad():
        g1, g2 = block.gate(block.synapse(x1)), block.gate(block.synapse(x2))
        s1, s2 = block(x1), block(x2)
    torch.testing.assert_close(g1[..., :t + 1], g2[..., :t + 1], rtol=0, atol=0)
    torch.testing.assert_close(s1[..., :t + 1], s2[..., :t + 1], rtol=0, atol=0)
    assert not torch.equal(g1[..., t + 1:], g2[..., t + 1:])
    assert s1[..., :t + 1].sum() > 10


def test_adaptive_scores_receive_gradient_and_the_split_is_learnable():
    """The scoring layer gets gradient through the straight-through mask, and a loss
    that wants channel j gated by the (high) important map teaches the scores to put
    j into the set for every sample and step."""
    torch.manual_seed(0)
    gate = ASAGate(6, ratio=0.5, split="adaptive")
    x = torch.rand(4, 6, 5, 5, 3) * 2
    gate.train()
    gate(x).pow(2).sum().backward()
    for name in ("score_weight", "score_bias", "weight_imp", "weight_sub", "bias_imp",
                 "bias_sub"):
        grad = getattr(gate, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    with torch.no_grad():
        gate.bias_imp.fill_(3.0)
        gate.bias_sub.fill_(-3.0)
    j = 2

    def share():
        with torch.no_grad():
            return float(gate.maps(x)[2][:, j].float().mean())
    before = share()
    assert before < 1.0
    opt = torch.optim.Adam([gate.score_weight, gate.score_bias], lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        (-gate(x)[:, j].sum()).backward()
        opt.step()
    assert share() == 1.0
    assert torch.all(gate.maps(x)[2].sum(1) == 3)


def test_static_scores_receive_gradient_and_the_split_is_learnable():
    torch.manual_seed(0)
    gate = ASAGate(6, ratio=0.5, split="static")
    x = torch.rand(2, 6, 5, 5, 4)
    gate.train()
    gate(x).pow(2).sum().backward()
    for name in ("score", "weight_imp", "weight_sub", "bias_imp", "bias_sub"):
        grad = getattr(gate, name).grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    assert (gate.score.grad != 0).all()
    # a loss that wants channel j gated by the (high) important map moves j into the set
    with torch.no_grad():
        gate.bias_imp.fill_(3.0)
        gate.bias_sub.fill_(-3.0)
    j = int(torch.nonzero(~gate.important_mask())[0])
    opt = torch.optim.SGD([gate.score], lr=1.0)
    for _ in range(50):
        opt.zero_grad()
        (-gate(x)[:, j].sum()).backward()
        opt.step()
        if gate.important_mask()[j]:
            break
    assert gate.important_mask()[j]
    assert int(gate.important_mask().sum()) == 3


def test_split_is_deterministic_in_eval(tmp_path):
    gate = ASAGate(8, ratio=0.5, split="static")
    with torch.no_grad():
        gate.score.copy_(torch.tensor([0.3, 0.1, 0.3, -1.0, 0.3, 0.2, 0.3, 0.0]))
    # top 4 with ties broken by the lower index, independent of the input
    expect = torch.tensor([1, 0, 1, 0, 1, 0, 1, 0], dtype=torch.bool)
    assert torch.equal(gate.important_mask(), expect)
    gate.eval()
    x = torch.rand(3, 8, 4, 4, 6)
    y1, y2 = gate(x), gate(x)
    assert torch.equal(y1, y2)
    np.testing.assert_array_equal(gate.quantized()["important"], expect.numpy())
    with pytest.raises(ValueError, match="no fixed important set"):
        ASAGate(8).important_mask()
    with torch.no_grad():
        gate.score.fill_(0.0)
    assert torch.equal(gate.important_mask(), torch.tensor([1, 1, 1, 1, 0, 0, 0, 0],
                                                           dtype=torch.bool))


@pytest.mark.parametrize("split", ["adaptive", "static"])
def test_eval_forward_feeds_exact_integers_to_the_neuron(split):
    """Y_int / 64 reaches the LIF neuron, whose round(64 * input) recovers Y_int."""
    torch.manual_seed(1)
    gate = ASAGate(4, split=split).eval()
    _randomize_gate(gate, 1)
    x = torch.randint(-5000, 5000, (2, 4, 6, 6, 3)).float() / 64
    y = gate(x)
    y_int = af.apply_gate_fixed((x * 64).round().long().permute(0, 4, 1, 2, 3),
                                gate.quantized())
    assert torch.equal(torch.round(y * 64).long(), y_int.permute(0, 2, 3, 4, 1))


def test_gate_starts_near_gain_one():
    """Default initialisation: map bias 3.0 and small map weights, so the gate starts
    at a gain of about 0.95 (the starting gain does not confound spike counts)."""
    torch.manual_seed(0)
    gate = ASAGate(8).eval()
    assert af.table_gain(int(af.quantize_bias(gate.bias_imp))) == 244
    x = torch.rand(4, 8, 6, 6, 5) * 2
    mi, ms, _ = gate.maps(x)
    for m in (mi, ms):
        assert 0.9 <= float(m.float().mean()) / 256 <= 1.0


@pytest.mark.parametrize("kwargs,match", [({"channels": 1}, "at least 2"),
                                          ({"channels": 4, "ratio": 1.0}, "ratio"),
                                          ({"channels": 4, "ratio": 0.0}, "ratio"),
                                          ({"channels": 4, "split": "dynamic"}, "split")])
def test_bad_gate_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ASAGate(**kwargs)


# ----------------------------------------------------------------------------- NetX errors

BAD_FIELDS = [
    ("important", np.array([1, 0, 1], np.int8), "one per output channel"),
    ("important", np.zeros(6, np.int8), "both groups"),
    ("important", np.ones(6, np.int8), "both groups"),
    ("important", np.array([2, 0, 1, 0, 1, 0]), "maximum"),
    ("important", None, "missing"),
    ("weightImp", np.full((1, 2, 3, 3), 300), "maximum"),
    ("weightImp", np.full((1, 2, 3, 3), 1.5), "integers"),
    ("weightSub", np.zeros((1, 2, 2, 2)), "(1, 2, 3, 3)"),
    ("weightSub", np.full((1, 2, 3, 3), np.nan), "NaN"),
    ("biasImp", None, "missing"),
    ("biasSub", np.int64(1 << 24), "maximum"),
    ("biasSub", np.zeros(3), "scalar"),
    ("sigmoidShift", np.int32(40), "maximum"),
    ("split", "dynamic", "must be one of"),
]
BAD_ADAPTIVE_FIELDS = [
    ("numImportant", np.int32(0), "minimum"),
    ("numImportant", np.int32(6), "maximum"),
    ("numImportant", None, "missing"),
    ("scoreWeight", np.zeros((6, 6), np.int16), "expected shape (6, 12)"),
    ("scoreWeight", np.full((6, 12), 300), "maximum"),
    ("scoreWeight", None, "missing"),
    ("scoreBias", np.zeros(5, np.int32), "one per output channel"),
    ("scoreBias", np.full(6, 0.5), "integers"),
]


@pytest.mark.parametrize("key,value,words,split",
                         [f + ("static",) for f in BAD_FIELDS]
                         + [f + ("adaptive",) for f in BAD_ADAPTIVE_FIELDS],
                         ids=[f"{k}-{w.split()[0]}" for k, _, w in BAD_FIELDS + BAD_ADAPTIVE_FIELDS])
def test_bad_asa_fields_give_clear_errors(key, value, words, split, tmp_path):
    blocks = _net("adaptive", seed=1, split=split)
    path = _export(blocks, _inputs(1, 1, t=4), tmp_path / "bad.net")
    with h5py.File(path, "a") as f:
        put(f["layer/1/asa"], key, value)
    with pytest.raises(NetxFormatError) as info:
        read_netx(path)
    exc = info.value
    assert exc.layer == 1 and exc.field == f"asa/{key}", str(exc)
    assert words in str(exc) and "\n" not in str(exc)
    assert f"field 'asa/{key}'" in str(exc) and "layer 1" in str(exc)


def test_asa_group_on_a_dense_layer_or_as_a_dataset_is_refused(tmp_path):
    blocks = _net("adaptive", seed=1)
    path = _export(blocks, _inputs(1, 1, t=4), tmp_path / "bad.net")
    with h5py.File(path, "a") as f:
        f["layer/4"].copy(f["layer/1/asa"], "asa")
    with pytest.raises(NetxFormatError, match="only supported on conv") as info:
        read_netx(path)
    assert info.value.layer == 4 and info.value.field == "asa"
    with h5py.File(path, "a") as f:
        del f["layer/4/asa"]
        del f["layer/2/asa"]
        f["layer/2"].create_dataset("asa", data=1)
    with pytest.raises(NetxFormatError, match="expected a group") as info:
        read_netx(path)
    assert info.value.layer == 2 and info.value.field == "asa"


# ----------------------------------------------------------------------------- metrics

def test_nasfr_and_spikes_per_sample():
    a = np.zeros((2, 4, 10))            # 4 neurons
    a[0, 0, :5] = 1                     # 5 spikes in sample 0
    b = np.zeros((2, 2, 3, 2, 10))      # 12 neurons
    b[1, 0, 0, 0, :] = -1               # 10 (signed) spikes in sample 1
    rates = layer_firing_rates([a, b])
    np.testing.assert_allclose(rates, [5 / 80, 10 / 240])
    assert nasfr([a, b]) == pytest.approx((4 * 5 / 80 + 12 * 10 / 240) / 16)
    assert nasfr([a, b]) == pytest.approx(15 / (16 * 10 * 2))
    np.testing.assert_array_equal(spikes_per_sample([a, torch.from_numpy(b)]), [5, 10])
    with pytest.raises(ValueError, match="batch size"):
        nasfr([a, b[:1]])
    with pytest.raises(ValueError, match="empty"):
        nasfr([])

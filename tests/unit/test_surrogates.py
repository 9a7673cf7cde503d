"""The LIF family's surrogate option: the fast BPTT equals the autograd loop for every
spike mode x surrogate shape, and the shapes are the documented formulas."""
from __future__ import annotations

import pytest
import torch

from loihi_snn.torch.blocks import Dense
from loihi_snn.torch.surrogates import resolve_surrogate, surrogate_derivative


def _run(params, autograd: bool, x):
    torch.manual_seed(0)
    block = Dense(params, 10, 12, weight_scale=3)
    block.neuron.use_autograd_loop = autograd
    block.train()
    out = block(x)
    loss = (out * torch.linspace(-1, 1, out.shape[-1])).sum() + (out ** 2).sum() * 0.1
    loss.backward()
    return out.detach(), [p.grad.clone() for p in block.parameters() if p.grad is not None]


@pytest.mark.parametrize("spike", ["binary", "ternary"])
@pytest.mark.parametrize("surrogate", ["exp", "ste"])
def test_fast_bptt_matches_autograd_for_each_surrogate(spike, surrogate):
    p = {"threshold": 0.6, "current_decay": 0.3, "voltage_decay": 0.1, "spike": spike,
         "tau_grad": 0.5, "scale_grad": 1.0, "surrogate": surrogate}
    x = (torch.rand(4, 10, 30, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    out_fast, g_fast = _run(p, False, x)
    out_ref, g_ref = _run(p, True, x)
    assert out_ref.abs().sum() > 10
    torch.testing.assert_close(out_fast, out_ref)
    assert len(g_fast) == len(g_ref) > 0 and any(float(g.abs().sum()) > 0 for g in g_fast)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_surrogate_shapes():
    v = torch.tensor([-1.5, -1.0, -0.2, 0.0, 0.5, 1.0, 1.9, 2.5])
    vth, tau, scale = 1.0, 0.5, 2.0
    exp_b = surrogate_derivative(v, vth, False, "exp", tau, scale)
    exp_t = surrogate_derivative(v, vth, True, "exp", tau, scale)
    torch.testing.assert_close(exp_b, scale * torch.exp(-(v - vth).abs() / tau))
    torch.testing.assert_close(exp_t, scale * torch.exp(-(v.abs() - vth).abs() / tau))
    assert float(exp_t[1]) == float(exp_t[5]) == scale        # peak at both thresholds
    ste_b = surrogate_derivative(v, vth, False, "ste", tau, scale)
    ste_t = surrogate_derivative(v, vth, True, "ste", tau, scale)
    assert ste_b.tolist() == [0, 0, 0, 0, 0.5, 0.5, 0.5, 0]
    assert ste_t.tolist() == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0]
    assert resolve_surrogate("auto", True) == "ste" and resolve_surrogate("auto", False) == "exp"
    with pytest.raises(ValueError, match="unknown surrogate"):
        resolve_surrogate("sigmoid", False)

"""The hand-written BPTT equals the autograd loop: same spikes, same gradients."""
from __future__ import annotations

import itertools

import pytest
import torch

from loihi_snn.torch.blocks import Dense, Recurrent


def _run(block_fn, autograd: bool, x):
    torch.manual_seed(0)
    block = block_fn()
    block.neuron.use_autograd_loop = autograd
    block.train()
    out = block(x)
    loss = (out * torch.linspace(-1, 1, out.shape[-1])).sum() + (out ** 2).sum() * 0.1
    loss.backward()
    grads = [p.grad.clone() for p in block.parameters() if p.grad is not None]
    return out.detach(), grads


@pytest.mark.parametrize("reset,spike,recurrent", [
    c for c in itertools.product(["hard", "soft", "none"], ["binary", "ternary"], [False, True])
    if not (c[1] == "ternary" and c[2])])
def test_fast_bptt_matches_autograd(reset, spike, recurrent):
    p = {"threshold": 0.6, "current_decay": 0.3, "voltage_decay": 0.1, "reset": reset,
         "spike": spike, "tau_grad": 0.5, "scale_grad": 1.0}
    make = (lambda: Recurrent(p, 10, 12, weight_scale=3)) if recurrent else \
        (lambda: Dense(p, 10, 12, weight_scale=3))
    x = (torch.rand(4, 10, 30, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    out_fast, g_fast = _run(make, False, x)
    out_ref, g_ref = _run(make, True, x)
    assert out_ref.abs().sum() > 10
    torch.testing.assert_close(out_fast, out_ref)
    assert len(g_fast) == len(g_ref) > 0
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reset,leak,recurrent", [("none", False, False), ("hard", True, True),
                                                  ("soft", False, True)])
def test_fast_bptt_matches_autograd_single_state(reset, leak, recurrent):
    """synapse="single" (current decay 1: u[t] = a_in[t]) in the hand-written BPTT."""
    p = {"threshold": 0.6, "current_decay": 0.3, "voltage_decay": 0.1, "reset": reset,
         "leak": leak, "synapse": "single", "tau_grad": 0.5, "scale_grad": 1.0}
    make = (lambda: Recurrent(p, 10, 12, weight_scale=3)) if recurrent else \
        (lambda: Dense(p, 10, 12, weight_scale=3))
    x = (torch.rand(4, 10, 30, generator=torch.Generator().manual_seed(2)) < 0.4).float()
    out_fast, g_fast = _run(make, False, x)
    out_ref, g_ref = _run(make, True, x)
    assert out_ref.abs().sum() > 10
    torch.testing.assert_close(out_fast, out_ref)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)

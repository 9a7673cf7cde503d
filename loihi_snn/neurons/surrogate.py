"""Surrogate-gradient spike function for training (torch)."""
from __future__ import annotations

import torch


class ExpSurrogateSpike(torch.autograd.Function):
    """Heaviside forward, ``scale * exp(-|x| / tau)`` backward (SLAYER's PDF shape).

    ``x`` is ``v - vth`` in weight units; returns float spikes of ``x``'s dtype.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, tau: float, scale: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.tau, ctx.scale = tau, scale
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad * ctx.scale * torch.exp(-x.abs() / ctx.tau), None, None


def exp_surrogate(tau: float, scale: float):
    """A spike function ``f(x)`` for :func:`loihi_snn.neurons.dynamics.lif_float_step`."""
    return lambda x: ExpSurrogateSpike.apply(x, tau, scale)

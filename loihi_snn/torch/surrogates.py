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
        # exponent clamped: deeper underflow gives denormals, which are very slow on CPUs
        return grad * ctx.scale * torch.exp(-(x.abs() / ctx.tau).clamp(max=80.0)), None, None


def exp_surrogate(tau: float, scale: float):
    """Binary spike function ``f(v, vth)`` for :func:`~loihi_snn.core.lif.lif_float_step`."""
    return lambda v, vth: ExpSurrogateSpike.apply(v - vth, tau, scale)


class TernarySTESpike(torch.autograd.Function):
    """Ternary spikes ``sign(v) * (|v| > vth)``; straight-through backward of
    ``clamp(v / (2 vth), -1, 1)``: gradient ``1 / (2 vth)`` where ``|v| < 2 vth``
    (the Ternary Spike paper fires at half its V_th, so V_th = 2 vth here)."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, vth: float) -> torch.Tensor:
        ctx.save_for_backward(v)
        ctx.vth = vth
        return ((v > vth).to(v.dtype) - (v < -vth).to(v.dtype))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (v,) = ctx.saved_tensors
        width = 2.0 * ctx.vth
        return grad * (v.abs() < width).to(grad.dtype) / width, None


def ternary_ste():
    """Ternary spike function ``f(v, vth)`` for training."""
    return lambda v, vth: TernarySTESpike.apply(v, vth)

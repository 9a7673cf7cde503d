"""Surrogate-gradient spike function for training (torch)."""
from __future__ import annotations

import torch

from loihi_snn.core.errors import OptionError


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


#: surrogate-gradient shapes of the LIF family (``"auto"``: ``"ste"`` for ternary
#: spikes, ``"exp"`` for binary ones -- each mode's historical default)
SURROGATES = ("exp", "ste")


def resolve_surrogate(surrogate: str, ternary: bool) -> str:
    """``"exp"`` or ``"ste"``; ``"auto"`` picks ``"ste"`` for ternary, ``"exp"`` for binary."""
    if surrogate == "auto":
        return "ste" if ternary else "exp"
    if surrogate not in SURROGATES:
        raise OptionError(f"unknown surrogate {surrogate!r}; choose one of auto, "
                         f"{', '.join(SURROGATES)}")
    return surrogate


def surrogate_derivative(v: torch.Tensor, vth: float, ternary: bool, surrogate: str,
                         tau: float, scale: float) -> torch.Tensor:
    """d spike / d v used in place of the step's derivative; ``v`` the pre-reset voltage.

    ``"exp"``: ``scale * exp(-|v - vth| / tau)`` (SLAYER's shape) at the threshold; for
    ternary spikes at each of the two thresholds, ``scale * exp(-||v| - vth| / tau)``.
    ``"ste"``: the straight-through window ``1 / (2 vth)`` where the clamp of
    ``v / (2 vth)`` is not saturated: ``|v| < 2 vth`` (ternary) or ``0 < v < 2 vth``
    (binary).  ``surrogate`` is resolved with :func:`resolve_surrogate`.
    """
    surrogate = resolve_surrogate(surrogate, ternary)
    if surrogate == "exp":
        dist = ((v.abs() if ternary else v) - vth).abs()
        # exponent clamped: deeper underflow gives denormals, which are very slow on CPUs
        return scale * torch.exp(-(dist / tau).clamp(max=80.0))
    width = 2.0 * vth
    inside = (v.abs() < width) if ternary else ((v > 0) & (v < width))
    return inside.to(v.dtype) / width


class SurrogateSpike(torch.autograd.Function):
    """Binary or ternary spikes of ``v`` with any :data:`SURROGATES` backward."""

    @staticmethod
    def forward(ctx, v, vth, ternary, surrogate, tau, scale):
        ctx.save_for_backward(v)
        ctx.params = (vth, ternary, surrogate, tau, scale)
        s = (v > vth).to(v.dtype)
        return s - (v < -vth).to(v.dtype) if ternary else s

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return (grad * surrogate_derivative(v, *ctx.params).to(grad.dtype),
                None, None, None, None, None)


def spike_function(ternary: bool, surrogate: str, tau: float, scale: float):
    """Spike function ``f(v, vth)`` for :func:`~loihi_snn.core.lif.lif_float_step`:
    ternary or binary, with the surrogate ``surrogate`` (``"auto"`` as before:
    :func:`ternary_ste` / :func:`exp_surrogate`)."""
    resolved = resolve_surrogate(surrogate, ternary)
    if surrogate == "auto" or resolved == ("ste" if ternary else "exp"):
        return ternary_ste() if ternary else exp_surrogate(tau, scale)
    return lambda v, vth: SurrogateSpike.apply(v, vth, ternary, resolved, tau, scale)

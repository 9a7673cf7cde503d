"""Fast training forward/backward of the LIF family: one loop, hand-written BPTT.

The autograd loop in :meth:`loihi_snn.torch.neurons.LIF._forward_float` records ~10
small ops per step; this function runs the same float dynamics
(:func:`~loihi_snn.core.lif.lif_float_step`, the reset taken without gradient)
without an autograd graph and back-propagates through time by hand, which is several
times faster on a CPU.  ``tests/unit/test_lif_bptt.py`` checks that both give the same
spikes and gradients.

Shapes: ``x`` (N, M, T) synaptic input in weight units, ``w_rec`` (M, M) or an empty
tensor; returns spikes (N, M, T) in {0, 1} (binary) or {-1, 0, 1} (ternary).
"""
from __future__ import annotations

import torch

from loihi_snn.torch.surrogates import resolve_surrogate, surrogate_derivative


class LIFBPTT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w_rec, du: float, dv: float, vth: float, reset: str, ternary: bool,
                tau: float, scale: float, surrogate: str = "auto"):
        N, M, T = x.shape
        cu, cv = 1.0 - du, 1.0 - dv
        rec = w_rec.numel() > 0
        u = x.new_zeros(N, M)
        v = x.new_zeros(N, M)
        s = x.new_zeros(N, M)
        spikes = x.new_empty(N, M, T)
        vpre_all = x.new_empty(N, M, T)
        for t in range(T):
            a = x[..., t]
            if rec:
                a = a + s @ w_rec.t()
            u = u * cu + a
            vpre = v * cv + u
            if ternary:
                s = (vpre > vth).to(x.dtype) - (vpre < -vth).to(x.dtype)
            else:
                s = (vpre > vth).to(x.dtype)
            if reset == "hard":
                v = vpre * (1 - s.abs())
            elif reset == "soft":
                v = vpre - s * vth
            else:
                v = vpre
            spikes[..., t] = s
            vpre_all[..., t] = vpre
        ctx.save_for_backward(spikes, vpre_all, w_rec)
        ctx.params = (cu, cv, vth, reset, ternary, tau, scale, rec,
                      resolve_surrogate(surrogate, ternary))
        return spikes

    @staticmethod
    def backward(ctx, grad_out):
        spikes, vpre_all, w_rec = ctx.saved_tensors
        cu, cv, vth, reset, ternary, tau, scale, rec, surrogate = ctx.params
        N, M, T = spikes.shape
        sigma = surrogate_derivative(vpre_all, vth, ternary, surrogate, tau, scale
                                     ).to(grad_out.dtype)
        grad_x = torch.empty_like(grad_out)
        grad_w = torch.zeros_like(w_rec) if rec else None
        g_u_next = grad_out.new_zeros(N, M)
        g_v = grad_out.new_zeros(N, M)          # dL/dv_t (post reset), from step t+1
        g_a_next = grad_out.new_zeros(N, M)
        for t in range(T - 1, -1, -1):
            g_s = grad_out[..., t]
            if rec and t + 1 < T:
                g_s = g_s + g_a_next @ w_rec
            keep = (1 - spikes[..., t].abs()) if reset == "hard" else 1.0
            g_vpre = g_s * sigma[..., t] + g_v * keep
            g_u = g_vpre + cu * g_u_next
            grad_x[..., t] = g_u
            if rec and t > 0:
                grad_w += g_u.t() @ spikes[..., t - 1]
            g_v = cv * g_vpre
            g_u_next = g_u
            g_a_next = g_u
        return grad_x, grad_w, None, None, None, None, None, None, None, None

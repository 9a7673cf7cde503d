"""ASA: causal, per-sample Advance Spatial Attention between a conv synapse and its neurons.

``ASAGate`` rescales the synaptic current X (N, C, H, W, T) of a conv layer, step by
step and sample by sample, with two spatial maps (important / sub-important
channels), so that uninformative feature maps are pushed below threshold; see
:mod:`loihi_snn.core.asa` for the arithmetic (defined once, shared with
Lava).  Compared with the public ASA-SNN code (Yao et al., ICCV 2023):

1. the channel scores are trained: the forward pass uses the hard top-k split, the
   backward pass a straight-through ``sigmoid(score)`` surrogate;
2. the split is per layer, the same for every sample (no top-k across the batch);
3. step t uses only X[..., t]: the gate runs step by step on Lava.

``ASAConv`` is a SLAYER-style block: conv synapse -> ASAGate -> LIF neuron ->
``delay_shift``, exported to NetX as a ``conv`` layer with an ``asa/`` group.

Other deliberate differences from the paper's module: the split is over channels only
(the paper scores (t, c) entries, which needs all T at once); there is no BatchNorm
or pooling between synapse and gate (in SLAYER networks pooling is its own spiking
layer), so the gate sees the conv synapse's output directly; the sigmoid is a
256-entry table in fixed point (see :mod:`loihi_snn.core.asa`).
"""
from __future__ import annotations

import numpy as np
import torch

from loihi_snn.core import asa as af
from loihi_snn.core.lavadl import lava_dl
from loihi_snn.torch.blocks.layers import Conv


class _RoundSTE(torch.autograd.Function):
    """round(x) forward, identity backward."""

    @staticmethod
    def forward(ctx, x):  # noqa: D102
        return torch.round(x)

    @staticmethod
    def backward(ctx, g):  # noqa: D102
        return g


class ASAGate(torch.nn.Module):
    """Causal per-sample ASA gate on a conv layer's synaptic current.

    Parameters
    ----------
    channels : int
        number of channels C (>= 2).
    ratio : float
        fraction of channels in the important set, in (0, 1);
        ``k = round(ratio * C)`` clipped to 1..C-1.
    score_std : float
        std of the small random initial channel scores.
    map_bias : float
        initial bias of both map convs (real units); ``sigmoid(map_bias)`` is the
        initial gain for a zero feature map.

    Attributes
    ----------
    score : Parameter (C,)
        channel scores; the important set is the top k (ties: lower index first).
    weight_imp, weight_sub : Parameter (2, 3, 3)
        map conv weights over [mean, max], real units (quantized to 1/64, 8 bits).
    bias_imp, bias_sub : Parameter (1,)
        map conv biases, real units (quantized to 1/4096).

    Forward: ``(N, C, H, W, T)`` current in weight units -> same shape.  In training
    mode the float form with straight-through quantized weights and mask; in eval mode
    the exact fixed-point form (``Y_int / 64``, so that a LIF neuron's
    ``round(64 * input)`` recovers ``Y_int``).
    """

    def __init__(self, channels: int, ratio: float = 0.5, score_std: float = 1e-2,
                 map_bias: float = 0.0) -> None:
        super().__init__()
        self.channels = int(channels)
        self.ratio = float(ratio)
        self.num_important = af.num_important(self.channels, self.ratio)
        self.score = torch.nn.Parameter(torch.randn(self.channels) * float(score_std))
        bound = 1.0 / np.sqrt(2 * af.KERNEL * af.KERNEL)   # torch's Conv2d default init
        self.weight_imp = torch.nn.Parameter(torch.empty(2, 3, 3).uniform_(-bound, bound))
        self.weight_sub = torch.nn.Parameter(torch.empty(2, 3, 3).uniform_(-bound, bound))
        self.bias_imp = torch.nn.Parameter(torch.full((1,), float(map_bias)))
        self.bias_sub = torch.nn.Parameter(torch.full((1,), float(map_bias)))
        self.sigmoid_shift = af.SIGMOID_SHIFT

    # -- the split ----------------------------------------------------------------
    def important_mask(self) -> torch.Tensor:
        """Hard important set, bool (C,): the top ``num_important`` scores (stable)."""
        order = torch.argsort(-self.score.detach(), stable=True)
        mask = torch.zeros(self.channels, dtype=torch.bool, device=self.score.device)
        mask[order[:self.num_important]] = True
        return mask

    def soft_mask(self) -> torch.Tensor:
        """Hard mask in the forward pass, gradient of ``sigmoid(score)`` backward."""
        s = torch.sigmoid(self.score)
        return self.important_mask().to(s.dtype) + (s - s.detach())

    # -- quantized parameters -------------------------------------------------------
    def quantized(self) -> dict:
        """Integer parameters as exported: important (C,) bool numpy, weights (2, 3, 3)
        int64 mantissas (units 1/64), biases int (units 1/4096), sigmoid shift."""
        with torch.no_grad():
            return {"important": self.important_mask().cpu().numpy(),
                    "weight_imp": af.quantize_weight(self.weight_imp).cpu().numpy(),
                    "weight_sub": af.quantize_weight(self.weight_sub).cpu().numpy(),
                    "bias_imp": int(af.quantize_bias(self.bias_imp).reshape(())),
                    "bias_sub": int(af.quantize_bias(self.bias_sub).reshape(())),
                    "shift": int(self.sigmoid_shift)}

    def _ste_weight(self, w: torch.Tensor) -> torch.Tensor:
        q = torch.clamp(_RoundSTE.apply(w * af.W_SCALE), af.W_MIN, af.W_MAX)
        return q / af.W_SCALE

    def _ste_bias(self, b: torch.Tensor) -> torch.Tensor:
        return torch.clamp(_RoundSTE.apply(b * af.B_SCALE), -af.B_LIMIT, af.B_LIMIT) / af.B_SCALE

    # -- forward --------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate the current ``x`` (N, C, H, W, T), weight units; returns the same shape."""
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(f"ASAGate expects (N, {self.channels}, H, W, T), got {tuple(x.shape)}")
        xt = x.permute(0, 4, 1, 2, 3)              # (N, T, C, H, W): steps are independent
        if self.training:
            y = af.asa_gate_float(xt, self.soft_mask(), self._ste_weight(self.weight_imp),
                                  self._ste_bias(self.bias_imp),
                                  self._ste_weight(self.weight_sub),
                                  self._ste_bias(self.bias_sub))
        else:
            with torch.no_grad():
                q = self.quantized()
                a = torch.round(xt * af.W_SCALE).to(torch.int64)
                y_int = af.asa_gate_fixed(a, q["important"], q["weight_imp"], q["bias_imp"],
                                          q["weight_sub"], q["bias_sub"], q["shift"])
                y = y_int.to(x.dtype) / af.W_SCALE
        return y.permute(0, 2, 3, 4, 1)

    def maps(self, x: torch.Tensor):
        """Fixed-point gains ``(M_imp, M_sub)``, each (N, H, W, T) in 0..256, for plots."""
        q = self.quantized()
        with torch.no_grad():
            a = torch.round(x.permute(0, 4, 1, 2, 3) * af.W_SCALE).to(torch.int64)
            mi, ms = af.asa_maps_fixed(a, q["important"], q["weight_imp"], q["bias_imp"],
                                       q["weight_sub"], q["bias_sub"], q["shift"])
        return mi.permute(0, 2, 3, 1), ms.permute(0, 2, 3, 1)

    def export_hdf5(self, handle) -> None:
        """Write the gate as the group ``handle`` (a layer's ``asa/``)."""
        q = self.quantized()
        handle.create_dataset("important", data=q["important"].astype(np.int8))
        handle.create_dataset("weightImp", data=q["weight_imp"].reshape(1, 2, 3, 3).astype(np.int16))
        handle.create_dataset("weightSub", data=q["weight_sub"].reshape(1, 2, 3, 3).astype(np.int16))
        handle.create_dataset("biasImp", data=np.int32(q["bias_imp"]))
        handle.create_dataset("biasSub", data=np.int32(q["bias_sub"]))
        handle.create_dataset("sigmoidShift", data=np.int32(q["shift"]))
        handle.create_dataset("ratio", data=np.float64(self.ratio))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, important={self.num_important}"


class ASAConv(Conv):
    """Conv synapse -> :class:`ASAGate` -> LIF neuron -> one-step ``delay_shift``.

    Arguments as :class:`loihi_snn.torch.blocks.Conv` (``neuron_params, in_features,
    out_features, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    weight_scale=1, weight_norm=False, ...``) plus ``asa_ratio`` (fraction of
    important channels, default 0.5) and ``asa_map_bias`` (initial map bias).
    Tensors (N, C, H, W, T), time last.

    Exported as a NetX ``conv`` layer with an ``asa/`` group (see
    :mod:`loihi_snn.netx.schema`).  Its neuron is written with our ``LIF`` type even
    for a stock CUBA neuron, so that stock lava-dl netx refuses the file instead of
    silently running it without the gate.
    """

    def __init__(self, neuron_params, in_features, out_features, kernel_size, *args,
                 asa_ratio: float = 0.5, asa_map_bias: float = 0.0, **kwargs) -> None:
        super().__init__(neuron_params, in_features, out_features, kernel_size, *args, **kwargs)
        self.gate = ASAGate(out_features, ratio=asa_ratio, map_bias=asa_map_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Spikes (N, Cout, H', W', T) for input spikes (N, Cin, H, W, T)."""
        z = self.gate(self.synapse(x))
        s = self.neuron(z)
        if self.delay_shift is True:
            s = lava_dl().slayer.block.base.step_delay(self, s)
        if self.delay is not None:
            s = self.delay(s)
        if self.count_log is True:
            return s, torch.mean(s > 0)
        return s

    def export_hdf5(self, handle) -> None:
        """NetX ``conv`` layer + ``asa/`` group; neuron type ``LIF`` (see class doc)."""
        super().export_hdf5(handle)
        if handle["neuron/type"][()] in (b"CUBA", "CUBA"):
            del handle["neuron/type"]
            handle.create_dataset("neuron/type", data="LIF")
            handle.create_dataset("neuron/resetMode", data=self.neuron.reset)
            handle.create_dataset("neuron/leak", data=self.neuron.leak)
        self.gate.export_hdf5(handle.create_group("asa"))

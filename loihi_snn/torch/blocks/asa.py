"""ASA: causal, per-sample Advance Spatial Attention between a conv synapse and its neurons.

``ASAGate`` rescales the synaptic current X (N, C, H, W, T) of a conv layer, step by
step and sample by sample, with two spatial maps (important / sub-important
channels), so that uninformative feature maps are pushed below threshold; see
:mod:`loihi_snn.core.asa` for the arithmetic (defined once, shared with
Lava).  Compared with the public ASA-SNN code (Yao et al., ICCV 2023):

1. the split is input-dependent per sample and step (``split="adaptive"``, the
   default): channel scores from average and max pooling of the current step's input
   through a learned linear layer, then top k; the scoring layer is trained (forward:
   the hard top-k set, backward: a straight-through sigmoid surrogate), where the
   public code gives it no gradient;
2. the top-k set is per sample (no top-k across the batch);
3. step t uses only X[..., t]: the gate runs step by step on Lava.

``split="static"`` keeps one learned set per layer (only the maps adapt);
``split="gain"`` is the control: a constant gain, no split, no maps.

``ASAConv`` is a SLAYER-style block: conv synapse -> ASAGate -> LIF neuron ->
``delay_shift``, exported to NetX as a ``conv`` layer with an ``asa/`` group.

Other deliberate differences from the paper's module: the split is over channels only
(the paper scores (t, c) entries, which needs all T at once) and scores only the
current step (no running average over past steps: the gate stays stateless); there is no BatchNorm
or pooling between synapse and gate (in SLAYER networks pooling is its own spiking
layer), so the gate sees the conv synapse's output directly; the sigmoid is a
256-entry table in fixed point (see :mod:`loihi_snn.core.asa`).
"""
from __future__ import annotations

import numpy as np
import torch

from loihi_snn.core import asa as af
from loihi_snn.core.errors import OptionError, ShapeError
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


#: the gate's split options (``asa_split``): the two of :data:`loihi_snn.core.asa.SPLITS`
#: plus ``"gain"``, the control with no split and no maps
SPLIT_CHOICES = ("adaptive", "static", "gain")
MAP_BIAS = 3.0          # default initial map bias: sigmoid(3) ~ 0.95, the gate starts near gain 1
MAP_WEIGHT_INIT = 1.0 / 16   # initial map weights uniform in +-1/16 (+-4 mantissa steps)


class ASAGate(torch.nn.Module):
    """Causal per-sample ASA gate on a conv layer's synaptic current.

    Parameters
    ----------
    channels : int
        number of channels C (>= 2).
    ratio : float
        fraction of channels in the important set, in (0, 1);
        ``k = round(ratio * C)`` clipped to 1..C-1.
    split : str
        ``"adaptive"`` (default, the paper's gate): per sample and step, the top k of
        the channel scores ``W_s [mean_hw X, max_hw X] + b_s`` of the current input;
        ``"static"``: one learned top-k set per layer, the same for every sample and
        step; ``"gain"``: no split and no maps, a constant gain ``sigmoid(map_bias)``
        on every channel with nothing learned (the control for the gate's gain;
        exported as a static gate with zero map weights).
    score_std : float
        std of the small random initial channel scores (static) / score biases
        (adaptive), which break ties.
    map_bias : float
        initial bias of both map convs (real units); ``sigmoid(map_bias)`` is the
        initial gain for a zero feature map.  The default 3.0 starts the gate near
        gain 1 (table gain 244/256 = 0.953), with small map weights (+-1/16).

    Attributes
    ----------
    score : Parameter (C,)
        static split: channel scores; the important set is the top k (ties: lower index).
    score_weight : Parameter (C, 2C), score_bias : Parameter (C,)
        adaptive split: the scoring layer over [mean_hw X_c, max_hw X_c] (real units;
        quantized to 1/64, 8 bits, and 1/4096).
    weight_imp, weight_sub : Parameter (2, 3, 3)
        map conv weights over [mean, max], real units (quantized to 1/64, 8 bits).
    bias_imp, bias_sub : Parameter (1,)
        map conv biases, real units (quantized to 1/4096).

    Forward: ``(N, C, H, W, T)`` current in weight units -> same shape.  In training
    mode the float form with straight-through quantized weights and a straight-through
    mask (forward: the hard top-k set; backward: ``sigmoid(score)`` for a static split,
    ``sigmoid(s - tau)`` with tau midway between the k-th and (k+1)-th score for the
    adaptive one, so the scoring layer receives gradient); in eval mode the exact
    fixed-point form (``Y_int / 64``, so that a LIF neuron's ``round(64 * input)``
    recovers ``Y_int``).
    """

    def __init__(self, channels: int, ratio: float = 0.5, score_std: float = 1e-2,
                 map_bias: float = MAP_BIAS, split: str = "adaptive") -> None:
        super().__init__()
        if split not in SPLIT_CHOICES:
            raise OptionError(f"asa split must be one of {', '.join(SPLIT_CHOICES)}, "
                             f"got {split!r}")
        self.channels = int(channels)
        self.ratio = float(ratio)
        self.split = split
        self.num_important = af.num_important(self.channels, self.ratio)
        C = self.channels
        if split == "adaptive":
            bound = 1.0 / np.sqrt(2 * C)                       # torch's Linear default init
            self.score_weight = torch.nn.Parameter(torch.empty(C, 2 * C).uniform_(-bound, bound))
            self.score_bias = torch.nn.Parameter(torch.randn(C) * float(score_std))
        else:
            self.score = torch.nn.Parameter(torch.randn(C) * float(score_std),
                                            requires_grad=split == "static")
        learn = split != "gain"
        init = (lambda: torch.empty(2, 3, 3).uniform_(-MAP_WEIGHT_INIT, MAP_WEIGHT_INIT)) \
            if learn else (lambda: torch.zeros(2, 3, 3))
        self.weight_imp = torch.nn.Parameter(init(), requires_grad=learn)
        self.weight_sub = torch.nn.Parameter(init(), requires_grad=learn)
        self.bias_imp = torch.nn.Parameter(torch.full((1,), float(map_bias)), requires_grad=learn)
        self.bias_sub = torch.nn.Parameter(torch.full((1,), float(map_bias)), requires_grad=learn)
        self.sigmoid_shift = af.SIGMOID_SHIFT

    # -- the split ----------------------------------------------------------------
    def important_mask(self) -> torch.Tensor:
        """Static split: the hard important set, bool (C,): the top k scores (ties: the
        lower index).  Adaptive split: ValueError (the set depends on the input)."""
        if self.split == "adaptive":
            raise OptionError("an adaptive ASA gate has no fixed important set; "
                             "see scores() / maps()")
        return af.top_k_mask(self.score.detach(), self.num_important)

    def soft_mask(self) -> torch.Tensor:
        """Static split: hard mask forward, gradient of ``sigmoid(score)`` backward."""
        s = torch.sigmoid(self.score)
        return self.important_mask().to(s.dtype) + (s - s.detach())

    def scores(self, xt: torch.Tensor) -> torch.Tensor:
        """Adaptive split: real channel scores (..., C) of currents ``xt`` (..., C, H, W),
        with the straight-through quantized scoring weights."""
        return af.channel_scores(xt, self._ste_weight(self.score_weight),
                                 self._ste_bias(self.score_bias))

    def adaptive_mask(self, s: torch.Tensor) -> torch.Tensor:
        """Hard top-k mask of scores ``s`` (..., C) forward, ``sigmoid(s - tau)`` backward
        (tau midway between the k-th and the (k+1)-th largest score, no gradient)."""
        k = self.num_important
        hard = af.top_k_mask(s.detach(), k).to(s.dtype)
        top = torch.topk(s.detach(), k + 1, dim=-1).values
        tau = 0.5 * (top[..., k - 1] + top[..., k])
        soft = torch.sigmoid(s - tau.unsqueeze(-1))
        return hard + (soft - soft.detach())

    # -- quantized parameters -------------------------------------------------------
    def quantized(self) -> dict:
        """Integer parameters as exported (:func:`loihi_snn.core.asa.gate_params`): split,
        important / num_important, map weights (2, 3, 3) int64 (units 1/64), biases int
        (units 1/4096), sigmoid shift, scoring weights (C, 2C) (1/64) and biases (C,)
        (1/4096) (zeros unless adaptive).  A ``"gain"`` gate is a static gate with zero
        map weights."""
        with torch.no_grad():
            kw = dict(weight_imp=af.quantize_weight(self.weight_imp).cpu().numpy(),
                      weight_sub=af.quantize_weight(self.weight_sub).cpu().numpy(),
                      bias_imp=int(af.quantize_bias(self.bias_imp).reshape(())),
                      bias_sub=int(af.quantize_bias(self.bias_sub).reshape(())),
                      sigmoid_shift=int(self.sigmoid_shift))
            if self.split == "adaptive":
                return af.gate_params(
                    split="adaptive", num_important=self.num_important,
                    score_weight=af.quantize_weight(self.score_weight).cpu().numpy(),
                    score_bias=af.quantize_bias(self.score_bias).cpu().numpy(), **kw)
            return af.gate_params(split="static",
                                  important=self.important_mask().cpu().numpy(), **kw)

    def _ste_weight(self, w: torch.Tensor) -> torch.Tensor:
        q = torch.clamp(_RoundSTE.apply(w * af.W_SCALE), af.W_MIN, af.W_MAX)
        return q / af.W_SCALE

    def _ste_bias(self, b: torch.Tensor) -> torch.Tensor:
        return torch.clamp(_RoundSTE.apply(b * af.B_SCALE), -af.B_LIMIT, af.B_LIMIT) / af.B_SCALE

    # -- forward --------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Gate the current ``x`` (N, C, H, W, T), weight units; returns the same shape."""
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ShapeError(f"ASAGate expects (N, {self.channels}, H, W, T), got {tuple(x.shape)}")
        xt = x.permute(0, 4, 1, 2, 3)              # (N, T, C, H, W): steps are independent
        if self.training:
            if self.split == "adaptive":
                mask = self.adaptive_mask(self.scores(xt))          # (N, T, C)
            else:
                mask = self.soft_mask()                             # (C,)
            y = af.asa_gate_float(xt, mask, self._ste_weight(self.weight_imp),
                                  self._ste_bias(self.bias_imp),
                                  self._ste_weight(self.weight_sub),
                                  self._ste_bias(self.bias_sub), self.num_important)
        else:
            with torch.no_grad():
                a = torch.round(xt * af.W_SCALE).to(torch.int64)
                y = af.apply_gate_fixed(a, self.quantized()).to(x.dtype) / af.W_SCALE
        return y.permute(0, 2, 3, 4, 1)

    def maps(self, x: torch.Tensor):
        """Fixed-point gains ``(M_imp, M_sub)``, each (N, H, W, T) in 0..256, and the
        important set, bool (N, C, T) (the same for all N, T unless adaptive), for plots
        and studies."""
        q = self.quantized()
        with torch.no_grad():
            a = torch.round(x.permute(0, 4, 1, 2, 3) * af.W_SCALE).to(torch.int64)
            _, (mask, mi, ms) = af.apply_gate_fixed(a, q, return_maps=True)
        mask = mask.expand(a.shape[:-2]) if mask.dim() == 1 else mask
        return mi.permute(0, 2, 3, 1), ms.permute(0, 2, 3, 1), mask.permute(0, 2, 1)

    def export_hdf5(self, handle) -> None:
        """Write the gate as the group ``handle`` (a layer's ``asa/``): ``split``,
        ``important``, ``numImportant``, ``weightImp``, ``weightSub``, ``biasImp``,
        ``biasSub``, ``sigmoidShift``, ``ratio`` and, adaptive only, ``scoreWeight``
        (C, 2C) and ``scoreBias`` (C,)."""
        q = self.quantized()
        handle.create_dataset("split", data=q["split"])
        handle.create_dataset("important", data=q["important"].astype(np.int8))
        handle.create_dataset("numImportant", data=np.int32(q["num_important"]))
        handle.create_dataset("weightImp", data=q["weight_imp"].reshape(1, 2, 3, 3).astype(np.int16))
        handle.create_dataset("weightSub", data=q["weight_sub"].reshape(1, 2, 3, 3).astype(np.int16))
        handle.create_dataset("biasImp", data=np.int32(q["bias_imp"]))
        handle.create_dataset("biasSub", data=np.int32(q["bias_sub"]))
        handle.create_dataset("sigmoidShift", data=np.int32(q["sigmoid_shift"]))
        handle.create_dataset("ratio", data=np.float64(self.ratio))
        if q["split"] == "adaptive":
            handle.create_dataset("scoreWeight", data=q["score_weight"].astype(np.int16))
            handle.create_dataset("scoreBias", data=q["score_bias"].astype(np.int32))

    def extra_repr(self) -> str:
        return f"channels={self.channels}, important={self.num_important}, split={self.split}"


class ASAConv(Conv):
    """Conv synapse -> :class:`ASAGate` -> LIF neuron -> one-step ``delay_shift``.

    Arguments as :class:`loihi_snn.torch.blocks.Conv` (``neuron_params, in_features,
    out_features, kernel_size, stride=1, padding=0, dilation=1, groups=1,
    weight_scale=1, weight_norm=False, ...``) plus ``asa_ratio`` (fraction of
    important channels, default 0.5), ``asa_split`` (``"adaptive"`` (default) |
    ``"static"`` | ``"gain"``, see :class:`ASAGate`) and ``asa_map_bias`` (initial map
    bias, default 3.0: the gate starts near gain 1).
    Tensors (N, C, H, W, T), time last.

    Exported as a NetX ``conv`` layer with an ``asa/`` group (see
    :mod:`loihi_snn.netx.schema`).  Its neuron is written with our ``LIF`` type even
    for a stock CUBA neuron, so that stock lava-dl netx refuses the file instead of
    silently running it without the gate.
    """

    def __init__(self, neuron_params, in_features, out_features, kernel_size, *args,
                 asa_ratio: float = 0.5, asa_map_bias: float = MAP_BIAS,
                 asa_split: str = "adaptive", **kwargs) -> None:
        super().__init__(neuron_params, in_features, out_features, kernel_size, *args, **kwargs)
        self.gate = ASAGate(out_features, ratio=asa_ratio, map_bias=asa_map_bias,
                            split=asa_split)

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

"""Transposed convolution (``convT``) and ``unpool`` layers as a gather and a plain conv.

SLAYER's ``ConvT`` block is ``conv_transpose3d`` (output padding 0); its ``Unpool`` block
folds the channels into the rows, ``(C, H, W) -> (1, C*H, W)``, runs a one-channel
``conv_transpose3d`` with a shared kernel and unfolds the result back into ``C`` channels
(``(1, C*H', W') -> (C, H', W')``).  Both are the standard identity

    conv_transpose(x, W, stride s, padding p, dilation d)
        == conv(stuff(x), W', stride 1, padding 0, dilation d)

where ``stuff`` puts input pixel (r, q) at (r*s + P, q*s + P) of a zero map with
``P = d*(k-1) - p`` (cropping when P < 0) and ``W'[o, i] = flip(W[i, o])`` per group:
every output sums exactly the same integer products, in a different order.  So every
runner executes a convT / unpool as a :class:`StuffedConv`: a stateless gather
(:attr:`StuffedConv.index`, one step, no latency, no arithmetic) in front of the conv
synapse every runner already has (lava's ``Conv``, the emulator's ``ConvSynapse``).
This module is that lowering, once: pure numpy, no Lava.

Shapes are in file order, (C, H, W).  Indices are flat C-order positions.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np

from loihi_snn.core.constants import WEIGHT_MAX, WEIGHT_MIN
from loihi_snn.core.spec import FieldChecker, LayerSpec

#: the layer types lowered here
TRANSPOSED_TYPES = ("convT", "unpool")


def transposed_out(size: int, k: int, s: int, p: int, d: int) -> int:
    """Output size of a transposed convolution along one axis (output padding 0), as
    torch's ``conv_transpose``: ``(size - 1)*s - 2p + d*(k - 1) + 1``."""
    return (size - 1) * s - 2 * p + d * (k - 1) + 1


@dataclass(frozen=True)
class StuffedConv:
    """A convT / unpool layer as gather + conv (see the module docstring).

    Attributes
    ----------
    in_shape : (C, H, W)
        what the layer receives.
    stuffed_shape : (Cf, Hs, Ws)
        the conv's input: the (folded) input spread out by the stride, with the
        conv's padding already in it (unpool: Cf = 1).
    index : (Cf*Hs*Ws,) int64
        for each stuffed position, the flat input position it takes, or -1 (zero).
    kernel : (Cout, Cf/groups, kH, kW) int64
        the equivalent cross-correlation kernel (SLAYER / NetX conv layout).
    groups : int
    dilation : (dH, dW)
    conv_shape : (Cout, Ho, Wo)
        the conv's output; the layer's shape is a C-order reshape of it (unpool:
        (1, C*H', W') -> (C, H', W'); convT: the same shape).
    """
    in_shape: Tuple[int, int, int]
    stuffed_shape: Tuple[int, int, int]
    index: np.ndarray
    kernel: np.ndarray
    groups: int
    dilation: Tuple[int, int]
    conv_shape: Tuple[int, int, int]

    @property
    def stuffed_size(self) -> int:
        return int(np.prod(self.stuffed_shape))

    def gather(self, x: np.ndarray) -> np.ndarray:
        """(..., C*H*W) or (..., C, H, W) numpy values -> (..., Cf, Hs, Ws), zeros between."""
        lead = x.shape[:x.ndim - (3 if x.shape[-3:] == self.in_shape else 1)]
        flat = x.reshape(lead + (-1,))
        out = np.zeros(lead + (self.stuffed_size,), dtype=x.dtype)
        pos = np.flatnonzero(self.index >= 0)
        out[..., pos] = flat[..., self.index[pos]]
        return out.reshape(lead + self.stuffed_shape)


def stuff_index(in_shape: Tuple[int, int, int], stride, pad) -> Tuple[np.ndarray,
                                                                     Tuple[int, int, int]]:
    """The gather of a stuffed map: ``(index, stuffed_shape)`` for an input ``in_shape``
    (C, H, W), ``stride`` (sH, sW) and ``pad`` (PH, PW) per side (negative: crop)."""
    c, h, w = in_shape
    (sh, sw), (ph, pw) = stride, pad
    hs, ws = (h - 1) * sh + 1 + 2 * ph, (w - 1) * sw + 1 + 2 * pw
    index = np.full((c, hs, ws), -1, dtype=np.int64)
    rows = np.arange(h) * sh + ph
    cols = np.arange(w) * sw + pw
    rk, ck = (rows >= 0) & (rows < hs), (cols >= 0) & (cols < ws)
    src = np.arange(c * h * w, dtype=np.int64).reshape(c, h, w)
    index[:, rows[rk][:, None], cols[ck][None, :]] = src[:, rk][:, :, ck]
    return index.reshape(-1), (c, hs, ws)


def conv_kernel_of_transposed(weight: np.ndarray, groups: int) -> np.ndarray:
    """A conv-transpose weight (Cin, Cout/groups, kH, kW) as the cross-correlation
    kernel (Cout, Cin/groups, kH, kW) of the stuffed conv: per group, in/out swapped
    and the taps flipped."""
    w = np.asarray(weight, dtype=np.int64)
    cin, cout_g, kh, kw = w.shape
    g = int(groups)
    w = w.reshape(g, cin // g, cout_g, kh, kw).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(w.reshape(g * cout_g, cin // g, kh, kw)[..., ::-1, ::-1])


def lower_transposed(layer: LayerSpec) -> StuffedConv:
    """The :class:`StuffedConv` of a validated ``convT`` or ``unpool`` layer.

    ``layer.fields``: ``weight`` (convT: (Cin, Cout/groups, kH, kW); unpool: (kH, kW)
    shared by every channel), ``stride``, ``padding``, ``dilation`` (H, W) pairs and
    ``groups`` (convT).
    """
    f = layer.fields
    c, h, w = (int(s) for s in layer.in_shape)
    if layer.type == "unpool":
        folded, groups = (1, c * h, w), 1
        weight = np.asarray(f["weight"], dtype=np.int64).reshape((1, 1) + f["weight"].shape[-2:])
    else:
        folded, groups = (c, h, w), int(f["groups"])
        weight = f["weight"]
    kernel = conv_kernel_of_transposed(weight, groups)
    kh, kw = kernel.shape[-2:]
    (dh, dw), (ph, pw) = tuple(f["dilation"]), tuple(f["padding"])
    pad = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
    index, stuffed = stuff_index(folded, tuple(f["stride"]), pad)
    conv_shape = (int(kernel.shape[0]), stuffed[1] - dh * (kh - 1), stuffed[2] - dw * (kw - 1))
    return StuffedConv(in_shape=(c, h, w), stuffed_shape=stuffed, index=index, kernel=kernel,
                       groups=groups, dilation=(int(dh), int(dw)), conv_shape=conv_shape)


def lava_index(sc: StuffedConv) -> np.ndarray:
    """:attr:`StuffedConv.index` in Lava's (W, H, C) order on both sides: for each
    position of the stuffed map in Lava order, the Lava-order flat position of the input
    it takes, or -1."""
    in_size = int(np.prod(sc.in_shape))
    file_at_lava = np.arange(in_size).reshape(sc.in_shape).transpose(2, 1, 0).reshape(-1)
    lava_of_file = np.empty(in_size, dtype=np.int64)
    lava_of_file[file_at_lava] = np.arange(in_size)
    idx = sc.index.reshape(sc.stuffed_shape).transpose(2, 1, 0).reshape(-1)
    return np.where(idx >= 0, lava_of_file[np.maximum(idx, 0)], -1)


def _real_taps(sc: StuffedConv) -> np.ndarray:
    """(kH, kW, Ho, Wo) int64: 1 where kernel tap (i, j) of output (y, x) of the stuffed
    conv lands on an input pixel rather than a stuffed zero (the same for every channel)."""
    real = (sc.index >= 0).reshape(sc.stuffed_shape)[0].astype(np.int64)    # (Hs, Ws)
    kh, kw = sc.kernel.shape[-2:]
    dh, dw = sc.dilation
    _, ho, wo = sc.conv_shape
    return np.stack([np.stack([real[i * dh:i * dh + ho, j * dw:j * dw + wo]
                               for j in range(kw)]) for i in range(kh)])


def transposed_fan_in(layer: LayerSpec) -> int:
    """The most inputs any neuron of a convT / unpool layer receives (every tap of its
    group's input channels that lands on an input pixel)."""
    sc = lower_transposed(layer)
    return int(_real_taps(sc).sum(axis=(0, 1)).max(initial=0)) * int(sc.kernel.shape[1])


def transposed_synapses(layer: LayerSpec) -> int:
    """Non-zero synapses of a convT / unpool layer: for every output of the stuffed conv
    the non-zero kernel taps that land on an input pixel (not on a stuffed zero) -- what
    a Loihi core would store as its connections."""
    sc = lower_transposed(layer)
    taps = _real_taps(sc).sum(axis=(2, 3))                     # (kH, kW) outputs per tap
    return int(((sc.kernel != 0) * taps[None, None]).sum())


def validate_transposed(c: FieldChecker, ltype: str, raw: Dict[str, Any],
                        in_shape: Tuple[int, ...], shape: Tuple[int, ...]) -> Dict[str, Any]:
    """The fields of a ``convT`` or ``unpool`` layer as SLAYER's ``export_hdf5`` writes
    them (``lava.lib.dl.slayer.block.base.AbstractConvT`` / ``AbstractUnpool``), checked;
    one line naming file, layer and field for anything wrong.

    convT: ``weight`` (Cin, Cout/groups, kH, kW[, 1]) integers in the 8-bit weight range,
    ``groups`` (default 1), optional ``inChannels`` / ``outChannels`` / ``kernelSize``
    (checked against the weight), ``stride`` / ``padding`` / ``dilation`` (H, W) pairs
    (defaults 1 / 0 / 1); shape (Cout, (H-1)*sH - 2pH + dH*(kH-1) + 1, ... W).
    unpool: ``kernelSize``, ``weight`` a scalar or a (kH, kW) kernel (any leading 1s)
    shared by every channel, ``stride`` (default the kernel), ``padding``, ``dilation``;
    the channels are folded into the rows as SLAYER's ``Unpool`` does, so the shape is
    (C, Hf / C, W') with Hf the transposed output of C*H rows, which C must divide.
    Returns the fields :func:`lower_transposed` reads.
    """
    if len(in_shape) != 3:
        c.fail("shape", f"'{ltype}' needs a (C, H, W) input, but the previous layer gives "
                        f"{in_shape}; a dense layer cannot feed it")
    cin, hin, win = (int(s) for s in in_shape)
    padding = c.pair(raw, "padding", 0, lo=0)
    dilation = c.pair(raw, "dilation", 1, lo=1)
    what = f"{ltype} layers"
    w = c.array(raw, "weight", integer=True, lo=WEIGHT_MIN, hi=WEIGHT_MAX, what=what)
    if w.ndim == 5 and w.shape[-1] == 1:
        w = w[..., 0]
    fields: Dict[str, Any] = {}
    if ltype == "convT":
        stride = c.pair(raw, "stride", 1, lo=1)
        if w.ndim != 4 or 0 in w.shape:
            c.fail("weight", f"expected 4 non-empty dimensions (Cin, Cout/groups, kH, kW), "
                             f"found shape {w.shape}")
        groups = c.scalar(raw, "groups", required=False, default=1, lo=1)
        if int(w.shape[0]) != cin:
            c.fail("weight", f"has {w.shape[0]} input channels (its first dimension) but the "
                             f"previous layer gives {cin} (input shape {tuple(in_shape)})")
        cout = int(w.shape[1]) * groups
        if cin % groups:
            c.fail("groups", f"{groups} groups do not divide Cin={cin}")
        for key, expect in (("inChannels", cin), ("outChannels", cout)):
            if key in raw and c.scalar(raw, key, lo=1) != expect:
                c.fail(key, f"is {c.scalar(raw, key)} but the weight and groups imply {expect}")
        kernel = (int(w.shape[2]), int(w.shape[3]))
        if "kernelSize" in raw and c.pair(raw, "kernelSize", 1, lo=1) != kernel:
            c.fail("kernelSize", f"is {c.pair(raw, 'kernelSize', 1)} but the weight has "
                                 f"kernel {kernel}")
        fields.update(weight=w.astype(np.int64), groups=groups)
        hf, rows_per = hin, 1
    else:
        kernel = c.pair(raw, "kernelSize", 1, lo=1)
        stride = c.pair(raw, "stride", 1, lo=1) if "stride" in raw else kernel
        if w.size == 1:
            w = np.full(kernel, w.reshape(-1)[0])
        else:
            w = w.reshape(w.shape[-2:]) if np.prod(w.shape[:-2]) == 1 else w
            if w.shape != kernel:
                c.fail("weight", f"unpool weight must be a scalar or a {kernel} kernel "
                                 f"shared by all channels, found shape {w.shape}")
        cout = cin
        fields["weight"] = w.astype(np.int64)
        hf, rows_per = cin * hin, cin
    hout = transposed_out(hf, kernel[0], stride[0], padding[0], dilation[0])
    wout = transposed_out(win, kernel[1], stride[1], padding[1], dilation[1])
    if hout < 1 or wout < 1:
        c.fail("padding", f"padding {padding} leaves no output of the input {tuple(in_shape)} "
                          f"with kernel {kernel}, stride {stride}, dilation {dilation}")
    if hout % rows_per:
        c.fail("shape", f"SLAYER's unpool folds the {cin} channels into {hf} rows, which "
                        f"give {hout} output rows: not a multiple of {cin} channels")
    expect = (cout, hout // rows_per, wout)
    if tuple(shape) != expect:
        c.fail("shape", f"declares {tuple(shape)} but a {ltype} of input {tuple(in_shape)} "
                        f"with kernel {kernel}, stride {stride}, padding {padding}, dilation "
                        f"{dilation} gives {expect}")
    fields.update(kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    return fields

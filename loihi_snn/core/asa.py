"""ASA gate (causal, per-sample Advance Spatial Attention), defined once for numpy and torch.

The gate sits between a conv synapse and its neurons.  At every time step, on one
sample, it splits the C channels of the synaptic current X (layout ``(..., C, H, W)``,
leading axes = batch and/or time) into an *important* set of k channels and its
complement (*sub-important*), and for each group G computes a spatial map

    F_G = [mean_{c in G} X_c, max_{c in G} X_c]            (2, H, W)
    M_G = sigmoid(conv3x3(F_G; w_G, b_G))                  (H, W), zero padding 1

then scales each channel by its group's map, ``Y_c = M_G(c) * X_c``.  Y is the
current the neurons integrate.

The split (``split``) is one of

- ``"adaptive"`` (the paper's point): per sample and step, channel scores from the
  current input itself, ``d = [mean_{hw} X_c, max_{hw} X_c]_c`` (2C values, average
  and max pooling over space) and a learned linear layer ``s = W_s d + b_s``
  (``W_s`` (C, 2C), ``b_s`` (C,)); the important set is the top k scores, ties broken
  by the lower channel index (:func:`top_k_mask`);
- ``"static"``: one learned set per layer (``important`` (C,)), the same for every
  sample and step (only the two spatial maps adapt to the input).

Both use only the current step of the current sample, so the gate is causal and
per-sample by construction (unlike the public ASA-SNN code, whose masks pool over
all T and over the batch) and stateless.

Two forms, both working on numpy arrays and torch tensors alike:

**Fixed point** (:func:`apply_gate_fixed` / :func:`asa_gate_fixed`; the torch
quantized forward, the Lava ``fixed_pt`` model and the emulator call them).  Units
are raw Loihi integers:

- input ``a``: integer synaptic currents, ``a = round(64 * X)`` (what a Lava conv
  synapse sends, SLAYER weight scale 64);
- scores (adaptive): ``d = [floor(sum_hw a_c / (H W)), max_hw a_c]``,
  ``s = sum_j Ws_int[c, j] d_j + bs_int`` (exact int64), with 8-bit
  ``Ws_int = clamp(round(64 * W_s), -256, 255)`` and ``bs_int = round(4096 * b_s)``,
  so ``s ~= 4096 * s_real``; top k by rank (ties: lower index first);
- ``mean = floor(sum_{c in G} a_c / |G|)`` (floor division), ``max`` exact;
- ``z = sum w_int * F + b_int`` by 9 explicit shifted slices per feature (no library
  conv, so numpy and torch give identical integers), with 8-bit weights
  ``w_int = clamp(round(64 * w), -256, 255)`` and bias ``b_int = round(4096 * b)``:
  since F is in units of 1/64 and w in units of 1/64, ``z ~= 4096 * z_real``;
- sigmoid by a 256-entry lookup table (:func:`sigmoid_table`):
  ``idx = clamp(floor(z / 2**shift), -128, 127)``,
  ``M = table[idx + 128] = round(256 * sigmoid((idx + 0.5) * 2**shift / 4096))``.
  With the default ``shift = SIGMOID_SHIFT = 8`` one table step is
  ``2**8 / 4096 = 1/16`` in real z, the table spans z in [-8, +8) and M is an
  integer in 0..256 (256 = gain 1.0; resolution 1/256);
- output ``Y = (M * a) >> 8`` (arithmetic shift, i.e. floor), ``|Y| <= |a|``.

All intermediate values fit in int64 (|a| < 2**23 gives |z|, |s| < 2**40).

**Float** (:func:`asa_gate_float`; the torch training forward and the Lava
``floating_pt`` model): real pooling / scores / 3x3 conv / sigmoid on X in weight
units, ``Y = M * X``.  Training passes the channel mask as a float tensor carrying a
straight-through gradient (see :class:`loihi_snn.torch.blocks.asa.ASAGate`).

The gate's parameters travel as one dict (:func:`gate_params`): the NetX schema
returns it, the Lava process takes it as keyword arguments, the emulator and the
torch quantized forward pass it to :func:`apply_gate_fixed`.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from loihi_snn.core.constants import V_LIMIT, WEIGHT_MAX, WEIGHT_MIN

W_SCALE = 64                 # conv-map weight units: w_int = round(64 * w)
B_SCALE = 4096               # bias units: b_int = round(4096 * b) (= 64 * 64)
W_MIN, W_MAX = WEIGHT_MIN, WEIGHT_MAX   # 8-bit weight mantissa range (as the synapses)
B_LIMIT = V_LIMIT            # bias mantissa range +-(2**23 - 1) (24-bit)
SIGMOID_SHIFT = 8            # table index = z >> 8: step 1/16, span [-8, 8) in real z
TABLE_SIZE = 256             # entries, index -128..127
M_SHIFT = 8                  # gains are in units of 1/256: Y = (M * a) >> 8
M_ONE = 1 << M_SHIFT         # 256 = gain 1.0
KERNEL = 3                   # the map conv is 3x3 with zero padding 1
SPLITS = ("static", "adaptive")   # how the important set is chosen (see module doc)
_NEG = -(1 << 62)            # "minus infinity" for integer group maxima
_NEG_MAX = -(1 << 48)        # the offset that excludes a channel from a numpy maximum
#                              (currents stay far below 2**47 in magnitude)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def _like(v: Any, ref: Any, dtype=None):
    """``v`` as the same kind of array as ``ref`` (torch tensor on ref's device or numpy)."""
    if _is_torch(ref):
        import torch
        if _is_torch(v):
            return v.to(device=ref.device) if dtype is None else v.to(ref.device, dtype)
        return torch.as_tensor(np.asarray(v), device=ref.device,
                               dtype=dtype if dtype is not None else None)
    if _is_torch(v):
        v = v.detach().cpu().numpy()
    return np.asarray(v) if dtype is None else np.asarray(v, dtype=dtype)


def _stack_channels(parts):
    """Stack (..., H, W) arrays into (..., K, H, W)."""
    if _is_torch(parts[0]):
        import torch
        return torch.stack(parts, dim=-3)
    return np.stack(parts, axis=-3)


def _cat_last(parts):
    if _is_torch(parts[0]):
        import torch
        return torch.cat(parts, dim=-1)
    return np.concatenate(parts, axis=-1)


def _amax(x, axis):
    return x.amax(axis) if _is_torch(x) else x.max(axis=axis)


def _where(cond, a, b):
    if _is_torch(cond):
        import torch
        if not _is_torch(b):
            b = torch.as_tensor(b, dtype=a.dtype, device=a.device)
        return torch.where(cond, a, b)
    return np.where(cond, a, b)


def _pad_hw(x, p: int = 1):
    """Zero-pad the last two axes by ``p`` on each side."""
    if _is_torch(x):
        import torch.nn.functional as F
        return F.pad(x, (p, p, p, p))
    pad = [(0, 0)] * (x.ndim - 2) + [(p, p), (p, p)]
    return np.pad(x, pad)


def floor_div(x, n: int):
    """Integer floor division ``floor(x / n)`` for numpy and torch integer arrays."""
    if _is_torch(x):
        import torch
        return torch.div(x, n, rounding_mode="floor")
    return np.floor_divide(x, n)


def check_important(important, channels: int) -> np.ndarray:
    """The important-channel mask as a numpy bool array (C,); needs 1 <= |imp| <= C - 1."""
    imp = _like(important, np.zeros(0)).astype(bool).reshape(-1)
    if imp.size != channels:
        raise ValueError(f"important mask has {imp.size} entries, expected {channels} channels")
    k = int(imp.sum())
    if not 1 <= k <= channels - 1:
        raise ValueError(f"the important set must hold 1..{channels - 1} of the {channels} "
                         f"channels (both groups non-empty), found {k}")
    return imp


def num_important(channels: int, ratio: float) -> int:
    """Size of the important set: ``round(ratio * C)`` clipped to 1..C-1 (C >= 2)."""
    if channels < 2:
        raise ValueError(f"ASA needs at least 2 channels (two non-empty groups), got {channels}")
    if not 0.0 < float(ratio) < 1.0:
        raise ValueError(f"asa ratio must be in (0, 1), got {ratio!r}")
    return int(min(max(int(round(float(ratio) * channels)), 1), channels - 1))


def check_split(split: str) -> str:
    """``split`` if it is one of :data:`SPLITS`, else ValueError naming them."""
    if split not in SPLITS:
        raise ValueError(f"asa split must be one of {', '.join(SPLITS)}, got {split!r}")
    return split


# ----------------------------------------------------------------------------- the split

def channel_descriptors(x):
    """Average and max pooling over space: (..., C, H, W) -> (..., 2C) = [mean_c, max_c].

    Integer input: the mean is ``floor(sum_hw / (H W))``; float input: the real mean.
    """
    H, W = x.shape[-2], x.shape[-1]
    if _is_torch(x):
        is_int = not x.is_floating_point()
    else:
        is_int = np.issubdtype(x.dtype, np.integer)
    if _is_torch(x):
        total, mx = x.sum((-2, -1)), _amax(_amax(x, -1), -1)
    else:                       # one reduction over the flattened map (numpy is slow on
        r = x.reshape(x.shape[:-2] + (H * W,))   # short last axes, one at a time)
        total, mx = r.sum(axis=-1), r.max(axis=-1)
    mean = floor_div(total, H * W) if is_int else total / (H * W)
    return _cat_last([mean, mx])


def channel_scores(x, score_weight, score_bias):
    """Channel scores ``s = W_s [mean_hw x, max_hw x] + b_s``, (..., C, H, W) -> (..., C).

    ``score_weight`` (C, 2C), ``score_bias`` (C,): integer mantissas (units 1/64 and
    1/4096) for integer ``x`` (exact int64 sums, scores in units of 1/4096), real
    units for float ``x``.
    """
    d = channel_descriptors(x)                                   # (..., 2C)
    w = _like(score_weight, d, dtype=d.dtype)
    b = _like(score_bias, d, dtype=d.dtype).reshape(-1)
    if _is_torch(d) and d.is_floating_point():
        return d @ w.transpose(0, 1) + b
    return (d[..., None, :] * w).sum(-1) + b                     # exact for integers


def top_k_mask(scores, k: int):
    """The top ``k`` of ``scores`` (..., C) along the last axis as a bool mask (..., C).

    Deterministic: channel c is in the set iff its rank
    ``#{j: s_j > s_c} + #{j < c: s_j == s_c}`` is below k (ties go to the lower index),
    computed by comparisons only, so numpy and torch agree on any input.
    """
    C = scores.shape[-1]
    if not 1 <= int(k) <= C - 1:
        raise ValueError(f"top-k needs 1 <= k <= {C - 1}, got {k}")
    sj, sc = scores[..., None, :], scores[..., :, None]          # [..., c, j]
    lower = np.tril(np.ones((C, C), bool), -1)                   # j < c
    lower = _like(lower, scores)
    rank = ((sj > sc) | ((sj == sc) & lower)).sum(-1)
    return rank < int(k)


def split_mask(a, params: Dict[str, Any]):
    """The important-channel mask of a gate: (C,) static, (..., C) adaptive (bool)."""
    if params.get("split", "static") == "adaptive":
        s = channel_scores(a, params["score_weight"], params["score_bias"])
        return top_k_mask(s, params["num_important"])
    return _like(check_important(params["important"], a.shape[-3]), a)


# ----------------------------------------------------------------------------- pieces

def group_features_fixed(a, mask, k: Optional[int] = None) -> Tuple[Any, Any]:
    """Integer [floor-mean, max] maps of both groups.

    Parameters
    ----------
    a : int array (..., C, H, W)
        integer synaptic currents.
    mask : bool array (C,) or (..., C)
        the important channels, the same for all positions or one set per leading
        index (adaptive split); every set must hold the same number k of channels.
    k : int, optional
        the important set's size (default: counted from a (C,) mask).

    Returns
    -------
    (f_imp, f_sub) : int arrays (..., 2, H, W), channel 0 = floor mean, 1 = max.
    """
    C = a.shape[-3]
    if k is None:
        k = int(check_important(mask, C).sum())
    m = _like(mask, a)
    if m.ndim == 1:
        check_important(m, C)
    if type(a) is np.ndarray and a.dtype.kind == "i":
        return _group_features_np(a, m, k)
    m = m[..., None, None]
    zero = 0
    out = []
    for sel, n in ((m, k), (~m, C - k)):
        total = _where(sel, a, zero).sum(-3)
        mx = _amax(_where(sel, a, _NEG), -3)
        out.append(_stack_channels([floor_div(total, n), mx]))
    return out[0], out[1]


def _group_features_np(a: np.ndarray, m: np.ndarray, k: int):
    """:func:`group_features_fixed` for numpy integers with fewer passes (the same
    values): the masked sum is one product with the 0/1 mask, the other group's sum the
    difference to the total, and each masked maximum one reduction of ``a`` plus a
    per-channel offset of ``_NEG_MAX`` (every group is non-empty, so the offset never
    wins).
    """
    C = a.shape[-3]
    mm = m[..., None, None]
    total = a.sum(-3)
    total_imp = (a * mm).sum(-3)
    off_imp = np.where(mm, 0, _NEG_MAX)
    max_imp = (a + off_imp).max(-3)
    max_sub = (a + (_NEG_MAX - off_imp)).max(-3)
    return (np.stack([np.floor_divide(total_imp, k), max_imp], -3),
            np.stack([np.floor_divide(total - total_imp, C - k), max_sub], -3))


def group_features_float(x, mask, k: Optional[int] = None) -> Tuple[Any, Any]:
    """Real [mean, max] maps of both groups.

    ``x`` is (..., C, H, W) float; ``mask`` (C,) or (..., C) float in {0, 1} (it may
    carry a straight-through gradient in torch): the means are ``sum(m_c x_c) / k`` and
    ``sum((1 - m_c) x_c) / (C - k)``, the maxima are taken over the hard groups.
    Returns ``(f_imp, f_sub)``, each (..., 2, H, W).
    """
    m = _like(mask, x, dtype=x.dtype)
    hard = m > 0.5
    C = x.shape[-3]
    if k is None:
        k = int(check_important(_like(hard, np.zeros(0)), C).sum())
    mb = m[..., None, None]
    hb = hard[..., None, None]
    neg = -float("inf")
    if _is_torch(x):
        only_imp, only_sub = x.masked_fill(~hb, neg), x.masked_fill(hb, neg)
    else:
        only_imp, only_sub = np.where(hb, x, neg), np.where(~hb, x, neg)
    mean_imp = (x * mb).sum(-3) / k
    mean_sub = (x * (1 - mb)).sum(-3) / (C - k)
    max_imp, max_sub = _amax(only_imp, -3), _amax(only_sub, -3)
    return _stack_channels([mean_imp, max_imp]), _stack_channels([mean_sub, max_sub])


def conv3x3(f, w, b):
    """``sum_{k,i,j} w[k, i, j] * f_pad[..., k, y+i, x+j] + b`` (cross-correlation, as
    torch's conv2d, zero padding 1), by explicit shifted slices.

    ``f`` (..., K, H, W); ``w`` (K, 3, 3) or (1, K, 3, 3); ``b`` scalar or size-1.
    Integer in, integer out (exact); float in, float out (differentiable in torch;
    float torch tensors go through ``conv2d``, the same operation up to float rounding).
    Returns (..., H, W).
    """
    w = _like(w, f, dtype=f.dtype)
    b = _like(b, f, dtype=f.dtype)
    w = w.reshape(-1, KERNEL, KERNEL)
    H, W = f.shape[-2], f.shape[-1]
    if _is_torch(f) and f.is_floating_point():
        # float torch (training): the same cross-correlation through conv2d, for speed
        import torch.nn.functional as F
        lead = f.shape[:-3]
        z = F.conv2d(f.reshape((-1,) + tuple(f.shape[-3:])), w.unsqueeze(0),
                     padding=KERNEL // 2)
        return z.reshape(tuple(lead) + (H, W)) + b.reshape(())
    fp = _pad_hw(f, KERNEL // 2)
    z = None
    for k in range(w.shape[0]):
        for i in range(KERNEL):
            for j in range(KERNEL):
                term = w[k, i, j] * fp[..., k, i:i + H, j:j + W]
                z = term if z is None else z + term
    return z + b.reshape(())


def sigmoid_table(shift: int = SIGMOID_SHIFT) -> np.ndarray:
    """The 256-entry gain table, int64, monotone non-decreasing, values in 0..256.

    ``table[i] = round(256 * sigmoid((i - 128 + 0.5) * 2**shift / 4096))`` (round half
    up), i.e. the sigmoid sampled at the centre of each bin of width ``2**shift`` in z
    (integer units, 4096 = 1.0).  Default shift 8: bins of 1/16, span [-8, 8).
    """
    idx = np.arange(-TABLE_SIZE // 2, TABLE_SIZE // 2, dtype=np.float64)
    z = (idx + 0.5) * float(1 << int(shift)) / B_SCALE
    s = 0.5 * (1.0 + np.tanh(0.5 * z))          # sigmoid without overflow
    return np.floor(M_ONE * s + 0.5).astype(np.int64)


def sigmoid_fixed(z, shift: int = SIGMOID_SHIFT, table=None):
    """Table sigmoid of integer ``z`` (units 1/4096): gains in 0..256 (units 1/256)."""
    table = sigmoid_table(shift) if table is None else table
    table = _like(table, z, dtype=None)
    idx = z >> int(shift)
    if _is_torch(idx):
        idx = idx.clamp(-TABLE_SIZE // 2, TABLE_SIZE // 2 - 1) + TABLE_SIZE // 2
        return table.to(idx.dtype)[idx]
    idx = np.clip(idx, -TABLE_SIZE // 2, TABLE_SIZE // 2 - 1) + TABLE_SIZE // 2
    return np.asarray(table, dtype=np.int64)[idx]


def sigmoid_float(z):
    """Real sigmoid for numpy or torch."""
    if _is_torch(z):
        import torch
        return torch.sigmoid(z)
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z)))


def table_gain(bias_int: int, shift: int = SIGMOID_SHIFT) -> int:
    """The integer gain (units 1/256) of a map with zero weights and bias ``bias_int``."""
    return int(sigmoid_fixed(np.int64(bias_int), shift))


# ----------------------------------------------------------------------------- the gate

def gate_params(*, important=None, weight_imp, bias_imp, weight_sub, bias_sub,
                sigmoid_shift: int = SIGMOID_SHIFT, split: str = "static",
                num_important: Optional[int] = None, score_weight=None,
                score_bias=None) -> Dict[str, Any]:
    """One gate's integer parameters as the dict every consumer takes.

    Keys (all integer mantissas): ``split`` (:data:`SPLITS`), ``num_important`` k,
    ``important`` (C,) 0/1 (static; for adaptive the first k channels, unused),
    ``weight_imp`` / ``weight_sub`` (2, 3, 3) (units 1/64), ``bias_imp`` / ``bias_sub``
    int (units 1/4096), ``sigmoid_shift``, ``score_weight`` (C, 2C) (units 1/64) and
    ``score_bias`` (C,) (units 1/4096) (zeros for a static gate).  C comes from
    ``important`` (static) or ``score_bias`` (adaptive).
    """
    check_split(split)
    if split == "static":
        imp = check_important(important, np.asarray(important).size)
        C, k = imp.size, int(imp.sum())
    else:
        if score_weight is None or score_bias is None or num_important is None:
            raise ValueError("an adaptive ASA gate needs score_weight, score_bias and "
                             "num_important")
        C, k = int(np.asarray(score_bias).size), int(num_important)
        if not 1 <= k <= C - 1:
            raise ValueError(f"num_important must be in 1..{C - 1} for {C} channels, got {k}")
        imp = np.arange(C) < k
    sw = np.zeros((C, 2 * C), np.int64) if score_weight is None else score_weight
    sb = np.zeros(C, np.int64) if score_bias is None else score_bias
    sw = np.asarray(_like(sw, np.zeros(0)), dtype=np.int64)
    sb = np.asarray(_like(sb, np.zeros(0)), dtype=np.int64).reshape(-1)
    if sw.shape != (C, 2 * C) or sb.shape != (C,):
        raise ValueError(f"score_weight must be ({C}, {2 * C}) and score_bias ({C},), got "
                         f"{sw.shape} and {sb.shape}")
    return {"split": split, "num_important": k, "important": imp.astype(np.int32),
            "weight_imp": np.asarray(_like(weight_imp, np.zeros(0)), np.int64).reshape(2, 3, 3),
            "weight_sub": np.asarray(_like(weight_sub, np.zeros(0)), np.int64).reshape(2, 3, 3),
            "bias_imp": int(np.asarray(_like(bias_imp, np.zeros(0))).reshape(-1)[0]),
            "bias_sub": int(np.asarray(_like(bias_sub, np.zeros(0))).reshape(-1)[0]),
            "sigmoid_shift": int(sigmoid_shift), "score_weight": sw, "score_bias": sb}


def apply_gate_fixed(a, params: Dict[str, Any], table=None, return_maps: bool = False):
    """One ASA step (or many: leading axes are independent) in Loihi integers.

    Parameters
    ----------
    a : int array (..., C, H, W)
        synaptic currents ``round(64 * X)`` (int64 recommended), numpy or torch.
    params : dict
        the gate (:func:`gate_params`; the NetX schema's ``asa`` field).
    table : optional
        the sigmoid table for ``params["sigmoid_shift"]`` (computed if omitted).
    return_maps : bool
        also return ``(mask, M_imp, M_sub)``: the important set (C,) or (..., C) and
        the gains (..., H, W) in 0..256.

    Returns
    -------
    int array (..., C, H, W)
        gated currents ``(M_G(c) * a_c) >> 8``.
    """
    shift = params.get("sigmoid_shift", SIGMOID_SHIFT)
    mask = split_mask(a, params)
    k = params.get("num_important")
    k = int(_like(mask, np.zeros(0)).sum()) if k is None else int(k)
    f_imp, f_sub = group_features_fixed(a, mask, k)
    m_imp = sigmoid_fixed(conv3x3(f_imp, params["weight_imp"], params["bias_imp"]), shift, table)
    m_sub = sigmoid_fixed(conv3x3(f_sub, params["weight_sub"], params["bias_sub"]), shift, table)
    gain = _where(mask[..., None, None], m_imp[..., None, :, :], m_sub[..., None, :, :])
    y = (gain * a) >> M_SHIFT
    return (y, (mask, m_imp, m_sub)) if return_maps else y


def asa_maps_fixed(a, important, w_imp, b_imp, w_sub, b_sub, shift: int = SIGMOID_SHIFT,
                   table=None):
    """Integer gains ``(M_imp, M_sub)`` of a static gate, each (..., H, W) in 0..256, for
    currents ``a`` (..., C, H, W).  Weights are (2, 3, 3) / (1, 2, 3, 3) int mantissas,
    biases ints."""
    p = gate_params(important=important, weight_imp=w_imp, bias_imp=b_imp, weight_sub=w_sub,
                    bias_sub=b_sub, sigmoid_shift=shift)
    _, (_, m_imp, m_sub) = apply_gate_fixed(a, p, table, return_maps=True)
    return m_imp, m_sub


def asa_gate_fixed(a, important, w_imp, b_imp, w_sub, b_sub, shift: int = SIGMOID_SHIFT,
                   table=None):
    """A static gate in Loihi integers (:func:`apply_gate_fixed` with a fixed split).

    ``a`` (..., C, H, W) ints; ``important`` (C,) bool; ``w_imp``, ``w_sub`` (2, 3, 3)
    or (1, 2, 3, 3) int mantissas (1/64); ``b_imp``, ``b_sub`` ints (1/4096); returns
    ``(M_G(c) * a_c) >> 8``, (..., C, H, W).
    """
    p = gate_params(important=important, weight_imp=w_imp, bias_imp=b_imp, weight_sub=w_sub,
                    bias_sub=b_sub, sigmoid_shift=shift)
    return apply_gate_fixed(a, p, table)


def asa_gate_float(x, mask, w_imp, b_imp, w_sub, b_sub, k: Optional[int] = None):
    """One ASA step (or many) in floating point, weight units.

    ``x`` (..., C, H, W) real currents; ``mask`` (C,) or (..., C) float 0/1 (may carry
    a straight-through gradient); ``k`` its number of ones (counted from a (C,) mask
    if omitted); weights (2, 3, 3) / (1, 2, 3, 3) and scalar biases in real units
    (``w_int / 64``, ``b_int / 4096`` for an exported gate).
    Returns ``Y = (m_c M_imp + (1 - m_c) M_sub) * x_c``, (..., C, H, W).
    """
    f_imp, f_sub = group_features_float(x, mask, k)
    m_imp = sigmoid_float(conv3x3(f_imp, w_imp, b_imp))
    m_sub = sigmoid_float(conv3x3(f_sub, w_sub, b_sub))
    m = _like(mask, x, dtype=x.dtype)[..., None, None]
    gain = m * m_imp[..., None, :, :] + (1 - m) * m_sub[..., None, :, :]
    return gain * x


def apply_gate_float(x, params: Dict[str, Any]):
    """The gate ``params`` (integer mantissas, :func:`gate_params`) in floating point on
    real currents ``x`` (..., C, H, W), weight units: real scores, real sigmoid
    (what the Lava ``floating_pt`` model computes)."""
    if params.get("split", "static") == "adaptive":
        s = channel_scores(x, np.asarray(params["score_weight"]) / W_SCALE,
                           np.asarray(params["score_bias"]) / B_SCALE)
        mask = top_k_mask(s, params["num_important"])
        k = int(params["num_important"])
    else:
        mask = _like(check_important(params["important"], x.shape[-3]), x)
        k = int(mask.sum())
    mask = _like(mask, x, dtype=x.dtype)
    return asa_gate_float(x, mask, np.asarray(params["weight_imp"]) / W_SCALE,
                          params["bias_imp"] / B_SCALE,
                          np.asarray(params["weight_sub"]) / W_SCALE,
                          params["bias_sub"] / B_SCALE, k)


def quantize_weight(w):
    """Real map weights -> int mantissas ``clamp(round(64 w), -256, 255)`` (same kind)."""
    if _is_torch(w):
        import torch
        return torch.clamp(torch.round(w * W_SCALE), W_MIN, W_MAX).to(torch.int64)
    return np.clip(np.round(np.asarray(w) * W_SCALE), W_MIN, W_MAX).astype(np.int64)


def quantize_bias(b):
    """Real map bias -> int mantissa ``clamp(round(4096 b), -(2**23 - 1), 2**23 - 1)``."""
    if _is_torch(b):
        import torch
        return torch.clamp(torch.round(b * B_SCALE), -B_LIMIT, B_LIMIT).to(torch.int64)
    return np.clip(np.round(np.asarray(b) * B_SCALE), -B_LIMIT, B_LIMIT).astype(np.int64)

"""ASA gate (causal, per-sample Advance Spatial Attention), defined once for numpy and torch.

The gate sits between a conv synapse and its neurons.  At every time step, on one
sample, it splits the C channels of the synaptic current X (layout ``(..., C, H, W)``,
leading axes = batch and/or time) into a fixed *important* set and its complement
(*sub-important*), and for each group G computes a spatial map

    F_G = [mean_{c in G} X_c, max_{c in G} X_c]            (2, H, W)
    M_G = sigmoid(conv3x3(F_G; w_G, b_G))                  (H, W), zero padding 1

then scales each channel by its group's map, ``Y_c = M_G(c) * X_c``.  Y is the
current the neurons integrate.  Nothing is shared across samples or time steps, so
the gate is causal and per-sample by construction (unlike the public ASA-SNN code,
whose masks pool over all T and over the batch).

Two forms, both working on numpy arrays and torch tensors alike:

**Fixed point** (:func:`asa_gate_fixed`; the torch quantized forward, the Lava
``fixed_pt`` model and the tests call this one function).  Units are raw Loihi
integers:

- input ``a``: integer synaptic currents, ``a = round(64 * X)`` (what a Lava conv
  synapse sends, SLAYER weight scale 64);
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

All intermediate values fit in int64 (|a| < 2**23 gives |z| < 2**36).

**Float** (:func:`asa_gate_float`; the torch training forward and the Lava
``floating_pt`` model): real mean / max / 3x3 conv / sigmoid on X in weight units,
``Y = M * X``.  Training passes the channel mask as a float tensor carrying a
straight-through gradient (see :class:`loihi_snn.torch.blocks.asa.ASAGate`).
"""
from __future__ import annotations

from typing import Any, Tuple

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


def _amax(x, axis: int):
    return x.amax(axis) if _is_torch(x) else x.max(axis=axis)


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


# ----------------------------------------------------------------------------- pieces

def group_features_fixed(a, important) -> Tuple[Any, Any]:
    """Integer [floor-mean, max] maps of both groups.

    Parameters
    ----------
    a : int array (..., C, H, W)
        integer synaptic currents.
    important : bool array (C,)

    Returns
    -------
    (f_imp, f_sub) : int arrays (..., 2, H, W), channel 0 = floor mean, 1 = max.
    """
    imp = check_important(important, a.shape[-3])
    out = []
    for mask in (imp, ~imp):
        idx = _like(np.flatnonzero(mask), a, dtype=None)
        if _is_torch(a):
            import torch
            g = a.index_select(-3, idx.to(torch.long))
        else:
            g = np.take(a, idx, axis=-3)
        mean = floor_div(g.sum(-3), int(mask.sum()))
        out.append(_stack_channels([mean, _amax(g, -3)]))
    return out[0], out[1]


def group_features_float(x, mask) -> Tuple[Any, Any]:
    """Real [mean, max] maps of both groups.

    ``x`` is (..., C, H, W) float; ``mask`` (C,) float in {0, 1} (it may carry a
    straight-through gradient in torch): the means are ``sum(m_c x_c) / |imp|`` and
    ``sum((1 - m_c) x_c) / |sub|``, the maxima are taken over the hard groups.
    Returns ``(f_imp, f_sub)``, each (..., 2, H, W).
    """
    m = _like(mask, x, dtype=x.dtype)
    hard = _like(m > 0.5, x)
    k = int(hard.sum())
    C = x.shape[-3]
    check_important(hard, C)
    mb = m.reshape(-1, 1, 1)
    hb = hard.reshape(-1, 1, 1)
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


# ----------------------------------------------------------------------------- the gate

def asa_maps_fixed(a, important, w_imp, b_imp, w_sub, b_sub, shift: int = SIGMOID_SHIFT,
                   table=None):
    """Integer gains ``(M_imp, M_sub)``, each (..., H, W) in 0..256, for currents ``a``
    (..., C, H, W).  Weights are (2, 3, 3) / (1, 2, 3, 3) int mantissas, biases ints."""
    f_imp, f_sub = group_features_fixed(a, important)
    m_imp = sigmoid_fixed(conv3x3(f_imp, w_imp, b_imp), shift, table)
    m_sub = sigmoid_fixed(conv3x3(f_sub, w_sub, b_sub), shift, table)
    return m_imp, m_sub


def asa_gate_fixed(a, important, w_imp, b_imp, w_sub, b_sub, shift: int = SIGMOID_SHIFT,
                   table=None):
    """One ASA step (or many: leading axes are independent) in Loihi integers.

    Parameters
    ----------
    a : int array (..., C, H, W)
        synaptic currents ``round(64 * X)`` (int64 recommended).
    important : bool array (C,)
        the important channels (1..C-1 of them).
    w_imp, w_sub : int arrays (2, 3, 3) or (1, 2, 3, 3)
        map weights ``clamp(round(64 * w), -256, 255)`` over [mean, max].
    b_imp, b_sub : int
        map biases ``round(4096 * b)``.
    shift : int
        sigmoid table shift (see :func:`sigmoid_table`).

    Returns
    -------
    int array (..., C, H, W)
        gated currents ``(M_G(c) * a_c) >> 8``.
    """
    imp = check_important(important, a.shape[-3])
    m_imp, m_sub = asa_maps_fixed(a, imp, w_imp, b_imp, w_sub, b_sub, shift, table)
    sel = _like(imp, a).reshape(-1, 1, 1)
    if _is_torch(a):
        import torch
        gain = torch.where(sel, m_imp.unsqueeze(-3), m_sub.unsqueeze(-3))
    else:
        gain = np.where(sel, m_imp[..., None, :, :], m_sub[..., None, :, :])
    return (gain * a) >> M_SHIFT


def asa_gate_float(x, mask, w_imp, b_imp, w_sub, b_sub):
    """One ASA step (or many) in floating point, weight units.

    ``x`` (..., C, H, W) real currents; ``mask`` (C,) float 0/1 (may carry a
    straight-through gradient); weights (2, 3, 3) / (1, 2, 3, 3) and scalar biases
    in real units (``w_int / 64``, ``b_int / 4096`` for an exported gate).
    Returns ``Y = (m_c M_imp + (1 - m_c) M_sub) * x_c``, (..., C, H, W).
    """
    f_imp, f_sub = group_features_float(x, mask)
    m_imp = sigmoid_float(conv3x3(f_imp, w_imp, b_imp))
    m_sub = sigmoid_float(conv3x3(f_sub, w_sub, b_sub))
    m = _like(mask, x, dtype=x.dtype).reshape(-1, 1, 1)
    if _is_torch(x):
        gain = m * m_imp.unsqueeze(-3) + (1 - m) * m_sub.unsqueeze(-3)
    else:
        gain = m * m_imp[..., None, :, :] + (1 - m) * m_sub[..., None, :, :]
    return gain * x


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

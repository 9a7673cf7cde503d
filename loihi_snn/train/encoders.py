"""Spike encoders that turn real values into time-last spike tensors.

Every encoder returns an array whose LAST axis is time (``T`` steps), the layout
lava-dl SLAYER expects (``N x C x ... x T``).  Inputs are intensities ``p`` in
[0, 1] (dimensionless, e.g. pixel / 16 for the digits data set) or, for the
delta encoder, an arbitrary real-valued sequence that already has time last.
"""

from __future__ import annotations

import numpy as np

__all__ = ["delta_encode", "direct_encode", "latency_encode", "level_encode", "rate_encode"]


def _check_T(T: int) -> int:
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer number of time steps, got {T!r}")
    return int(T)


def _check_unit_interval(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.size and (np.nanmin(p) < 0.0 or np.nanmax(p) > 1.0 or np.isnan(p).any()):
        raise ValueError("intensities must lie in [0, 1]")
    return p


def rate_encode(p: np.ndarray, T: int, rng: np.random.Generator,
                max_rate: float = 1.0) -> np.ndarray:
    """Bernoulli (Poisson-like) rate code.

    Args:
        p: intensities in [0, 1], any shape ``S``.
        T: number of time steps.
        rng: the random generator that draws the spikes (pass a seeded one for
            reproducible spikes).
        max_rate: spike probability per step for intensity 1 (in [0, 1]); the
            probability at each step is ``p * max_rate``.

    Returns:
        float32 array of shape ``S + (T,)`` with values in {0, 1}; each element
        spikes independently at every step with probability ``p * max_rate``.
    """
    T = _check_T(T)
    if not 0.0 <= float(max_rate) <= 1.0:
        raise ValueError(f"max_rate must lie in [0, 1], got {max_rate!r}")
    prob = _check_unit_interval(p) * float(max_rate)
    draws = rng.random(prob.shape + (T,))
    return (draws < prob[..., None]).astype(np.float32)


def latency_encode(p: np.ndarray, T: int) -> np.ndarray:
    """Time-to-first-spike (latency) code: one spike per element at most.

    An element with intensity ``p > 0`` spikes once, at step
    ``round((1 - p) * (T - 1))`` (round half to even, like Python's ``round``),
    so the brightest inputs spike first; ``p == 0`` never spikes.

    Args:
        p: intensities in [0, 1], any shape ``S``.
        T: number of time steps.

    Returns:
        float32 array of shape ``S + (T,)`` with values in {0, 1}.
    """
    T = _check_T(T)
    p = _check_unit_interval(p)
    step = np.rint((1.0 - p) * (T - 1)).astype(np.int64)
    out = (np.arange(T) == step[..., None]) & (p[..., None] > 0)
    return out.astype(np.float32)


def direct_encode(p: np.ndarray, T: int) -> np.ndarray:
    """Direct (current-injection) code: the real value itself at every step.

    Args:
        p: real values, any shape ``S`` (not restricted to [0, 1]).
        T: number of time steps.

    Returns:
        float32 array of shape ``S + (T,)`` with ``out[..., t] == p`` for all t.
    """
    T = _check_T(T)
    p = np.asarray(p, dtype=np.float32)
    return np.ascontiguousarray(np.broadcast_to(p[..., None], p.shape + (T,)))


def delta_encode(x: np.ndarray, threshold: float) -> np.ndarray:
    """Level-crossing (send-on-delta) code of sequences with time last.

    A reference level starts at 0 (the data are expected to be centred).  At
    each step ``t`` the signal is compared with the reference: when
    ``x[t] - ref >= threshold`` the UP channel spikes and the reference moves
    up by the whole number of levels crossed, ``floor((x[t] - ref) /
    threshold) * threshold``; the DOWN channel does the mirror image.  At most
    one spike per channel and step is sent (binary spikes), and after every
    step ``|x[t] - ref| < threshold`` holds.

    Args:
        x: real-valued sequences, shape ``S + (T,)`` (time last), in the units
            of the data (mnist1d: standardised, unit variance).
        threshold: level spacing, > 0, in the same units as ``x``.

    Returns:
        float32 array of shape ``S + (2, T)`` with values in {0, 1}; channel 0
        is UP (signal rose by at least one level), channel 1 is DOWN.
    """
    if not float(threshold) > 0.0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("x must have at least one (time) axis")
    thr = float(threshold)
    ref = np.zeros(x.shape[:-1], dtype=np.float64)
    out = np.zeros(x.shape[:-1] + (2, x.shape[-1]), dtype=np.float32)
    for t in range(x.shape[-1]):
        d = x[..., t] - ref
        levels = np.trunc(d / thr)  # signed number of whole levels crossed
        out[..., 0, t] = levels >= 1
        out[..., 1, t] = levels <= -1
        ref = ref + levels * thr
    return out


def level_encode(x: np.ndarray, levels: int, value_range: float) -> np.ndarray:
    """Level (one-hot population) code of sequences with time last.

    The interval ``[-value_range, value_range]`` is cut into ``levels`` equal bins;
    at every step exactly one channel spikes: the bin holding ``x[t]`` (values
    outside the interval go to the first or last bin).  A linear layer on this code
    can respond to any value band, which a single graded input cannot.

    Args:
        x: real-valued sequences, shape ``S + (T,)`` (time last), e.g. mnist1d's
            standardised values.
        levels: number of channels, >= 2.
        value_range: half-width of the covered interval (> 0), units of ``x``.

    Returns:
        float32 array of shape ``S + (levels, T)`` with values in {0, 1}; channel 0
        is the lowest bin.
    """
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or levels < 2:
        raise ValueError(f"levels must be an integer >= 2, got {levels!r}")
    if not float(value_range) > 0.0:
        raise ValueError(f"value_range must be > 0, got {value_range!r}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 1:
        raise ValueError("x must have at least one (time) axis")
    r = float(value_range)
    idx = np.floor((x + r) / (2.0 * r) * int(levels)).astype(np.int64)
    idx = np.clip(idx, 0, int(levels) - 1)                      # S + (T,)
    out = (np.arange(int(levels))[:, None] == idx[..., None, :])  # S + (levels, T)
    return out.astype(np.float32)

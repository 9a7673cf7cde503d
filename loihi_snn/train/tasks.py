"""Generated spike tasks that each probe one claim about LIF components (Yin et al. 2024).

Every generator returns binary spike trains ``inputs`` of shape ``(n, C, T)`` (float32,
time last), integer ``labels`` ``(n,)`` and ``info``: a dict with ``num_classes``,
``readout`` (the output is read as spike counts over the LAST ``readout`` steps) and
per-sample fields (e.g. the delay).  They are registered as data sets
(``lif_memory``, ``lif_patterns``, ``lif_stream``, ``lif_order``) in
:mod:`loihi_snn.train.datasets`, which seeds them per (seed, split).

- :func:`memory_task` -- memory retention: a class cue early in the sequence, a delay of
  variable length (silence, or class-neutral distractor spikes), then a ``go`` channel;
  the class is read out only in the final window, after the delay.
- :func:`pattern_task` -- robustness: each class is a fixed random spatio-temporal spike
  pattern; samples are mildly perturbed copies.  Test-time noise comes from the
  perturbations below (:func:`perturb`): Gaussian noise on the values, spike deletion,
  spike insertion and temporal jitter.
- :func:`stream_task` -- uninterrupted processing: short rate-coded samples (which channel
  group is active) meant to be streamed back to back without resetting the network
  (:func:`stream`).
- :func:`order_task` -- complex dynamics: two cues from three symbols; the class is the
  ordered pair (6 classes), so the spike count of each channel cannot tell it: only the
  order of the cues can.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

__all__ = ["memory_task", "pattern_task", "stream_task", "order_task", "perturb", "stream",
           "NOISE_KINDS"]

NOISE_KINDS = ("gaussian", "delete", "insert", "jitter")

Task = Tuple[np.ndarray, np.ndarray, Dict]


def _check(name: str, value, lo, hi=None):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or value < lo or (hi is not None and value > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name} must be a number {rng}, got {value!r}")
    return value


def _burst(x: np.ndarray, i: int, channels: np.ndarray, start: int, length: int, p: float,
           rng: np.random.Generator) -> None:
    """Spikes with probability ``p`` on ``channels`` at steps ``start .. start+length-1``."""
    x[i, channels, start:start + length] = rng.random((len(channels), length)) < p


def memory_task(n: int, T: int, rng: np.random.Generator, *, num_classes: int = 4,
                group: int = 4, cue_steps: int = 4, readout: int = 8, min_delay: int = 4,
                cue_rate: float = 0.8, distractor_rate: float = 0.0) -> Task:
    """Cue, delay, read out: ``C = num_classes * group + 1`` channels.

    Channels ``k*group .. (k+1)*group - 1`` carry the cue of class ``k`` for
    ``cue_steps`` steps (spike probability ``cue_rate``); the delay between the cue's
    end and the readout window is uniform in ``min_delay .. T - readout - cue_steps``
    steps (``info["delay"]``); during it every cue channel fires with probability
    ``distractor_rate`` per step (0: silence).  The last channel (``go``) fires on
    every step of the final ``readout`` steps, where the class is read out.
    """
    max_delay = T - readout - cue_steps
    if max_delay < min_delay:
        raise ValueError(f"T={T} too short for cue_steps={cue_steps}, readout={readout}, "
                         f"min_delay={min_delay}")
    _check("distractor_rate", distractor_rate, 0.0, 1.0)
    C = num_classes * group + 1
    x = np.zeros((n, C, T), dtype=np.float32)
    labels = rng.integers(0, num_classes, n)
    delays = rng.integers(min_delay, max_delay + 1, n)
    cue_channels = np.arange(num_classes * group)
    for i in range(n):
        onset = max_delay - delays[i]
        _burst(x, i, cue_channels[labels[i] * group:(labels[i] + 1) * group], onset, cue_steps,
               cue_rate, rng)
        if distractor_rate > 0:
            d0 = onset + cue_steps
            _burst(x, i, cue_channels, d0, T - readout - d0, distractor_rate, rng)
        x[i, C - 1, T - readout:] = 1
    return x, labels, {"num_classes": num_classes, "readout": readout, "delay": delays,
                       "min_delay": min_delay, "max_delay": max_delay}


def _templates(num_classes: int, channels: int, T: int, rate: float, seed: int) -> np.ndarray:
    """The fixed class patterns ``(num_classes, channels, T)`` (same for every split)."""
    return (np.random.default_rng([int(seed), 7]).random((num_classes, channels, T)) < rate
            ).astype(np.float32)


def pattern_task(n: int, T: int, rng: np.random.Generator, *, num_classes: int = 4,
                 channels: int = 16, rate: float = 0.1, template_seed: int = 0,
                 train_jitter: float = 0.5, train_delete: float = 0.1,
                 train_insert: float = 0.01) -> Task:
    """Fixed random spike patterns (``rate`` spikes per channel and step), one per class,
    drawn from ``template_seed``; every sample is its class pattern with jitter
    (std ``train_jitter`` steps), deletion (``train_delete``) and insertion
    (``train_insert`` per channel and step), so training sees mild noise.  The read out
    is the whole sequence."""
    tpl = _templates(num_classes, channels, T, rate, template_seed)
    labels = rng.integers(0, num_classes, n)
    x = tpl[labels].copy()
    x = perturb(x, "jitter", train_jitter, rng)
    x = perturb(x, "delete", train_delete, rng)
    x = perturb(x, "insert", train_insert, rng)
    return x, labels, {"num_classes": num_classes, "readout": T}


def stream_task(n: int, T: int, rng: np.random.Generator, *, num_classes: int = 4,
                group: int = 4, rate: float = 0.3, background: float = 0.02) -> Task:
    """Rate-coded samples: the ``group`` channels of the class fire with probability
    ``rate`` per step, all ``num_classes * group`` channels add ``background``.  The
    read out is the whole sample; :func:`stream` concatenates samples."""
    C = num_classes * group
    labels = rng.integers(0, num_classes, n)
    p = np.full((n, C, 1), background, dtype=np.float64)
    for k in range(num_classes):
        p[labels == k, k * group:(k + 1) * group] = rate
    x = (rng.random((n, C, T)) < p).astype(np.float32)
    return x, labels, {"num_classes": num_classes, "readout": T}


def order_task(n: int, T: int, rng: np.random.Generator, *, symbols: int = 3, group: int = 4,
               cue_steps: int = 3, cue_rate: float = 0.8, min_gap: int = 3,
               background: float = 0.0) -> Task:
    """Two cues of two different symbols (each ``cue_steps`` steps on its ``group``
    channels); class = the ordered pair, ``symbols * (symbols - 1)`` classes.  First cue
    at step 0 .. T/4, second ``min_gap`` .. up to the last half of the sequence after
    it; read out over the last quarter of the sequence (after the second cue)."""
    pairs = [(a, b) for a in range(symbols) for b in range(symbols) if a != b]
    readout = max(1, T // 4)
    last_start = T - readout - cue_steps
    first_max = T // 4
    if last_start < first_max + cue_steps + min_gap:
        raise ValueError(f"T={T} too short for two cues of {cue_steps} steps and min_gap={min_gap}")
    C = symbols * group
    labels = rng.integers(0, len(pairs), n)
    x = (rng.random((n, C, T)) < background).astype(np.float32)
    t1 = rng.integers(0, first_max + 1, n)
    for i in range(n):
        a, b = pairs[labels[i]]
        t2 = rng.integers(t1[i] + cue_steps + min_gap, last_start + 1)
        _burst(x, i, np.arange(a * group, (a + 1) * group), t1[i], cue_steps, cue_rate, rng)
        _burst(x, i, np.arange(b * group, (b + 1) * group), t2, cue_steps, cue_rate, rng)
    return x, labels, {"num_classes": len(pairs), "readout": readout}


def perturb(x: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """A noisy copy of spike trains ``x`` ``(n, C, T)`` (time last).

    ``gaussian``: ``round(x + N(0, level))`` (integer graded values, may be negative);
    ``delete``: each spike removed with probability ``level``;
    ``insert``: a spike added at each (channel, step) with probability ``level``;
    ``jitter``: each spike moved by ``round(N(0, level))`` steps (kept inside the
    sequence; spikes landing on one step merge).
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise {kind!r}; choose one of {NOISE_KINDS}")
    _check(f"{kind} level", level, 0.0, 1.0 if kind in ("delete", "insert") else None)
    x = np.asarray(x, dtype=np.float32)
    if level == 0:
        return x.copy()
    if kind == "gaussian":
        return np.round(x + rng.normal(0.0, level, x.shape)).astype(np.float32)
    if kind == "delete":
        return np.where(rng.random(x.shape) < level, 0, x).astype(np.float32)
    if kind == "insert":
        return np.maximum(x, rng.random(x.shape) < level).astype(np.float32)
    T = x.shape[-1]
    idx = np.nonzero(x)
    shift = np.round(rng.normal(0.0, level, len(idx[0]))).astype(np.int64)
    t = np.clip(idx[-1] + shift, 0, T - 1)
    out = np.zeros_like(x)
    out[idx[:-1] + (t,)] = 1
    return out


def stream(x: np.ndarray) -> np.ndarray:
    """Samples ``(n, C, T)`` back to back: one sequence ``(1, C, n * T)``."""
    n, C, T = x.shape
    return np.ascontiguousarray(x.transpose(1, 0, 2).reshape(1, C, n * T))

"""Spike accounting: NASFR and spikes per sample.

``layer_spikes`` is a list with one array (numpy or torch) per spiking layer, each
of shape ``(N, ..., T)``: batch first, time last, any neuron shape in between
(e.g. the outputs of SLAYER blocks, or of :func:`loihi_snn.sim.runtime.probe.run_layers`
with a batch axis added).  A spike is any non-zero entry (so signed ternary or
graded spikes count once per event).
"""
from __future__ import annotations

from typing import Any, List, Sequence

import numpy as np


def _np(x: Any) -> np.ndarray:
    if type(x).__module__.startswith("torch"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _check(layer_spikes: Sequence[Any]) -> List[np.ndarray]:
    arrays = [_np(s) for s in layer_spikes]
    if not arrays:
        raise ValueError("layer_spikes is empty: pass one (N, ..., T) array per spiking layer")
    n = arrays[0].shape[0] if arrays[0].ndim else None
    for i, a in enumerate(arrays):
        if a.ndim < 2:
            raise ValueError(f"layer {i}: expected (N, ..., T) spikes, got shape {a.shape}")
        if a.shape[0] != n:
            raise ValueError(f"layer {i}: batch size {a.shape[0]} differs from layer 0 ({n})")
    return arrays


def layer_firing_rates(layer_spikes: Sequence[Any]) -> np.ndarray:
    """Firing rate of every layer: spikes / (neurons x T), averaged over the batch.

    Returns a float array (L,), spikes per neuron per time step.
    """
    arrays = _check(layer_spikes)
    return np.array([np.count_nonzero(a) / float(a.size) for a in arrays])


def nasfr(layer_spikes: Sequence[Any]) -> float:
    """Network-average spike firing rate (Yao et al., ICCV 2023).

    Per layer l: ``r_l = spikes_l / (neurons_l x T)`` (averaged over the N samples);
    NASFR = ``sum_l n_l r_l / sum_l n_l`` with ``n_l`` the layer's neuron count, which
    equals all spikes / (all neurons x T x N).  Unit: spikes per neuron per step.
    """
    arrays = _check(layer_spikes)
    counts = np.array([np.prod(a.shape[1:-1]) for a in arrays], dtype=np.float64)
    return float(np.sum(counts * layer_firing_rates(arrays)) / counts.sum())


def spikes_per_sample(layer_spikes: Sequence[Any]) -> np.ndarray:
    """Total spikes of all layers per sample: int64 array (N,)."""
    arrays = _check(layer_spikes)
    return np.sum([np.count_nonzero(a.reshape(a.shape[0], -1), axis=1) for a in arrays],
                  axis=0).astype(np.int64)

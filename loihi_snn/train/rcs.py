"""RCS regulariser (Wu et al., 2025): make early representations resemble late ones.

For each spiking layer l with spikes s(t) and post-reset voltage u(t) (N, ..., T):

    r(t)  = s(t) + ReLU(u(t) / V_th)
    r_d   = mean of r over the last floor(0.3 T) steps, detached
    cs_n  = mean over t of cos(r_n(t), r_d,n)       (per sample n, over neurons)
    term  = max over the qualifying samples of 1 / (cs_n + 1e-5)

where a sample qualifies when its prediction (argmax of the cumulative output counts)
is correct at every one of the last floor(0.3 T) steps.  The loss is the mean of the
layer terms (0 when no sample qualifies); add ``alpha * rcs`` to the task loss
(alpha ~ 0.001-0.003).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

TAIL_FRACTION = 0.3
EPS = 1e-5


def tail_length(T: int) -> int:
    return max(1, int(TAIL_FRACTION * T))


def correct_in_tail(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) bool: prediction from cumulative counts of ``output`` (N, C, T) is correct at
    every one of the last ``tail_length(T)`` steps."""
    T = output.shape[-1]
    k = tail_length(T)
    cum = torch.cumsum(output.detach(), dim=-1)[..., -k:]        # (N, C, k)
    pred = cum.argmax(dim=1)                                      # (N, k)
    return (pred == labels[:, None]).all(dim=1)


def layer_term(spikes: torch.Tensor, voltage: torch.Tensor, threshold: float,
               mask: torch.Tensor) -> torch.Tensor:
    """RCS term of one layer; ``spikes``/``voltage`` (N, ..., T), ``mask`` (N,) bool."""
    N, T = spikes.shape[0], spikes.shape[-1]
    r = spikes.reshape(N, -1, T) + torch.relu(voltage.reshape(N, -1, T) / threshold)
    k = tail_length(T)
    r_d = r[..., -k:].mean(dim=-1, keepdim=True).detach()          # (N, M, 1)
    cos = torch.nn.functional.cosine_similarity(r, r_d.expand_as(r), dim=1, eps=1e-8)  # (N, T)
    cs = cos.mean(dim=-1)                                          # (N,)
    inv = 1.0 / (cs + EPS)
    if not mask.any():
        return inv.sum() * 0.0
    return inv[mask].max()


def rcs_loss(layers: Sequence[Tuple[torch.Tensor, torch.Tensor, float]],
             output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean RCS term over ``layers`` = [(spikes, voltage, threshold), ...].

    ``output`` (N, classes, T) are the network's output spikes, ``labels`` (N,).
    """
    if not layers:
        raise ValueError("rcs_loss needs at least one layer (spikes, voltage, threshold)")
    mask = correct_in_tail(output, labels)
    return torch.stack([layer_term(s, v, th, mask) for s, v, th in layers]).mean()


def enable_recording(blocks, on: bool = True) -> int:
    """Turn voltage/spike recording of every LIF neuron on or off; returns how many."""
    n = 0
    for b in blocks:
        neuron = getattr(b, "neuron", None)
        if hasattr(neuron, "record_voltage"):
            neuron.record_voltage = on
            n += 1
    return n


def collect(blocks) -> list:
    """[(spikes, voltage, threshold)] of every LIF neuron that recorded its last
    training forward (see :func:`enable_recording`); spikes and voltage are the
    neuron's own (N, ..., T), aligned in time."""
    out = []
    for b in blocks:
        n = getattr(b, "neuron", None)
        if getattr(n, "voltage", None) is not None:
            out.append((n.recorded_spikes, n.voltage, float(n.threshold)))
    return out


def trainer_regularizer(model, output, layer_spikes, labels, config) -> torch.Tensor:
    """``REGULARIZERS["rcs"]`` for :mod:`loihi_snn.train.trainer` (weight ``rcs_weight``).

    Needs LIF-family neurons (:mod:`loihi_snn.blocks`).  Voltage recording is switched
    on at the first call, so that batch contributes 0 and every later batch the RCS term.
    """
    blocks = getattr(model, "blocks", model)
    layers = collect(blocks)
    if not layers:
        if enable_recording(blocks) == 0:
            raise ValueError("the RCS regulariser needs loihi_snn LIF neurons (neuron type "
                             "'lif'); SLAYER CUBA blocks do not expose their voltage")
        return output.sum() * 0.0
    return rcs_loss(layers, output, labels)


def _register() -> None:
    from loihi_snn.train.trainer import REGULARIZERS
    REGULARIZERS.setdefault("rcs", trainer_regularizer)


_register()

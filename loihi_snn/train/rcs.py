"""RCS regulariser (Wu et al., 2025): make early representations resemble late ones.

For each spiking layer l with spikes s(t) and post-reset voltage u(t) (N, ..., T):

    r(t)  = s(t) + ReLU(u(t) / V_th)
    r_d   = mean of r over the last floor(0.3 T) steps, detached
    cs_n  = mean over t of cos(r_n(t), r_d,n)       (per sample n, over neurons;
            norms smoothed as sqrt(|r|^2 + 1e-5), as in the authors' code)
    term  = max over the qualifying samples of 1 / (cs_n + 1e-5)

where a sample qualifies when its prediction (the cumulative output count of its label,
strictly above every other class) is correct at every one of the last floor(0.3 T)
steps and the layer is not silent over those steps (r_d != 0).  The loss is the mean
of the layer terms (0 when no sample qualifies); add ``alpha * rcs`` to the task loss.
The authors use alpha ~ 0.001-0.003 beside a cross-entropy loss.

Scale: the RCS gradient enters each layer's voltage directly (d ReLU(u/V_th)/du =
1/V_th, no surrogate), while the task gradient reaches hidden layer l only through the
surrogate derivative of every later spiking layer.  With a flat surrogate (SLAYER's
convention with tau_grad 0.5, scale_grad 1: peak 0.001) the cross-entropy gradient of
the first of two hidden layers is ~1e-5 of the output layer's, 0.003 x the RCS gradient
is ~1e3 times larger there, and Adam's per-parameter step lets RCS alone train that
layer whatever alpha is.  alpha means what it means in the paper only beside a
surrogate of useful height (tau_grad 0.03, scale_grad 3: peak 0.05, RCS share ~0.04);
``studies/rcs.py`` measures that share per layer (``gradient_shares``).
"""
from __future__ import annotations

from typing import Sequence, Tuple

import torch

TAIL_FRACTION = 0.3
EPS = 1e-5
NORM_EPS = 1e-5      # inside the norms of the cosine, as the authors' code


def tail_length(T: int) -> int:
    return max(1, int(TAIL_FRACTION * T))


def correct_in_tail(output: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the label's cumulative count in ``output`` (N, C, T) is strictly above
    every other class's at every one of the last ``tail_length(T)`` steps.

    Strictly: a tie (above all, a silent output layer, whose argmax is class 0) does not
    count as correct.  Such a sample has r(t) = 0 in the output layer, cos = 0 and a
    term of 1 / 1e-5, which would swamp the task loss (seen as training collapsing to
    chance on digits when the untrained output layer was silent).
    """
    T = output.shape[-1]
    k = tail_length(T)
    cum = torch.cumsum(output.detach(), dim=-1)[..., -k:]        # (N, C, k)
    own = cum.gather(1, labels.long().view(-1, 1, 1).expand(-1, 1, k))   # (N, 1, k)
    others = cum.scatter(1, labels.long().view(-1, 1, 1).expand(-1, 1, k), float("-inf"))
    return (own[:, 0] > others.max(dim=1).values).all(dim=1)


def cosine(r: torch.Tensor, r_d: torch.Tensor) -> torch.Tensor:
    """cos(r(t), r_d) over the neuron axis 1, with the authors' smoothed norms
    ``sqrt(|r|^2 + 1e-5)`` (snncutoff ``RCSSNN``).

    Not ``torch.nn.functional.cosine_similarity``: its gradient at a nearly silent
    layer (|r(t)| -> 0, e.g. the output layer at t = 1, or a tiny ReLU(u)) grows
    like 1 / |r(t)|; on digits one such batch gave a gradient of 1e5, which saturated
    Adam's second moment and stalled training at chance.  The smoothed norm bounds it.
    """
    dot = (r * r_d).sum(dim=1)
    return dot / (torch.sqrt(r.pow(2).sum(dim=1) + NORM_EPS) *
                  torch.sqrt(r_d.pow(2).sum(dim=1) + NORM_EPS))


REDUCTIONS = ("max", "mean")
REFERENCES = ("tail", "all")


def layer_term(spikes: torch.Tensor, voltage: torch.Tensor, threshold: float,
               mask: torch.Tensor, *, reduction: str = "max",
               reference: str = "tail") -> torch.Tensor:
    """RCS term of one layer; ``spikes``/``voltage`` (N, ..., T), ``mask`` (N,) bool.

    ``reduction``: over the qualifying samples, ``"max"`` (the paper and the authors'
    code) or ``"mean"``.  ``reference``: r_d is the mean of r over the last
    floor(0.3 T) steps (``"tail"``, ALGORITHMS.md) or over all T steps (``"all"``,
    snncutoff's ``RCSSNN``).
    """
    if reduction not in REDUCTIONS or reference not in REFERENCES:
        raise ValueError(f"reduction must be one of {REDUCTIONS} and reference one of "
                         f"{REFERENCES}, got {reduction!r}, {reference!r}")
    N, T = spikes.shape[0], spikes.shape[-1]
    r = spikes.reshape(N, -1, T) + torch.relu(voltage.reshape(N, -1, T) / threshold)
    k = tail_length(T) if reference == "tail" else T
    r_d = r[..., -k:].mean(dim=-1, keepdim=True).detach()          # (N, M, 1)
    cos = cosine(r, r_d)                                            # (N, T)
    cs = cos.mean(dim=-1)                                          # (N,)
    inv = 1.0 / (cs + EPS)
    # a sample whose layer is silent over the whole tail has r_d = 0 and no direction to
    # match (cos = 0, term 1e5): it can still count as correct from earlier output
    # spikes, so leave it out rather than let it swamp the loss
    mask = mask & (r_d.abs().sum(dim=(1, 2)) > 0)
    if not mask.any():
        return inv.sum() * 0.0
    return inv[mask].max() if reduction == "max" else inv[mask].mean()


def rcs_loss(layers: Sequence[Tuple[torch.Tensor, torch.Tensor, float]],
             output: torch.Tensor, labels: torch.Tensor, *, reduction: str = "max",
             reference: str = "tail") -> torch.Tensor:
    """Mean RCS term over ``layers`` = [(spikes, voltage, threshold), ...].

    ``output`` (N, classes, T) are the network's output spikes, ``labels`` (N,);
    ``reduction`` and ``reference`` as in :func:`layer_term`.
    """
    if not layers:
        raise ValueError("rcs_loss needs at least one layer (spikes, voltage, threshold)")
    mask = correct_in_tail(output, labels)
    return torch.stack([layer_term(s, v, th, mask, reduction=reduction, reference=reference)
                        for s, v, th in layers]).mean()


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


def trainer_regularizer(model, output, layer_spikes, labels, config, *,
                        reduction: str = "max", reference: str = "tail",
                        hidden_only: bool = False) -> torch.Tensor:
    """The default ``REGULARIZERS["rcs"]`` (:mod:`loihi_snn.train.regularizers`), weight
    ``rcs_weight``.

    Needs LIF-family neurons (:mod:`loihi_snn.torch.blocks`).  Voltage recording is switched
    on at the first call, so that batch contributes 0 and every later batch the RCS term.
    ``hidden_only`` leaves the output layer out (the authors' networks end in a
    non-spiking classifier, so their RCS sees hidden layers only).  Other settings:
    :func:`make_regularizer`.
    """
    blocks = getattr(model, "blocks", model)
    layers = collect(blocks)
    if not layers:
        if enable_recording(blocks) == 0:
            raise ValueError("the RCS regulariser needs loihi_snn LIF neurons (neuron type "
                             "'lif'); SLAYER CUBA blocks do not expose their voltage")
        return output.sum() * 0.0
    if hidden_only and len(layers) > 1:
        layers = layers[:-1]
    return rcs_loss(layers, output, labels, reduction=reduction, reference=reference)


def make_regularizer(*, reduction: str = "max", reference: str = "tail",
                     hidden_only: bool = False):
    """A variant of :func:`trainer_regularizer` to put in
    :data:`loihi_snn.train.regularizers.REGULARIZERS` under ``"rcs"``."""
    if reduction not in REDUCTIONS or reference not in REFERENCES:
        raise ValueError(f"reduction must be one of {REDUCTIONS} and reference one of "
                         f"{REFERENCES}, got {reduction!r}, {reference!r}")

    def regularizer(model, output, layer_spikes, labels, config):
        return trainer_regularizer(model, output, layer_spikes, labels, config,
                                   reduction=reduction, reference=reference,
                                   hidden_only=hidden_only)
    regularizer.settings = {"reduction": reduction, "reference": reference,
                            "hidden_only": hidden_only}
    return regularizer

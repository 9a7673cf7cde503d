"""A numpy float reference of a NIR graph: NIR's equations at a time step ``dt``.

:func:`simulate` runs a :class:`~loihi_snn.nir.graph.Chain` on a batch of inputs with
the discretisation of :mod:`loihi_snn.nir.dynamics`, in float64, with every layer
seeing its input of the same step (as snnTorch and Norse run a network: no synaptic
delay).  It is what ``loihi-snn import --check`` compares the fixed-point network with,
and what the tests compare the source frameworks with.  On Lava, stage ``i``'s spikes
of step ``t`` appear at step ``t + i + 1`` (one step per synapse).
"""
from __future__ import annotations

from typing import List, Tuple

import numpy as np

from loihi_snn.core.lif import check_reset_mode
from loihi_snn.nir.dynamics import delay_steps, stage_dynamics
from loihi_snn.nir.graph import Chain, Stage, _pair, type_name


def _windows(x: np.ndarray, kernel: Tuple[int, int], stride: Tuple[int, int],
             padding: Tuple[int, int], dilation: Tuple[int, int]) -> np.ndarray:
    """(N, C, H, W) -> (N, C, Ho, Wo, kH, kW) sliding windows (zero padding)."""
    x = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    kh, kw = kernel
    span = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    win = np.lib.stride_tricks.sliding_window_view(x, span, axis=(2, 3))
    return win[:, :, ::stride[0], ::stride[1], ::dilation[0], ::dilation[1]]


def conv2d(x: np.ndarray, weight: np.ndarray, bias, stride, padding, dilation,
           groups: int) -> np.ndarray:
    """torch.nn.functional.conv2d in numpy: (N, Cin, H, W) -> (N, Cout, Ho, Wo)."""
    w = np.asarray(weight, dtype=np.float64)
    win = _windows(x, w.shape[-2:], _pair(stride), _pair(padding), _pair(dilation))
    cout, cin_g = w.shape[:2]
    cout_g = cout // groups
    outs = []
    for g in range(groups):
        wg = w[g * cout_g:(g + 1) * cout_g]
        xg = win[:, g * cin_g:(g + 1) * cin_g]
        outs.append(np.einsum("nchwij,ocij->nohw", xg, wg, optimize=True))
    y = np.concatenate(outs, axis=1)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64).reshape(1, -1, 1, 1)
    return y


def pool2d(x: np.ndarray, node, average: bool) -> np.ndarray:
    """AvgPool2d (zero padding counted, as torch) or SumPool2d: (N, C, H, W) -> (N, C, Ho, Wo)."""
    k = _pair(node.kernel_size)
    win = _windows(x, k, _pair(node.stride), _pair(node.padding), (1, 1))
    y = win.sum(axis=(-2, -1))
    return y / (k[0] * k[1]) if average else y


def synapse_forward(stage: Stage, x: np.ndarray) -> np.ndarray:
    """The synaptic input of ``stage``'s neurons: (N, *in_shape) -> (N, *out_shape), float."""
    node, t = stage.synapse, type_name(stage.synapse)
    if t in ("Affine", "Linear"):
        y = x.reshape(x.shape[0], -1) @ np.asarray(node.weight, dtype=np.float64).T
        if t == "Affine" and node.bias is not None:
            y = y + np.asarray(node.bias, dtype=np.float64).reshape(-1)
        return y
    if t == "Conv2d":
        return conv2d(x, node.weight, getattr(node, "bias", None), node.stride, node.padding,
                      node.dilation, int(node.groups))
    return pool2d(x, node, average=(t == "AvgPool2d"))


def delayed_forward(stage: Stage, steps: np.ndarray, history: List[np.ndarray]) -> np.ndarray:
    """The synaptic input of a dense stage with a NIR ``Delay`` (``steps`` per input or
    per output, :func:`~loihi_snn.nir.dynamics.delay_steps`): ``history[-1 - D]`` is the input ``D`` steps ago
    (zero before the first step); the bias is not delayed."""
    node = stage.synapse
    w = np.asarray(node.weight, dtype=np.float64)
    d = np.asarray(steps, dtype=np.int64)
    n = history[-1].shape[0]
    y = np.zeros((n, w.shape[0]))
    for D in np.unique(d):
        x = history[-1 - D] if D < len(history) else np.zeros_like(history[-1])
        x = x.reshape(n, -1)
        if stage.delay_side == "in":
            m = d == D
            y += x[:, m] @ w[:, m].T
        else:
            m = d == D
            y[:, m] += x @ w[m].T
    if type_name(node) == "Affine" and node.bias is not None:
        y = y + np.asarray(node.bias, dtype=np.float64).reshape(-1)
    return y


def recurrent_forward(stage: Stage, z: np.ndarray) -> np.ndarray:
    """The recurrent input from the previous step's spikes ``z`` (N, n) -> (N, n)."""
    node = stage.recurrent
    y = z @ np.asarray(node.weight, dtype=np.float64).T
    if type_name(node) == "Affine" and node.bias is not None:
        y = y + np.asarray(node.bias, dtype=np.float64).reshape(-1)
    return y


def simulate(chain: Chain, x: np.ndarray, *, dt: float = 1e-4, reset: str = "hard",
             steps: int = None) -> List[np.ndarray]:
    """Run ``chain`` in float64 on ``x`` and return each spiking stage's spikes.

    Parameters
    ----------
    chain : Chain
        from :func:`loihi_snn.nir.graph.normalise`.
    x : np.ndarray
        (N, *input_shape, T), time last; any real values (spikes or currents).
    dt : float
        time step in seconds (see :mod:`loihi_snn.nir.dynamics`).
    reset : {"hard", "soft", "none"}
        "hard" is NIR's rule (v to v_reset); "soft" subtracts the threshold.
    steps : int, optional
        number of steps (default T; input beyond T is zero).

    Returns
    -------
    list of np.ndarray
        per spiking stage, (N, *out_shape, steps) float64 spikes in {0, 1}.
    """
    check_reset_mode(reset)
    x = np.asarray(x, dtype=np.float64)
    n, T = x.shape[0], x.shape[-1]
    steps = T if steps is None else int(steps)
    stages = [(s, stage_dynamics(chain.source, s, dt)) for s in chain.stages if s.kind != "flatten"]
    steps_of = [None if s.delay is None else delay_steps(chain.source, s, dt) for s, _ in stages]
    history: List[List[np.ndarray]] = [[] for _ in stages]
    u = [np.zeros((n,) + s.out_shape) for s, _ in stages]
    v = [np.zeros((n,) + s.out_shape) for s, _ in stages]
    z = [np.zeros((n,) + s.out_shape) for s, _ in stages]
    out = [np.zeros((n,) + s.out_shape + (steps,)) for s, _ in stages]
    for t in range(steps):
        sig = x[..., t] if t < T else np.zeros(x.shape[:-1])
        for i, (stage, d) in enumerate(stages):
            xin = sig.reshape((n,) + stage.in_shape)
            if stage.delay is not None:
                history[i].append(xin)
                a = delayed_forward(stage, steps_of[i], history[i])
            else:
                a = synapse_forward(stage, xin)
            if stage.recurrent is not None:
                a = a + recurrent_forward(stage, z[i])
            u[i] = (1 - d.du) * u[i] + d.a * a
            v[i] = (1 - d.dv) * v[i] + d.b * u[i] + d.c
            spike = v[i] > d.v_threshold
            if reset == "hard":
                v[i] = np.where(spike, d.v_reset, v[i])
            elif reset == "soft":
                v[i] = v[i] - spike * d.v_threshold
            z[i] = spike.astype(np.float64)
            out[i][..., t] = z[i]
            sig = z[i]
    return out

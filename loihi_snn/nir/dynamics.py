"""NIR's neuron equations at a time step ``dt``: the one discretisation that the float
reference (:mod:`loihi_snn.nir.reference`) runs and the lowering
(:mod:`loihi_snn.nir.lower`) turns into Loihi integers.

NIR's nodes are continuous-time ODEs.  At step ``dt`` (forward Euler; the current of a
``CubaLIF`` is updated first and the voltage sees the new current, as snnTorch's
``Synaptic`` and Loihi's CUBA neuron do) every neuron type becomes::

    u <- (1 - du) * u + a * x          x: the synaptic input of this step (weights + bias)
    v <- (1 - dv) * v + b * u + c
    z <- v > v_threshold
    v <- v_reset where z  (reset "hard", NIR's own rule)
         v - v_threshold where z  (reset "soft": snnTorch's default "subtract")
         v  (reset "none")

with, per node type (all values per neuron)::

    LIF      du = 1,            a = 1,                dv = dt/tau,      b = r dt/tau,      c = dv v_leak
    IF       du = 1,            a = 1,                dv = 0,           b = r dt,          c = 0
    Threshold du = 1,           a = 1,                dv = 1,           b = 1,             c = 0
             (stateless: v is this step's input; v_threshold = threshold)
    CubaLIF  du = dt/tau_syn,   a = w_in dt/tau_syn,  dv = dt/tau_mem,  b = r dt/tau_mem,  c = dv v_leak

snnTorch 1.0 writes ``tau = dt/(1 - beta)``, ``r = tau/dt`` (and ``w_in = tau_syn/dt``)
with ``dt = 1e-4``, so at ``dt = 1e-4`` this is exactly ``v <- beta v + x`` (the
default ``dt`` of :func:`loihi_snn.nir.from_nir`).  Norse 1.1 writes
``tau = dt_norse / tau_mem_inv`` (its own ``dt`` once too many, 1e-3 by default) and
``r = 1``; its ``v <- v + dt_norse tau_mem_inv (x - v)`` is recovered at
``dt = dt_norse**2`` (1e-6).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np

from loihi_snn.core.constants import MAX_DELAY
from loihi_snn.nir.graph import NirError, Stage, type_name


@dataclass
class Dynamics:
    """Per-neuron parameters of one stage's neurons at ``dt`` (arrays of ``shape``)."""
    du: np.ndarray
    a: np.ndarray
    dv: np.ndarray
    b: np.ndarray
    c: np.ndarray
    v_threshold: np.ndarray
    v_reset: np.ndarray
    has_current: bool         # CubaLIF (a synaptic current state) vs LIF / IF


def _param(source: str, stage: Stage, key: str, shape: Tuple[int, ...]) -> np.ndarray:
    """A neuron field as float64 broadcast to the layer shape (scalar, per channel or per
    neuron), or a NirError naming the node and the field."""
    node = stage.neuron
    value = getattr(node, key, None)
    if value is None:
        raise NirError(source, "missing", stage.neuron_name, key)
    v = np.asarray(value, dtype=np.float64)
    if np.isnan(v).any():
        raise NirError(source, "contains NaN", stage.neuron_name, key)
    n = int(np.prod(shape))
    flat = v.reshape(-1)
    if flat.size == 1:
        return np.full(shape, flat[0])
    if flat.size == n:
        return flat.reshape(shape)
    if flat.size == shape[0]:
        return np.broadcast_to(flat.reshape((-1,) + (1,) * (len(shape) - 1)), shape).copy()
    raise NirError(source, f"has {flat.size} values; the layer has shape {shape}",
                   stage.neuron_name, key)


def _ratio(source: str, stage: Stage, key: str, dt: float, tau: np.ndarray) -> np.ndarray:
    if (tau <= 0).any():
        raise NirError(source, "time constants must be > 0", stage.neuron_name, key)
    with np.errstate(divide="ignore"):
        d = np.where(np.isinf(tau), 0.0, dt / tau)
    if (d > 1 + 1e-9).any():
        raise NirError(source, f"dt/{key} = {d.max():.4g} > 1 at dt = {dt:g}: the Euler step "
                               f"is unstable; pass a smaller dt (snnTorch files: 1e-4; Norse "
                               f"1.1 writes tau = dt/tau_mem_inv: use dt = dt_norse**2, e.g. "
                               f"1e-6)", stage.neuron_name, key)
    return np.minimum(d, 1.0)


def stage_dynamics(source: str, stage: Stage, dt: float) -> Dynamics:
    """The :class:`Dynamics` of ``stage``'s neuron node at time step ``dt`` (seconds)."""
    if not dt > 0:
        raise NirError(source, f"dt must be > 0, got {dt}", None, "dt")
    shape = stage.out_shape
    t = type_name(stage.neuron)
    p = lambda key: _param(source, stage, key, shape)  # noqa: E731
    one = np.ones(shape)
    if t == "Threshold":
        return Dynamics(one, one.copy(), one.copy(), one.copy(), np.zeros(shape),
                        p("threshold"), np.zeros(shape), False)
    thr = p("v_threshold")
    v_reset = p("v_reset") if getattr(stage.neuron, "v_reset", None) is not None \
        else np.zeros(shape)
    if t == "LIF":
        dv = _ratio(source, stage, "tau", dt, p("tau"))
        return Dynamics(one, one.copy(), dv, p("r") * dv, dv * p("v_leak"), thr, v_reset, False)
    if t == "IF":
        return Dynamics(one, one.copy(), np.zeros(shape), p("r") * dt, np.zeros(shape), thr,
                        v_reset, False)
    if t == "CubaLIF":
        du = _ratio(source, stage, "tau_syn", dt, p("tau_syn"))
        dv = _ratio(source, stage, "tau_mem", dt, p("tau_mem"))
        return Dynamics(du, p("w_in") * du, dv, p("r") * dv, dv * p("v_leak"), thr, v_reset,
                        True)
    raise NirError(source, f"node type {t} has no neuron dynamics here", stage.neuron_name,
                   "type")  # pragma: no cover - normalise() filters types


def delay_steps(source: str, stage: Stage, dt: float) -> np.ndarray:
    """A stage's NIR ``Delay`` (seconds) in whole steps of ``dt`` (per input or per
    output), or a NirError naming the node: not whole steps, negative, or beyond Loihi's
    axonal delay limit."""
    d = np.asarray(stage.delay, dtype=np.float64) / dt
    steps = np.round(d)
    if not np.allclose(d, steps, rtol=0, atol=1e-6):
        raise NirError(source, f"delays must be whole steps of dt = {dt:g} s, found "
                               f"{d[np.abs(d - steps) > 1e-6][0]:.4g} steps",
                       stage.delay_name, "delay")
    if steps.min(initial=0) < 0 or steps.max(initial=0) > MAX_DELAY:
        raise NirError(source, f"delays must be 0..{MAX_DELAY} steps (Loihi 2's axonal delay), "
                               f"found {int(steps.min())}..{int(steps.max())}",
                       stage.delay_name, "delay")
    return steps.astype(np.int64)

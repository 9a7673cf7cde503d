"""``loihi-snn import --check``: the NIR graph in float beside the fixed-point network.

:func:`check_import` runs the float reference of NIR's equations
(:func:`loihi_snn.nir.reference.simulate`) and the bit-exact emulator of Lava
``fixed_pt`` (:func:`loihi_snn.emulate`, equal to ``loihi_snn.run`` with backend
``lava-fixed``) on the same inputs.  Lava's output of spiking layer ``i`` lags NIR's by
``i + 1`` steps (one per synapse), so the fixed-point run gets that many extra zero
steps and its spikes are compared after the shift (a layer's always-on neurons, which
feed a CubaLIF current bias to the next, are left out of the comparison).  The fixed-point run uses the file's
layer start (``layer_start``: ``first_input``, the default of :func:`~loihi_snn.nir.from_nir`,
starts each layer with its first input, as NIR does; ``step_1`` starts every layer at
step 1, so a layer with a bias integrates it ``i + 1`` steps early).
"""
from __future__ import annotations

from typing import Any, Dict, List

import numpy as np

from loihi_snn.core.errors import ShapeError
from loihi_snn.netx.schema import NetSpec, read_netx
from loihi_snn.nir.graph import Chain
from loihi_snn.nir.reference import simulate
from loihi_snn.sim.emulator import emulate


def fixed_layer_spikes(net_path: str, x: np.ndarray, steps: int) -> List[np.ndarray]:
    """Every spiking layer's fixed-point spikes, (N, *shape, steps) each: the emulator
    run on each prefix of the network (prefixes are networks of their own)."""
    spec = read_netx(net_path)
    out = []
    for k, layer in enumerate(spec.layers):
        if layer.neuron is None or layer.type == "input":
            continue
        sub = NetSpec(spec.path, spec.layers[:k + 1], spec.input_shape, tuple(layer.shape), {},
                      layer_start=spec.layer_start)
        out.append(np.asarray(emulate(sub, x, steps)))
    return out


def integer_input(x: Any, shape) -> np.ndarray:
    """``x`` as int64 (N, *shape, T); float inputs must hold integers (spikes or graded)."""
    x = np.asarray(x)
    if x.ndim != len(shape) + 2 or tuple(x.shape[1:-1]) != tuple(shape):
        raise ShapeError(f"inputs must have shape (N, {', '.join(map(str, shape))}, T), time "
                         f"last; got {x.shape}")
    if not np.isfinite(x).all() or not np.array_equal(x, np.round(x)):
        raise ShapeError("inputs must be integers (binary spikes or graded integer values) to "
                         "run in fixed point; scale and round them first")
    return x.astype(np.int64)


def check_import(chain: Chain, net_path: str, x: np.ndarray, *, dt: float,
                 reset: str) -> Dict[str, Any]:
    """Float NIR reference vs fixed-point network on inputs ``x`` (N, *input_shape, T).

    Returns a dict: ``prediction_agreement`` (argmax of output spike counts equal),
    ``float_predictions`` / ``fixed_predictions`` (lists), and ``layers``: per spiking
    layer ``spike_agreement`` (fraction of neuron-steps with equal spikes after the
    shift) and spikes per sample in float and fixed point.
    """
    x = integer_input(x, chain.input_shape)
    T = x.shape[-1]
    ref = simulate(chain, x, dt=dt, reset=reset)
    delay = len(ref)
    fixed = fixed_layer_spikes(net_path, x, T + delay)
    layers = []
    for i, (r, f) in enumerate(zip(ref, fixed)):
        # always-on neurons (a CubaLIF current bias) sit after the graph's neurons
        f = f[:, :r.shape[1]][..., i + 1:i + 1 + T].astype(np.float64)
        layers.append({"layer": i, "spike_agreement": float(np.mean(r == f)),
                       "float_spikes_per_sample": float(r.sum() / len(x)),
                       "fixed_spikes_per_sample": float(f.sum() / len(x))})
    pf = ref[-1].reshape(len(x), -1, T).sum(-1).argmax(1)
    pq = fixed[-1][..., delay:delay + T].reshape(len(x), -1, T).sum(-1).argmax(1)
    return {"samples": int(len(x)), "steps": int(T), "output_delay": delay,
            "prediction_agreement": float(np.mean(pf == pq)),
            "float_predictions": pf.tolist(), "fixed_predictions": pq.tolist(),
            "layers": layers}

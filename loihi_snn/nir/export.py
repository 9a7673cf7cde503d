"""Export a NetX network of ours to NIR (:func:`to_nir`).

Units: NIR's ``v`` is our integer voltage (weight units: the file's integer weights,
thresholds ``vThMant``), written with snnTorch's convention ``dt = 1e-4`` so that
snnTorch's importer (``snntorch.import_nirtorch.import_from_nir``) rebuilds the same
``beta`` / ``alpha``:

- a CUBA / LIF layer whose current holds one step's input (``iDecay = 4096``) becomes
  ``LIF`` (``tau = dt / (vDecay/4096)``, ``r = tau/dt``); otherwise ``CubaLIF``
  (``tau_syn = dt / (iDecay/4096)``, ``w_in = tau_syn/dt``, ``tau_mem``, ``r`` likewise);
  no leak (``vDecay = 0``) is written as ``tau = 2**30 dt`` (``beta`` rounds to 1 in
  float32), because snnTorch imports NIR's ``IF`` as a leaky neuron;
- ``dense`` -> ``Affine`` (bias = the layer's bias, zero when absent), ``dense_rec`` ->
  ``Affine`` + a ``Linear`` recurrent node in a cycle with its neuron (flat dotted names,
  as snnTorch's ``RLeaky``/``RSynaptic``), ``conv`` -> ``Conv2d``, ``pool`` -> a
  depthwise ``Conv2d`` (NIR has no weighted pooling), ``flatten`` -> ``Flatten``;
- NIR has no reset mode: a "soft" / "none" layer is exported with ``v_reset = 0`` and
  the mode in the node's ``metadata["loihi_snn.reset"]`` (a reader that ignores it resets
  to zero);
- the file's ``layer_start`` goes to every neuron node's ``metadata["loihi_snn.layer_start"]``
  (:func:`~loihi_snn.nir.from_nir` takes it from there, so a re-import starts its layers
  as the file did).

Refused with one line naming the layer and the field: ternary spikes, ASA gates,
sigma-delta neurons, ``average`` layers, axonal delays, input layers with neurons, a bias
into a synaptic current.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import numpy as np

from loihi_snn.core.args import check_path
from loihi_snn.core.constants import DECAY_UNITY
from loihi_snn.core.paths import output_path
from loihi_snn.core.errors import NetxFormatError
from loihi_snn.core.files import atomic_path
from loihi_snn.families.lif_common import lif_netx_dynamics
from loihi_snn.netx.lower import broadcast_to_layer
from loihi_snn.netx.schema import LayerSpec, read_netx
from loihi_snn.nir.graph import require_nir

EXPORT_DT = 1e-4             # snnTorch's dt (tau = dt / (1 - beta))
NO_LEAK_TAU = EXPORT_DT * 2.0 ** 30


def _refuse(path: str, layer: LayerSpec, field: str, what: str) -> None:
    raise NetxFormatError(path, f"{what} cannot be represented in NIR; to_nir refuses it",
                          layer.index, field)


def _neuron_node(path: str, layer: LayerSpec, n: int, has_bias: bool):
    nir = require_nir()
    p = layer.neuron.params
    ntype = layer.neuron.type
    if ntype == "TERNARY":
        _refuse(path, layer, "neuron/type", "ternary spikes (+-1, learned amplitude)")
    if ntype not in ("CUBA", "LOIHI", "LIF"):
        _refuse(path, layer, "neuron/type", f"{ntype} neurons")
    dyn = lif_netx_dynamics(ntype, p)           # the family's own decoding
    reset = dyn.reset
    du, dv = dyn.i_decay / DECAY_UNITY, dyn.v_decay / DECAY_UNITY
    tau_mem = EXPORT_DT / dv if dv > 0 else NO_LEAK_TAU
    ones = np.ones(n)
    thr = float(p["vThMant"]) * ones
    meta = {"loihi_snn.reset": reset, "loihi_snn.netx_neuron": ntype}
    if du >= 1:
        node = nir.LIF(tau=tau_mem * ones, r=tau_mem / EXPORT_DT * ones, v_leak=0 * ones,
                       v_threshold=thr, v_reset=0 * ones)
    else:
        if has_bias:
            _refuse(path, layer, "bias", "a bias with a decaying synaptic current (Loihi adds "
                                         "its bias to v; NIR's CubaLIF bias enters the current)")
        tau_syn = EXPORT_DT / du
        node = nir.CubaLIF(tau_syn=tau_syn * ones, tau_mem=tau_mem * ones,
                           r=tau_mem / EXPORT_DT * ones, v_leak=0 * ones, v_threshold=thr,
                           v_reset=0 * ones, w_in=tau_syn / EXPORT_DT * ones)
    node.metadata = meta
    return node


def _bias(layer: LayerSpec) -> np.ndarray:
    b = broadcast_to_layer(layer.fields.get("bias"), tuple(layer.shape))
    return np.zeros(int(np.prod(layer.shape))) if b is None else b.reshape(-1).astype(np.int32).astype(np.float64)


def netx_to_graph(net_path: str):
    """A ``nir.NIRGraph`` of the NetX file ``net_path`` (see the module docstring)."""
    nir = require_nir()
    path = os.fspath(net_path)
    spec = read_netx(path)
    nodes: Dict[str, Any] = {"input": nir.Input(input_type=np.asarray(spec.input_shape))}
    edges: List[Tuple[str, str]] = []
    prev = "input"
    for layer in spec.layers:
        name = f"layer{layer.index}"
        if layer.type == "input":
            if layer.neuron is not None or "weight" in layer.fields or "bias" in layer.fields:
                _refuse(path, layer, "neuron", "an input layer with neurons (SLAYER's Input block)")
            continue
        if layer.type == "average":
            _refuse(path, layer, "type", "an 'average' (population sum) layer")
        if layer.type == "concat":
            _refuse(path, layer, "type", "a 'concat' (skip connection) layer: NIR 1.0.8 has no "
                                         "concatenation node (edges into a node are summed)")
        if layer.type in ("convT", "unpool"):
            _refuse(path, layer, "type", f"a '{layer.type}' (transposed conv) layer: NIR 1.0.8 "
                                         f"has no transposed-conv node")
        if layer.type == "flatten":
            nodes[name] = nir.Flatten(input_type={"input": np.asarray(layer.in_shape)},
                                      start_dim=0, end_dim=-1)
            edges.append((prev, name))
            prev = name
            continue
        if "delay" in layer.fields:
            _refuse(path, layer, "delay", "axonal delays")
        if "asa" in layer.fields:
            _refuse(path, layer, "asa", "an ASA gate")
        n = int(np.prod(layer.shape))
        bias = _bias(layer)
        w = layer.fields["weight"].astype(np.float64)
        if layer.type in ("dense", "dense_rec"):
            syn = nir.Affine(weight=w, bias=bias.reshape(layer.shape))
        elif layer.type == "conv":
            f = layer.fields
            cb = bias.reshape(layer.shape)[:, 0, 0]
            if not np.allclose(bias.reshape(layer.shape[0], -1), cb.reshape(-1, 1)):
                _refuse(path, layer, "bias", "a per-neuron conv bias (NIR's Conv2d bias is per channel)")
            syn = nir.Conv2d(input_shape=tuple(layer.in_shape[1:]), weight=w, stride=f["stride"],
                             padding=f["padding"], dilation=f["dilation"], groups=int(f["groups"]),
                             bias=cb)
        else:   # pool: a shared kernel -> depthwise conv
            f = layer.fields
            c = layer.shape[0]
            k = np.broadcast_to(w, (c, 1) + tuple(w.shape[-2:])).copy()
            syn = nir.Conv2d(input_shape=tuple(layer.in_shape[1:]), weight=k, stride=f["stride"],
                             padding=f["padding"], dilation=f["dilation"], groups=c,
                             bias=bias.reshape(layer.shape)[:, 0, 0])
        neuron = _neuron_node(path, layer, n, bool(np.any(bias)))
        neuron.metadata["loihi_snn.layer_start"] = spec.layer_start
        if layer.type == "conv" or layer.type == "pool":
            neuron = _reshape_neuron(neuron, tuple(layer.shape))
            # nir 1.0.8 computes a Conv2d's output type from weight.shape[2] in both
            # dimensions: set the true (C, H, W) for non-square kernels
            syn.output_type = {"output": np.asarray(layer.shape)}
        nodes[f"{name}.synapse"] = syn
        edges.append((prev, f"{name}.synapse"))
        nodes[f"{name}.lif"] = neuron
        edges.append((f"{name}.synapse", f"{name}.lif"))
        if layer.type == "dense_rec":
            nodes[f"{name}.w_rec"] = nir.Linear(weight=layer.fields["weight_rec"].astype(np.float64))
            edges += [(f"{name}.lif", f"{name}.w_rec"), (f"{name}.w_rec", f"{name}.lif")]
        prev = f"{name}.lif"
    nodes["output"] = nir.Output(output_type=np.asarray(spec.output_shape))
    edges.append((prev, "output"))
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    graph.metadata = {"producer": "loihi_snn.nir.to_nir", "source": path,
                      "dt": EXPORT_DT, "output_delay_on_lava": sum(
                          1 for l in spec.layers if l.type not in ("input", "flatten"))}
    return graph


def _reshape_neuron(node, shape):
    """A conv layer's neuron node with (C, H, W) parameter arrays."""
    for key in ("tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"):
        if hasattr(node, key):
            setattr(node, key, np.asarray(getattr(node, key)).reshape(shape))
    node.input_type = {"input": np.asarray(shape)}
    node.output_type = {"output": np.asarray(shape)}
    return node


def to_nir(net_path: str, out: str = None):
    """Export the NetX network ``net_path`` to NIR.

    Parameters
    ----------
    net_path : str
        a ``.net`` file (validated by :func:`loihi_snn.read_netx`).
    out : str, optional
        write the graph to this ``.nir`` file (atomically).

    Returns
    -------
    nir.NIRGraph
        the graph (also written to ``out`` when given).  Raises
        :class:`~loihi_snn.NetxFormatError` naming the layer and field of anything NIR
        cannot represent.
    """
    net_path = check_path(net_path, "net_path")
    if out is not None:       # the destination is checked before any work
        out = output_path(check_path(out, "out"), ext=None)
    nir = require_nir()
    graph = netx_to_graph(net_path)
    if out is not None:
        with atomic_path(out, suffix=".nir") as tmp:
            nir.write(tmp, graph)
    return graph

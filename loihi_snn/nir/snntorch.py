"""snnTorch interop: run a NIR file in snnTorch's own neurons exactly as Loihi does, and
the fix-ups snnTorch 1.0's exporter and importer need.

- :func:`snntorch_loihi_exact` -- a :func:`loihi_snn.nir.to_nir` file as snnTorch
  modules with Loihi's reset: a soft-reset ``LIF`` as :func:`soft_reset_rleaky`
  (``RLeaky`` without reset and a self-connection ``V = -beta * threshold``), a
  soft-reset ``CubaLIF`` as its current (:class:`SynapticCurrent`) into one, hard-reset
  nodes as snnTorch converts them, a recurrent weight wired as the graph's loop
  (:class:`WiredRecurrent`).  Spike for spike equal to NIR's equations with Loihi's
  reset (``tests/e2e/test_nir_snntorch_reimport.py``).
- :func:`run_snntorch` / :func:`reset_snntorch` -- run a network of ``init_hidden``
  modules over the last (time) axis, output spike counts.
- :func:`batch_flatten` -- snnTorch's ``import_from_nir`` flattens across the batch;
  :func:`honour_reset_metadata` -- its neurons with the reset mode our files record;
  :func:`extract_graph` -- a conv net through snnTorch's extractor where its
  ``export_to_nir`` fails (:func:`numpy_graph` makes the result writable by ``nir.write``).

snnTorch (and nirtorch for :func:`extract_graph`) are optional: imported on first use,
a missing one is one :class:`~loihi_snn.nir.graph.NirError` line saying how to install it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from loihi_snn.nir.graph import NirError, conv_output_shape, normalise, read_graph, require_nir
from loihi_snn.nir.lower import DEFAULT_DT

__all__ = ["SNNTORCH_DT", "SynapticCurrent", "WiredRecurrent", "batch_flatten",
           "extract_graph", "honour_reset_metadata", "numpy_graph", "require_snntorch",
           "reset_snntorch", "run_snntorch", "snntorch_loihi_exact", "soft_reset_rleaky"]

#: snnTorch's time step as its NIR exporter and importer assume it (tau = dt / (1 - beta))
SNNTORCH_DT = DEFAULT_DT


def require_snntorch():
    """The optional ``snntorch`` package, or a one-line NirError saying how to install it."""
    try:
        import snntorch  # lazy: optional (the `nir` extra), only for snnTorch interop
    except ImportError:
        raise NirError("snntorch", "the 'snntorch' package is not installed: pip install "
                                   "'loihi-snn[nir]' (or pip install snntorch==1.0.0)") from None
    return snntorch


def _require_nirtorch():
    try:
        import nirtorch  # lazy: optional (the `nir` extra), only for extract_graph
    except ImportError:
        raise NirError("nirtorch", "the 'nirtorch' package is not installed: pip install "
                                   "'loihi-snn[nir]' (or pip install nirtorch==2.6)") from None
    return nirtorch


class WiredRecurrent(torch.nn.Module):
    """An snnTorch neuron module with its recurrent weight fed back as the graph's cycle
    says: ``lif(x + w_rec(previous spikes))``."""

    def __init__(self, lif, w_rec):
        super().__init__()
        self.lif, self.w_rec, self.prev = lif, w_rec, None

    def forward(self, x):
        if self.prev is None or self.prev.shape != x.shape:
            self.prev = torch.zeros_like(x)
        out = self.lif(x + self.w_rec(self.prev))
        out = out[0] if isinstance(out, tuple) else out
        self.prev = out
        return out


def reset_snntorch(net) -> None:
    """Zero the state of every snnTorch neuron (``init_hidden``) and recurrent loop of
    ``net`` before a new batch."""
    snn = require_snntorch()
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron) and hasattr(m, "reset_mem") and hasattr(m, "mem"):
            m.reset_mem()
        if isinstance(m, WiredRecurrent):
            m.prev = None


def run_snntorch(net, x: torch.Tensor) -> torch.Tensor:
    """Output spike counts (B, classes) of an snnTorch net (``init_hidden``) over x's last axis."""
    reset_snntorch(net)
    counts = 0
    for t in range(x.shape[-1]):
        out = net(x[..., t])
        out = out[0] if isinstance(out, tuple) else out
        counts = counts + out
    return counts


def soft_reset_rleaky(tau, v_threshold, dt: float = SNNTORCH_DT):
    """Loihi's soft reset as one of snnTorch's own neurons: ``RLeaky`` without reset and a
    one-to-one self-connection ``V = -beta * threshold``.

    Loihi: ``v[t] = beta * (v[t-1] - threshold * s[t-1]) + I[t]``, spike when ``v[t]``
    crosses the threshold; ``RLeaky(reset_mechanism="none", all_to_all=False, V=V)``:
    ``mem[t] = beta * mem[t-1] + I[t] + V * spk[t-1]``, the same with ``V = -beta *
    threshold``.  (snnTorch's ``subtract`` reset differs once ``v`` stays above the
    threshold after a spike: it subtracts again before the next test.)  ``beta`` and the
    threshold as snnTorch's importer reads them from a NIR ``LIF`` node's ``tau`` and
    ``v_threshold`` (``beta = 1 - dt / tau``; a ``CubaLIF``: its ``tau_mem``)."""
    snn = require_snntorch()
    beta = torch.as_tensor(1.0 - dt / np.asarray(tau, dtype=np.float64), dtype=torch.float32)
    vth = float(np.unique(v_threshold)[0])
    return snn.RLeaky(beta=beta, threshold=vth, V=-beta * vth, all_to_all=False,
                      reset_mechanism="none", reset_delay=False, init_hidden=True,
                      learn_beta=False, learn_threshold=False, learn_recurrent=False)


class SynapticCurrent(torch.nn.Module):
    """A CubaLIF's synaptic current ``I[t] = alpha * I[t-1] + x[t]`` as snnTorch's own
    ``Leaky`` without reset and with an unreachable threshold (its membrane is the
    current)."""

    def __init__(self, alpha):
        super().__init__()
        snn = require_snntorch()
        self.leaky = snn.Leaky(beta=alpha, threshold=float("inf"), reset_mechanism="none",
                               init_hidden=True, output=True, learn_beta=False)

    def forward(self, x):
        return self.leaky(x)[1]


def snntorch_loihi_exact(path: str, dt: float = SNNTORCH_DT):
    """snnTorch's own neurons, composed so that a :func:`~loihi_snn.nir.to_nir` file runs
    with Loihi's reset: each synapse converted by snnTorch's ``_nir_to_snntorch_module``; a
    soft-reset ``LIF`` as :func:`soft_reset_rleaky`; a soft-reset ``CubaLIF`` as its current
    (:class:`SynapticCurrent`, ``alpha = 1 - dt / tau_syn``) into :func:`soft_reset_rleaky`
    (``beta = 1 - dt / tau_mem``): snnTorch's ``RSynaptic`` cannot do it, its
    self-connection would enter the decaying current; hard-reset nodes as snnTorch
    converts them; a recurrent weight wired as the graph's loop (:class:`WiredRecurrent`,
    into the current, one step late as on Loihi).

    Returns a ``torch.nn.Sequential`` (run it with :func:`run_snntorch`); its ``built``
    attribute says per spiking layer what was built.  A reset mode other than soft or
    hard is a NirError.
    """
    require_snntorch()
    from snntorch import import_nir as sin   # lazy: optional dependency
    nir = require_nir()
    graph, _ = read_graph(path)
    mods, built = [], []
    for stage in normalise(graph).stages:
        if stage.kind == "flatten":
            mods.append(torch.nn.Flatten())
            continue
        node = graph.nodes[stage.neuron_name]
        mode = (node.metadata or {}).get("loihi_snn.reset", "hard")
        built.append(("Leaky current -> " if mode == "soft" and isinstance(node, nir.CubaLIF)
                      else "") + ("RLeaky (V = -beta * threshold)" if mode == "soft" else
                                  "snnTorch's conversion")
                     + (", loop wired" if stage.recurrent_name else ""))
        mods.append(sin._nir_to_snntorch_module(graph.nodes[stage.synapse_name],
                                                init_hidden=True))
        if mode == "soft" and isinstance(node, nir.CubaLIF):
            alpha = torch.as_tensor(1.0 - dt / np.asarray(node.tau_syn, np.float64),
                                    dtype=torch.float32)
            neuron = torch.nn.Sequential(SynapticCurrent(alpha),
                                         soft_reset_rleaky(node.tau_mem, node.v_threshold, dt))
        elif mode == "soft":
            neuron = soft_reset_rleaky(node.tau, node.v_threshold, dt)
        elif mode == "hard":
            neuron = sin._nir_to_snntorch_module(node, init_hidden=True)
        else:
            raise NirError(str(path), f"reset {mode!r} has no snnTorch build here (soft or "
                                      f"hard)", stage.neuron_name, "metadata")
        if stage.recurrent_name:
            neuron = WiredRecurrent(neuron, sin._nir_to_snntorch_module(
                graph.nodes[stage.recurrent_name], init_hidden=True))
        mods.append(neuron)
    net = torch.nn.Sequential(*mods)
    net.built = "; ".join(f"{n}: {b}" for n, b in enumerate(built))
    return net


def batch_flatten(net) -> int:
    """snnTorch 1.0's importer maps NIR ``Flatten(start_dim, end_dim)`` (dimensions
    without the batch, as its own exporter writes them: ``start_dim - 1``) to
    ``torch.nn.Flatten(start_dim, end_dim)`` with the batch dimension, so a batched input
    is flattened over the batch too; shift them by one, as its exporter does the other
    way.  Returns the number of modules changed."""
    changed = 0
    for m in net.modules():
        if isinstance(m, torch.nn.Flatten) and m.start_dim >= 0:
            m.start_dim += 1
            changed += 1
    return changed


def honour_reset_metadata(net, graph) -> int:
    """Apply the ``loihi_snn.reset`` metadata of the neuron nodes (NIR cannot say
    "subtract") to the snnTorch modules that snnTorch's importer built with reset "zero"
    (module names: the node names with '.' -> '_', possibly inside a recurrent
    sub-module).  Returns the number of modules changed."""
    snn = require_snntorch()
    modules = {n.split(".")[-1]: m for n, m in net.named_modules()}
    changed = 0
    for name, node in graph.nodes.items():
        mode = (getattr(node, "metadata", None) or {}).get("loihi_snn.reset")
        mod = modules.get(name.replace(".", "_"))
        if mode not in ("soft", "none") or not isinstance(mod, snn.SpikingNeuron):
            continue
        mod.reset_mechanism = "subtract" if mode == "soft" else "none"
        mod.state_function = mod._base_sub if mode == "soft" else mod._base_int
        changed += 1
    return changed


def numpy_graph(graph):
    """Tensors -> numpy and a batch dimension out of Input/Output types, then nir's own
    type inference: what snnTorch's conv export (run without its failing
    ``infer_types``) needs before ``nir.write`` can store it."""
    nir = require_nir()
    for node in graph.nodes.values():
        for key, value in list(vars(node).items()):
            if isinstance(value, torch.Tensor):
                setattr(node, key, value.detach().numpy())
        if isinstance(node, (nir.Input, nir.Output)):
            s = np.asarray(node.input_type["input"])
            if len(s) > 1 and s[0] == 1:
                node.input_type, node.output_type = {"input": s[1:]}, {"output": s[1:]}
    # nir 1.0.8 takes a Conv2d kernel as square (weight.shape[2] for both dimensions):
    # give each Conv2d its true output type, in graph order, before nir's inference
    order = [e for e in graph.edges]
    shapes = {k: np.asarray(n.input_type["input"]) for k, n in graph.nodes.items()
              if isinstance(n, nir.Input)}
    for _ in range(len(graph.nodes)):
        for a, b in order:
            node = graph.nodes[b]
            if a in shapes and b not in shapes:
                if isinstance(node, nir.Conv2d):
                    node.input_shape = tuple(int(v) for v in shapes[a][1:])
                    node.input_type = {"input": shapes[a]}
                    node.output_type = {"output": np.asarray(
                        conv_output_shape("<snntorch>", b, node, tuple(shapes[a])))}
                    shapes[b] = node.output_type["output"]
                elif isinstance(node, nir.Flatten):
                    shapes[b] = np.asarray([int(np.prod(shapes[a]))])
                elif isinstance(node, (nir.Affine, nir.Linear)):
                    shapes[b] = np.asarray([node.weight.shape[0]])
                else:
                    shapes[b] = shapes[a]
    graph.infer_types()
    return graph


def extract_graph(net, sample: Any):
    """A NIR graph of an snnTorch conv net through snnTorch's own extractor
    (``nirtorch.extract_nir_graph`` + ``_extract_snntorch_module``), fixed up by
    :func:`numpy_graph`: snnTorch 1.0's ``export_to_nir`` fails on conv nets (its final
    ``infer_types`` raises on the batched ``sample`` a ``Flatten(1)`` needs)."""
    snn = require_snntorch()
    nirtorch = _require_nirtorch()
    from snntorch.export_nir import _extract_snntorch_module  # lazy: optional dependency
    g = nirtorch.extract_nir_graph(net, _extract_snntorch_module, sample, model_name="snntorch",
                                   ignore_submodules_of=[snn.RLeaky, snn.RSynaptic])
    return numpy_graph(g)

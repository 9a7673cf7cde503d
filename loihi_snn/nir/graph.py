"""Read a NIR graph and normalise it into a chain of layers (:class:`Chain`).

NIR (the Neuromorphic Intermediate Representation, package ``nir``) stores a network as
named nodes and directed edges.  What the exporters of the ecosystem really write, and
what this module accepts:

- snnTorch 1.0 (``snntorch.export_nir.export_to_nir``) and Norse 1.1
  (``norse.torch.to_nir``) write flat graphs: ``input`` -> ``Affine``/``Linear``/
  ``Conv2d``/``AvgPool2d``/``SumPool2d``/``Flatten`` -> ``LIF``/``CubaLIF``/``IF`` ->
  ... -> ``output``, with the edges in no particular order;
- snnTorch's ``RLeaky``/``RSynaptic`` come out as *flat dotted* nodes (``lif1.lif``,
  ``lif1.w_rec``) with a recurrent ``Affine`` whose only input and only output is the
  neuron node: a cycle ``lif1.lif -> lif1.w_rec -> lif1.lif``;
- snnTorch's importer (and older exporters) nest the same cycle as a sub-``NIRGraph``
  with its own ``Input``/``Output``: it is inlined here under dotted names;
- the rest of NIR 1.0.8's node list, as Sinabs / Rockpool / Norse write it: ``Scale`` is
  folded into the synapse before or after it (a pool next to one becomes the equal
  depthwise ``Conv2d``), or is the synapse between two neuron nodes (a diagonal
  ``Linear``, a depthwise 1 x 1 ``Conv2d``); ``Conv1d`` is the equal 1 x K ``Conv2d``
  over a (C, 1, L) map (the network's input (C, L) is then given as (C, 1, L));
  ``Delay`` before or after a dense synapse is its axonal delay (whole steps, per input
  or per output); ``Threshold`` is a stateless spiking neuron (v = this step's input).
  The non-spiking ``LI`` / ``CubaLI`` / ``I`` (graded output) are refused in one line.

:func:`normalise` turns such a graph into a :class:`Chain` of :class:`Stage` s (synapse
node, neuron node, optional recurrent node, or a flatten) in execution order, or raises
:class:`NirError` naming the node and the field.  Shapes are file order ((C, H, W) or
(N,)), without a batch dimension.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from loihi_snn.core.errors import LoihiSnnError

SYNAPSE_TYPES = ("Affine", "Linear", "Conv2d", "AvgPool2d", "SumPool2d")
NEURON_TYPES = ("LIF", "CubaLIF", "IF", "Threshold")
#: nodes folded into the synapse next to them: ``Scale`` (a diagonal weight), ``Conv1d``
#: (a 1 x K ``Conv2d`` over a (C, 1, L) map), ``Delay`` (axonal delays of a dense layer)
FOLDED_TYPES = ("Scale", "Conv1d", "Delay")
#: non-spiking neuron nodes, refused with the reason
NON_SPIKING = ("LI", "CubaLI", "I")


class NirError(LoihiSnnError, ValueError):
    """A NIR graph (or one of its nodes) has no form loihi_snn can lower.

    The message names the source, the node and the field, on one line.
    """

    def __init__(self, source: str, message: str, node: Optional[str] = None,
                 field: Optional[str] = None) -> None:
        self.source, self.node, self.field, self.message = str(source), node, field, message
        where = self.source
        if node is not None:
            where += f": node '{node}'"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


@dataclass
class Stage:
    """One layer of the chain, in execution order.

    ``kind`` is ``"dense"``, ``"conv"``, ``"pool"`` or ``"flatten"``.  ``synapse`` /
    ``neuron`` / ``recurrent`` are NIR nodes (None where absent) with their node names;
    ``in_shape`` / ``out_shape`` file order.
    """
    kind: str
    in_shape: Tuple[int, ...]
    out_shape: Tuple[int, ...]
    synapse: Any = None
    synapse_name: Optional[str] = None
    neuron: Any = None
    neuron_name: Optional[str] = None
    recurrent: Any = None
    recurrent_name: Optional[str] = None
    delay: Any = None                 # NIR Delay seconds per input (in_size,) or per output
    delay_side: Optional[str] = None  # "in" (before the synapse) or "out" (after it)
    delay_name: Optional[str] = None
    folded: List[str] = field(default_factory=list)   # Scale / Conv1d nodes folded in

    @property
    def names(self) -> List[str]:
        return [n for n in (self.synapse_name, self.neuron_name, self.recurrent_name,
                            self.delay_name) if n] + list(self.folded)


@dataclass
class Chain:
    """A NIR graph as a chain of stages: ``input_shape`` -> stages -> ``output_shape``."""
    source: str
    input_shape: Tuple[int, ...]
    stages: List[Stage] = field(default_factory=list)

    @property
    def output_shape(self) -> Tuple[int, ...]:
        return self.stages[-1].out_shape

    @property
    def spiking_stages(self) -> List[Stage]:
        return [s for s in self.stages if s.kind != "flatten"]


def require_nir():
    """The optional ``nir`` package, or a NirError saying how to install it."""
    try:
        import nir  # lazy: optional dependency (the `nir` extra), only for NIR files
    except ImportError:
        raise NirError("nir", "the 'nir' package is not installed: pip install "
                              "'loihi-snn[nir]' (or pip install nir)") from None
    return nir


def quote_name(name: str, limit: int = 120) -> str:
    """An object path read from a file, on one line and at most ``limit`` characters."""
    text = " ".join(str(name).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of ``exc``'s message, at most ``limit`` characters."""
    lines = str(exc).splitlines()
    text = lines[0] if lines else ""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def type_name(node: Any) -> str:
    return type(node).__name__


def read_graph(path_or_graph: Any):
    """A ``nir.NIRGraph`` from a ``.nir`` file path or a graph; ``(graph, source)``."""
    nir = require_nir()
    if isinstance(path_or_graph, nir.NIRGraph):
        return path_or_graph, "<NIRGraph>"
    if isinstance(path_or_graph, nir.NIRNode):
        raise NirError("<NIRNode>", f"expected a NIRGraph, got a single {type_name(path_or_graph)} "
                                    f"node; wrap it with nir.NIRGraph.from_list(...)")
    path = os.fspath(path_or_graph)
    if not os.path.lexists(path):
        raise NirError(path, "no such file")
    if os.path.isdir(path):
        raise NirError(path, "is a directory, expected a NIR file (*.nir)")
    from loihi_snn.core.hdf5 import Hdf5Refused, checked_image
    from loihi_snn.netx.schema import MAX_DATASET_BYTES, size_limit
    try:
        # read once into memory and checked (a regular file, every object inside the
        # file, declared sizes within the read limit) before nir reads any data of it
        image = checked_image(path, size_limit("read_bytes"),
                              budget=size_limit("read_bytes"),
                              max_dataset_bytes=MAX_DATASET_BYTES)
    except Hdf5Refused as exc:
        if exc.name is not None:
            raise NirError(path, exc.reason, field=quote_name(exc.name)) from None
        reason = exc.reason
        if reason.startswith(("not an HDF5", "cannot be opened")):
            reason = f"not a readable NIR file ({reason})"
        raise NirError(path, reason) from None
    try:
        try:
            graph = nir.read(io.BytesIO(image))
        except ValueError as exc:
            # nir 1.0.8 infers a Conv2d's output from weight.shape[2] in both dimensions,
            # so a non-square kernel (1 x 5 over a 1 x 40 map is taken as 1 x 1) fails
            # its type check; normalise() computes every shape itself: read unchecked
            if not str(exc).startswith("Type inference error"):
                raise
            graph = nir.read(io.BytesIO(image), type_check=False)
    except Exception as exc:   # nir/h5py raise many kinds; one line for the user
        raise NirError(path, f"not a readable NIR file ({type(exc).__name__}: "
                             f"{_first_line(exc)})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NirError(path, f"the file holds a single {type_name(graph)} node, not a graph")
    return graph, path


def inline_subgraphs(graph) -> Tuple[Dict[str, Any], List[Tuple[str, str]]]:
    """Flat ``(nodes, edges)``: nested ``NIRGraph`` nodes are inlined under dotted names
    (``sub.node``); their own ``Input``/``Output`` nodes are bypassed."""
    nir = require_nir()
    nodes: Dict[str, Any] = {}
    edges: List[Tuple[str, str]] = []
    entry: Dict[str, List[str]] = {}     # subgraph name -> inner nodes fed by its Input
    exit_: Dict[str, List[str]] = {}     # subgraph name -> inner nodes feeding its Output
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = inline_subgraphs(node)
            ins = [k for k, v in inner_nodes.items() if isinstance(v, nir.Input)]
            outs = [k for k, v in inner_nodes.items() if isinstance(v, nir.Output)]
            entry[name] = [b for a, b in inner_edges if a in ins]
            exit_[name] = [a for a, b in inner_edges if b in outs]
            for k, v in inner_nodes.items():
                if k not in ins and k not in outs:
                    nodes[f"{name}.{k}"] = v
            edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in inner_edges
                      if a not in ins and b not in outs]
        else:
            nodes[name] = node
    for a, b in graph.edges:
        srcs = [f"{a}.{x}" for x in exit_[a]] if a in exit_ else [a]
        dsts = [f"{b}.{x}" for x in entry[b]] if b in entry else [b]
        edges += [(s, d) for s in srcs for d in dsts]
    return nodes, list(dict.fromkeys(edges))      # drop duplicates, keep order


def _shape_of(node: Any, key: str) -> Optional[Tuple[int, ...]]:
    types = getattr(node, key, None) or {}
    for v in types.values():
        if v is not None and np.size(v) > 0:
            return tuple(int(s) for s in np.asarray(v).reshape(-1))
    return None


def _pair(value: Any) -> Tuple[int, int]:
    a = np.asarray(value).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def conv_output_shape(source: str, name: str, node: Any, in_shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """(C, H, W) after a Conv2d / AvgPool2d / SumPool2d node of input (C, H, W)."""
    if len(in_shape) != 3:
        raise NirError(source, f"a {type_name(node)} needs a (C, H, W) input, got {in_shape}",
                       name, "input_type")
    c, h, w = in_shape
    if type_name(node) == "Conv2d":
        k = node.weight.shape[-2:]
        if isinstance(node.padding, str):
            raise NirError(source, f"padding '{node.padding}' is not supported; give numbers",
                           name, "padding")
        s, p, d = _pair(node.stride), _pair(node.padding), _pair(node.dilation)
        cout = int(node.weight.shape[0])
    else:
        k = _pair(node.kernel_size)
        s, p, d = _pair(node.stride), _pair(node.padding), (1, 1)
        cout = c
    ho = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    wo = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if ho < 1 or wo < 1:
        raise NirError(source, f"kernel {tuple(k)} does not fit the input {in_shape}", name,
                       "weight" if type_name(node) == "Conv2d" else "kernel_size")
    return (cout, int(ho), int(wo))


#: node fields that hold numbers (arrays or scalars) wherever they appear
NUMERIC_FIELDS = ("weight", "bias", "tau", "tau_syn", "tau_mem", "r", "v_leak", "v_threshold",
                  "v_reset", "w_in", "stride", "dilation", "groups", "kernel_size", "scale",
                  "delay", "threshold")


def _check_numbers(source: str, nodes: Dict[str, Any]) -> None:
    """NirError naming the node and the field unless every numeric field of every node
    holds real numbers (a file may store strings, bytes or objects anywhere)."""
    for name, node in nodes.items():
        for key in NUMERIC_FIELDS:
            value = getattr(node, key, None)
            if value is None:
                continue
            try:
                kind = np.asarray(value).dtype
            except Exception:  # noqa: BLE001 - ragged or odd objects
                kind = None
            if kind is None or kind.kind not in "biuf":
                what = {"S": "bytes", "U": "strings", "O": "Python objects"}.get(
                    getattr(kind, "kind", ""), f"{type(value).__name__}")
                raise NirError(source, f"must hold numbers, found {what}"
                                       f"{f' (dtype {kind})' if kind is not None else ''}",
                               name, key)


def _neuron_size(node: Any) -> int:
    for key in ("v_threshold", "threshold", "tau", "tau_mem", "r"):
        v = getattr(node, key, None)
        if v is not None:
            return int(np.size(v))
    return 0


def conv1d_as_conv2d(source: str, name: str, node: Any):
    """A NIR ``Conv1d`` as the equal ``Conv2d`` over a (C, 1, L) map: weight
    (Cout, Cin/g, K) -> (Cout, Cin/g, 1, K), stride / padding / dilation on the width."""
    nir = require_nir()
    w = np.asarray(node.weight, dtype=np.float64)
    if w.ndim != 3:
        raise NirError(source, f"expected a (Cout, Cin/groups, K) weight, found shape {w.shape}",
                       name, "weight")
    if isinstance(node.padding, str):
        raise NirError(source, f"padding '{node.padding}' is not supported; give numbers",
                       name, "padding")
    one = lambda v: int(np.asarray(v).reshape(-1)[0])  # noqa: E731
    bias = getattr(node, "bias", None)
    return nir.Conv2d(input_shape=None, weight=w[:, :, None, :], stride=(1, one(node.stride)),
                      padding=(0, one(node.padding)), dilation=(1, one(node.dilation)),
                      groups=int(node.groups), bias=None if bias is None else np.asarray(bias))


def _pool_as_conv(node: Any, channels: int):
    """A SumPool2d / AvgPool2d over ``channels`` as the equal depthwise Conv2d (ones or
    1 / (kH kW)), so that a Scale can fold into it."""
    nir = require_nir()
    k = _pair(node.kernel_size)
    value = 1.0 / (k[0] * k[1]) if type_name(node) == "AvgPool2d" else 1.0
    return nir.Conv2d(input_shape=None, weight=np.full((channels, 1) + k, value),
                      stride=_pair(node.stride), padding=_pair(node.padding), dilation=(1, 1),
                      groups=channels, bias=None)


def _per_channel(source: str, name: str, s: np.ndarray, shape: Tuple[int, ...]) -> np.ndarray:
    """A Scale's values per channel of a (C, H, W) map (C,), or a NirError."""
    flat = s.reshape(-1)
    if flat.size == 1:
        return np.full(shape[0], flat[0])
    if flat.size == shape[0]:
        return flat
    if flat.size == int(np.prod(shape)):
        per_c = flat.reshape(shape[0], -1)
        if np.allclose(per_c, per_c[:, :1]):
            return per_c[:, 0]
    raise NirError(source, f"a Scale of a conv map must be one value per channel (or one); "
                           f"found {flat.size} values for shape {shape}", name, "scale")


def scale_synapse(source: str, name: str, scale_node: Any, syn: Any,
                  in_shape: Tuple[int, ...], after: bool):
    """``syn`` with a NIR ``Scale`` folded in: ``after`` (synapse -> Scale) scales its rows
    (outputs) and bias, else (Scale -> synapse) its columns (inputs)."""
    nir = require_nir()
    s = np.asarray(scale_node.scale, dtype=np.float64)
    if not np.isfinite(s).all():
        raise NirError(source, "contains NaN or infinite values", name, "scale")
    t = type_name(syn)
    if t in ("AvgPool2d", "SumPool2d"):
        syn, t = _pool_as_conv(syn, in_shape[0]), "Conv2d"
    if t in ("Affine", "Linear"):
        w = np.asarray(syn.weight, dtype=np.float64)
        n = w.shape[0] if after else w.shape[1]
        flat = s.reshape(-1)
        if flat.size not in (1, n):
            raise NirError(source, f"has {flat.size} values; the synapse has {n} "
                                   f"{'outputs' if after else 'inputs'}", name, "scale")
        bias = getattr(syn, "bias", None) if t == "Affine" else None
        if after:
            w = w * flat.reshape(-1, 1)
            bias = None if bias is None else np.asarray(bias, dtype=np.float64) * flat
        else:
            w = w * flat.reshape(1, -1)
        return nir.Affine(w, bias) if bias is not None else nir.Linear(w)
    w = np.asarray(syn.weight, dtype=np.float64)
    groups = int(syn.groups)
    bias = getattr(syn, "bias", None)
    bias = None if bias is None else np.asarray(bias, dtype=np.float64)
    if after:
        sc = _per_channel(source, name, s, conv_output_shape(source, name, syn, in_shape))
        w = w * sc.reshape(-1, 1, 1, 1)
        bias = None if bias is None else bias.reshape(-1) * sc
    else:
        sc = _per_channel(source, name, s, in_shape)
        cin_g, cout_g = w.shape[1], w.shape[0] // groups
        # output channel o of group g reads input channels g cin_g .. (g + 1) cin_g - 1
        idx = (np.arange(w.shape[0]) // cout_g)[:, None] * cin_g + np.arange(cin_g)[None, :]
        w = w * sc[idx][:, :, None, None]
    return nir.Conv2d(input_shape=None, weight=w, stride=syn.stride, padding=syn.padding,
                      dilation=syn.dilation, groups=groups, bias=bias)


def diagonal_synapse(source: str, name: str, scale_node: Any, shape: Tuple[int, ...]):
    """A ``Scale`` between two neuron nodes as a synapse: a diagonal ``Linear`` on a
    vector, a depthwise 1 x 1 ``Conv2d`` on a (C, H, W) map (one value per channel)."""
    nir = require_nir()
    s = np.asarray(scale_node.scale, dtype=np.float64)
    if len(shape) == 1:
        flat = s.reshape(-1)
        if flat.size not in (1, shape[0]):
            raise NirError(source, f"has {flat.size} values; the layer has {shape[0]}", name,
                           "scale")
        return nir.Linear(np.diag(np.broadcast_to(flat, (shape[0],)).astype(np.float64)))
    sc = _per_channel(source, name, s, shape)
    return nir.Conv2d(input_shape=None, weight=sc.reshape(-1, 1, 1, 1), stride=1, padding=0,
                      dilation=1, groups=shape[0], bias=None)


def _attach_delay(source: str, stage: Stage, delays: Dict[str, Tuple[str, Any]]) -> None:
    """A Delay before (per input) or after (per output) a dense synapse: the stage's
    axonal delays (seconds; the lowering turns them into steps)."""
    if len(delays) > 1:
        raise NirError(source, "Delays on both sides of one synapse; merge them into one",
                       delays["out"][0], "edges")
    side, (name, node) = next(iter(delays.items()))
    if stage.kind != "dense":
        raise NirError(source, f"a Delay is an axonal delay of a dense layer on Loihi; "
                               f"a {stage.kind} layer has none", name, "delay")
    d = np.asarray(node.delay, dtype=np.float64).reshape(-1)
    n = int(np.prod(stage.in_shape if side == "in" else stage.out_shape))
    if d.size not in (1, n):
        raise NirError(source, f"has {d.size} values; the synapse has {n} "
                               f"{'inputs' if side == 'in' else 'outputs'}", name, "delay")
    if side == "out" and type_name(stage.synapse) == "Affine" and \
            getattr(stage.synapse, "bias", None) is not None and np.any(stage.synapse.bias):
        raise NirError(source, "a Delay after a biased Affine delays its bias, and Loihi's "
                               "bias is not delayed; put the Delay before the Affine", name,
                       "delay")
    stage.delay = np.broadcast_to(d, (n,)).copy()
    stage.delay_side, stage.delay_name = side, name


def normalise(path_or_graph: Any) -> Chain:
    """Read a NIR graph (path or ``nir.NIRGraph``) and return it as a :class:`Chain`.

    Recurrent edges (an ``Affine``/``Linear`` whose only input and only output is one
    neuron node) become that stage's ``recurrent``; everything else must form a single
    path from the one ``Input`` to the one ``Output``.  Raises :class:`NirError` naming
    the node and the field for anything else.
    """
    nir = require_nir()
    graph, source = read_graph(path_or_graph)
    nodes, edges = inline_subgraphs(graph)
    _check_numbers(source, nodes)
    for a, b in edges:
        for n in (a, b):
            if n not in nodes:
                raise NirError(source, f"an edge ({a} -> {b}) names a node that does not exist",
                               n, "edges")
    succ: Dict[str, List[str]] = {k: [] for k in nodes}
    pred: Dict[str, List[str]] = {k: [] for k in nodes}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)

    recurrent: Dict[str, str] = {}      # neuron node -> its recurrent weight node
    for name, node in nodes.items():
        if (type_name(node) in ("Affine", "Linear") and len(pred[name]) == 1
                and succ[name] == pred[name] and type_name(nodes[pred[name][0]]) in NEURON_TYPES):
            neuron = pred[name][0]
            if neuron in recurrent:
                raise NirError(source, "two recurrent weight nodes on one neuron node",
                               neuron, "edges")
            recurrent[neuron] = name
    rec_nodes = set(recurrent.values())

    def forward_succ(n: str) -> List[str]:
        return [s for s in succ[n] if s not in rec_nodes]

    inputs = [k for k, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [k for k, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1:
        raise NirError(source, f"expected exactly one Input node, found {len(inputs)}",
                       None, "nodes")
    if len(outputs) != 1:
        raise NirError(source, f"expected exactly one Output node, found {len(outputs)}",
                       None, "nodes")
    in_shape = _shape_of(nodes[inputs[0]], "input_type") or _shape_of(nodes[inputs[0]], "output_type")
    if not in_shape:
        raise NirError(source, "the Input node has no shape", inputs[0], "input_type")

    order: List[str] = []
    current, seen = inputs[0], {inputs[0]}
    while True:
        nxt = forward_succ(current)
        if not nxt:
            if current != outputs[0]:
                raise NirError(source, "the graph ends here without reaching the Output node",
                               current, "edges")
            break
        if len(nxt) > 1:
            raise NirError(source, f"has {len(nxt)} successors ({', '.join(sorted(nxt))}); only "
                                   f"chains (plus recurrent loops onto a neuron) can be lowered",
                           current, "edges")
        current = nxt[0]
        if current in seen:
            raise NirError(source, "a cycle that is not a recurrent weight onto a neuron node",
                           current, "edges")
        if len([p for p in pred[current] if p not in rec_nodes]) > 1:
            raise NirError(source, "has more than one input (a merge); only chains can be lowered",
                           current, "edges")
        seen.add(current)
        if current != outputs[0]:
            order.append(current)
    unused = set(nodes) - seen - rec_nodes
    if unused:
        n = sorted(unused)[0]
        raise NirError(source, "is not on the path from Input to Output", n, "edges")

    # Exporters that trace with a batched sample (Norse's ``to_nir(model, x[None])``,
    # nirtorch with (1, C, H, W)) record the batch dimension in the Input type: drop it.
    first = type_name(nodes[order[0]]) if order else ""
    if (len(in_shape) == 4 or (len(in_shape) == 2 and first in ("Affine", "Linear"))) \
            and in_shape[0] == 1:
        in_shape = in_shape[1:]
    if order and type_name(nodes[order[0]]) == "Conv1d" and len(in_shape) == 2:
        in_shape = (in_shape[0], 1, in_shape[1])      # a (C, L) signal as a (C, 1, L) map
    chain = Chain(source, tuple(in_shape))
    shape = tuple(in_shape)
    pending: Optional[Tuple[str, Any]] = None          # a synapse waiting for its neuron
    pre_scale: Optional[Tuple[str, Any]] = None        # a Scale waiting for its synapse
    delays: Dict[str, Tuple[str, Any]] = {}            # "in" / "out" -> (name, Delay node)
    folded: List[str] = []
    for name in order:
        node = nodes[name]
        t = type_name(node)
        if t == "Conv1d":          # as the equal 1 x K Conv2d, then a synapse like any
            node, t = conv1d_as_conv2d(source, name, node), "Conv2d"
            if len(shape) == 2:
                shape = (shape[0], 1, shape[1])
        if t == "Scale":
            if "out" in delays:
                raise NirError(source, "a Scale after a Delay cannot be folded; put it before "
                                       "the Delay", name, "edges")
            if pending is not None:
                pending = (pending[0], scale_synapse(source, name, node, pending[1],
                                                     shape, after=True))
            elif pre_scale is not None:
                raise NirError(source, "two Scale nodes in a row", name, "edges")
            else:
                pre_scale = (name, node)
            folded.append(name)
        elif t == "Delay":
            side = "in" if pending is None else "out"
            if side in delays:
                raise NirError(source, "two Delay nodes on one side of a synapse", name, "edges")
            delays[side] = (name, node)
        elif t in SYNAPSE_TYPES:
            if pending is not None:
                raise NirError(source, f"two synapse nodes in a row ({pending[0]} -> {name}); "
                                       f"Loihi needs neurons between them", name, "edges")
            if pre_scale is not None:
                node = scale_synapse(source, pre_scale[0], pre_scale[1], node, shape,
                                     after=False)
                pre_scale = None
            pending = (name, node)
        elif t == "Flatten":
            if pending is not None or pre_scale is not None or delays:
                raise NirError(source, "a Flatten between a synapse (or Scale, Delay) and its "
                                       "neurons cannot be lowered", name, "edges")
            start = int(getattr(node, "start_dim", 0))
            if start not in (0, -len(shape)) and len(shape) > 1:
                raise NirError(source, f"only a full flatten of {shape} is supported "
                                       f"(start_dim 0), got start_dim {start}", name, "start_dim")
            out = (int(np.prod(shape)),)
            chain.stages.append(Stage("flatten", shape, out, synapse_name=name))
            shape = out
        elif t in NEURON_TYPES:
            if pending is None and pre_scale is not None:
                # neurons -> Scale -> neurons: the Scale is the synapse (a diagonal weight)
                pending = (pre_scale[0], diagonal_synapse(source, pre_scale[0], pre_scale[1],
                                                          shape))
                folded.remove(pre_scale[0])
                pre_scale = None
            if pending is None:
                raise NirError(source, f"a {t} node needs a synapse node (Affine, Linear, "
                                       f"Conv2d, pooling) before it", name, "edges")
            sname, snode = pending
            st = type_name(snode)
            if st in ("Affine", "Linear"):
                w = np.asarray(snode.weight)
                if w.ndim != 2:
                    raise NirError(source, f"expected a 2-D weight, found shape {w.shape}",
                                   sname, "weight")
                if len(shape) != 1:
                    raise NirError(source, f"an {st} node after a {shape} output needs a "
                                           f"Flatten node before it", sname, "weight")
                if w.shape[1] != shape[0]:
                    raise NirError(source, f"weight has {w.shape[1]} columns but its input "
                                           f"has {shape[0]} values", sname, "weight")
                out, kind = (int(w.shape[0]),), "dense"
            else:
                out = conv_output_shape(source, sname, snode, shape)
                kind = "conv" if st == "Conv2d" else "pool"
            size = _neuron_size(node)
            if size not in (1, int(np.prod(out)), out[0]):
                raise NirError(source, f"has {size} neurons but {sname} gives {out}", name,
                               "v_threshold")
            rec_name = recurrent.get(name)
            rec = nodes[rec_name] if rec_name else None
            if rec is not None:
                if kind != "dense":
                    raise NirError(source, "a recurrent weight is only supported on dense "
                                           "layers", rec_name, "weight")
                wr = np.asarray(rec.weight)
                if wr.shape != (out[0], out[0]):
                    raise NirError(source, f"recurrent weight must be {out[0]}x{out[0]}, found "
                                           f"{wr.shape}", rec_name, "weight")
            stage = Stage(kind, shape, out, snode, sname, node, name, rec, rec_name,
                          folded=list(folded))
            if delays:
                _attach_delay(source, stage, delays)
            chain.stages.append(stage)
            shape, pending, delays, folded = out, None, {}, []
        elif t in NON_SPIKING:
            raise NirError(source, f"a non-spiking readout ({t}: its output is the graded "
                                   f"state v) has no form in this version's Loihi neuron "
                                   f"families, which send spikes; export a spiking readout "
                                   f"(LIF / CubaLIF) and read its spike counts", name, "type")
        else:
            raise NirError(source, f"node type {t} is not supported (supported: "
                                   f"{', '.join(SYNAPSE_TYPES + NEURON_TYPES + FOLDED_TYPES)}, "
                                   f"Flatten)", name, "type")
    if pre_scale is not None or delays:
        n = pre_scale[0] if pre_scale is not None else next(iter(delays.values()))[0]
        raise NirError(source, "the graph ends without neurons after this node; Loihi layers "
                               "end in spiking neurons", n, "edges")
    if pending is not None:
        raise NirError(source, "the graph ends with a synapse without neurons; Loihi layers "
                               "end in spiking neurons", pending[0], "edges")
    if not chain.spiking_stages:
        raise NirError(source, "the graph has no spiking layer", None, "nodes")
    return chain

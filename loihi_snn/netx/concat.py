"""``concat`` layers: skip connections (U-Net-like and DenseNet-like networks) in NetX.

Stock lava-dl netx names the layer type ``concat`` and refuses it (``create_concat``
raises NotImplementedError); SLAYER has no concat block and no format for it.  This is
the superset encoding, written by :class:`loihi_snn.torch.blocks.Concat`::

    /layer/<i>/type     b"concat"
    /layer/<i>/inputs   (k,) int, k >= 1: indices of earlier layers (0 <= j < i), in order
    /layer/<i>/shape    the concatenation: (sum C_j, H, W) for (C_j, H, W) maps of one
                        size (along channels), (sum n_j,) for vectors (along features)

A concat layer has no neurons, no synapses and no state: it routes.  The layer after it
receives the concatenation, as it would receive any previous layer's output; layers
other than ``concat`` keep netx's chain rule (each receives layer ``i - 1``).  Sources may
be any earlier layer but an ``average``: an input layer (the raw input when it has no
neurons), a ``flatten`` (its flat vector), another ``concat``.  A concat cannot be the
first or the last layer.

Timing (the one rule every runner keeps): the concatenation adds **no step**.  At step t
the layer after a concat receives, through its one synapse step, what each source sent
at step t - 1 -- exactly what SLAYER's forward does with ``torch.cat`` of the blocks'
(delay-shifted) outputs, however many blocks each branch has.  So the branches are
aligned as the trainer aligns them, with no compensation in the file: a short branch is
not delayed to match a long one (the network learned with the short branch early).
Lava builds it as one stateless :class:`~loihi_snn.sim.lava.procs.gather.process.Gather`
per source that scatters the source's output into its slice of the consumer's input, in
the same step (an InPort sums what its connections send, and the slices do not
overlap); the emulator concatenates the kept outputs of the sources.

Because branches of different depth reach a layer at different steps, a staggered reset
schedule (one reset per block at its first-input step, how ``lava-fused`` streams many
samples through one lane) would cut a sample in the middle: networks with a concat run
each sample fresh (``lava-fused`` one lane per sample; the per-layer Lava stream resets
every neuron at once through the cutoff controller) and refuse an explicit
``reset_interval`` or ``layer_start = "first_input"`` in one line.

In a flat C-order view of the file's (C, H, W) order a channel concatenation is the
concatenation of the sources' flat vectors, so one rule serves maps and vectors:
:func:`concat_pieces` gives each source's flat slice.  Pure numpy, no Lava.
"""
from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

import numpy as np

from loihi_snn.core.spec import FieldChecker, LayerSpec, NetSpec

#: the layer type
CONCAT = "concat"


def validate_concat(c: FieldChecker, raw: Dict[str, Any], index: int,
                    earlier: Sequence[LayerSpec]) -> LayerSpec:
    """A ``concat`` layer checked against the ``earlier`` layers (0..index-1); one line
    naming file, layer and field for anything wrong.  Returns a :class:`LayerSpec` with
    ``fields["inputs"]`` (a tuple of layer indices) and ``in_shape == shape``."""
    if index == 0:
        c.fail("type", "a concat layer cannot be layer 0: it concatenates earlier layers")
    if "neuron" in raw:
        c.fail("neuron", "a concat layer has no neurons (it only routes earlier layers' "
                         "outputs); put the neurons in the layer after it")
    for key in ("weight", "bias", "delay", "weight_rec"):
        if key in raw:
            c.fail(key, f"a concat layer has no '{key}' (it has no synapses)")
    if not any(l.neuron is not None for l in earlier):
        c.fail("type", "a concat layer needs a layer with neurons before it (the raw "
                       "input alone is the input layer itself)")
    if "inputs" not in raw:
        c.fail("inputs", "missing: a concat layer needs the indices of the layers it "
                         "concatenates, e.g. inputs = [2, 0]")
    v = np.asarray(raw["inputs"])
    if v.dtype.kind not in "iuf" or v.ndim > 1 or v.size == 0:
        c.fail("inputs", f"must be a non-empty list of layer indices, found "
                         f"{np.asarray(v).tolist()!r}"[:200])
    v = v.reshape(-1)
    if v.dtype.kind == "f" and not np.all(np.isfinite(v) & (v == np.round(v))):
        c.fail("inputs", f"layer indices must be integers, found {v.tolist()}"[:200])
    inputs = tuple(int(j) for j in v)
    for j in inputs:
        if not 0 <= j < index:
            c.fail("inputs", f"index {j} is not an earlier layer (0..{index - 1}): a "
                             f"concat takes only layers before it")
        if earlier[j].type == "average":
            c.fail("inputs", f"layer {j} is an 'average' layer (the network's output "
                             f"reduction); a concat cannot take it")
    shapes = [tuple(int(s) for s in earlier[j].shape) for j in inputs]
    ranks = {len(s) for s in shapes}
    if ranks == {3}:
        sizes = {s[1:] for s in shapes}
        if len(sizes) != 1:
            c.fail("inputs", f"concatenates maps along the channels, so their (H, W) must "
                             f"agree; layers {list(inputs)} give {shapes}")
        shape: Tuple[int, ...] = (sum(s[0] for s in shapes),) + shapes[0][1:]
    elif ranks == {1}:
        shape = (sum(s[0] for s in shapes),)
    else:
        c.fail("inputs", f"mixes (C, H, W) maps and vectors (layers {list(inputs)} give "
                         f"{shapes}); flatten the maps first (a flatten layer is a source too)")
    declared = tuple(int(s) for s in np.asarray(raw.get("shape", shape)).reshape(-1))
    if declared != shape:
        c.fail("shape", f"declares {declared} but concatenating layers {list(inputs)} "
                        f"({shapes}) gives {shape}")
    return LayerSpec(index, CONCAT, shape, shape, {"inputs": inputs}, None)


def has_concat(spec: NetSpec) -> bool:
    """True when ``spec`` has a concat layer (its branches need fresh runs, see above)."""
    return any(l.type == CONCAT for l in spec.layers)


def producer(spec: NetSpec, j: int) -> int:
    """The layer whose runner output *is* layer ``j``'s output: ``j`` itself, or for a
    ``flatten`` the layer before it (a flatten is a C-order reshape), recursively."""
    while spec.layers[j].type == "flatten" and j > 0:
        j -= 1
    return j


def concat_pieces(spec: NetSpec, layer: LayerSpec) -> List[Tuple[int, int, int]]:
    """The flat slices of a concat: ``[(source layer, offset, size), ...]`` in the
    file's C-order flat view of the concatenation, a source concat expanded into its
    own pieces and a flatten resolved to its :func:`producer` (so every source named
    produces values of its own: a block, or the raw input as layer 0)."""
    out: List[Tuple[int, int, int]] = []
    offset = 0
    for j in layer.fields["inputs"]:
        src = spec.layers[producer(spec, j)]
        if src.type == CONCAT:
            for k, off, size in concat_pieces(spec, src):
                out.append((k, offset + off, size))
            offset += src.size
            continue
        out.append((src.index, offset, src.size))
        offset += src.size
    return out


def kept_layers(spec: NetSpec) -> List[int]:
    """Layers whose outputs a runner must keep for a later concat (sorted)."""
    return sorted({k for l in spec.layers if l.type == CONCAT
                   for k, _, _ in concat_pieces(spec, l)})


def lava_order(shape: Tuple[int, ...]) -> np.ndarray:
    """For each position of a Lava-order port of file ``shape`` (C, H, W) -> (W, H, C),
    its C-order flat position in file order (vectors: the identity)."""
    n = int(np.prod(shape))
    if len(shape) != 3:
        return np.arange(n, dtype=np.int64)
    return np.arange(n, dtype=np.int64).reshape(shape).transpose(2, 1, 0).reshape(-1)


def scatter_index(src_shape: Tuple[int, ...], src_lava: bool, offset: int,
                  out_shape: Tuple[int, ...], out_lava: bool) -> np.ndarray:
    """The :class:`~loihi_snn.sim.lava.procs.gather.process.Gather` index of one concat
    piece: for each position of the consumer's input port (file ``out_shape``, in Lava
    order when ``out_lava``, else flat file order), the position of the source port
    (file ``src_shape``, Lava order when ``src_lava``) it takes, or -1 outside the
    piece's slice ``offset .. offset + size`` of the flat concatenation."""
    size = int(np.prod(src_shape))
    out_file = lava_order(out_shape) if out_lava else np.arange(int(np.prod(out_shape)))
    rel = out_file - offset
    inside = (rel >= 0) & (rel < size)
    if src_lava and len(src_shape) == 3:
        lava_of_file = np.empty(size, dtype=np.int64)
        lava_of_file[lava_order(src_shape)] = np.arange(size)
    else:
        lava_of_file = np.arange(size, dtype=np.int64)
    return np.where(inside, lava_of_file[np.clip(rel, 0, size - 1)], -1).astype(np.int64)

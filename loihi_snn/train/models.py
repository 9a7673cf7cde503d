"""Build a trainable, exportable spiking network from a layer list.

``build_model(architecture, neuron, input_shape, num_classes)`` turns a list of
layer specs such as::

    [{"type": "dense", "out": 128}, {"type": "dense"}]                  # 64-128-10
    [{"type": "conv", "out": 8, "kernel": 3, "padding": 1},
     {"type": "pool", "kernel": 2}, {"type": "flatten"}, {"type": "dense"}]

into a :class:`SpikingNet` whose ``.blocks`` (a ``torch.nn.ModuleList``) can be
written to NetX with :func:`loihi_snn.torch.export.export_blocks`.  Shapes are
inferred layer by layer from ``input_shape``; a last ``dense`` layer without
``"out"`` gets ``num_classes`` neurons.

The neuron family is chosen by ``neuron["type"]``: a training family registered in
:mod:`loihi_snn.families` (``"cuba"`` builds lava-dl SLAYER ``slayer.block.cuba``
blocks; ``"lif"`` / ``"lif-asa"`` our :mod:`loihi_snn.torch.blocks`).  A family's
``blocks`` names a library in :data:`BLOCK_LIBRARIES` or is a ``make_block`` callable of
its own; its block classes only need SLAYER's constructor conventions (see
:func:`slayer_style_factory`).

Tensors are time last: input ``(N, *input_shape, T)``, output ``(N, classes, T)``.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from loihi_snn import families
from loihi_snn.core.lavadl import lava_dl

__all__ = [
    "BLOCK_LIBRARIES",
    "LAYER_TYPES",
    "ArchitectureError",
    "NeuronType",
    "SpikingNet",
    "build_model",
    "infer_shapes",
    "get_neuron_type",
    "parameter_digest",
    "slayer_style_factory",
]


class ArchitectureError(ValueError):
    """A layer list or neuron spec cannot be built (message names the layer and field)."""


#: Layer types understood by the builder, with the keys each accepts
#: (``type`` and the per-layer ``neuron`` override are accepted by all).
LAYER_TYPES: Dict[str, Tuple[str, ...]] = {
    "dense": ("out", "weight_scale", "weight_norm", "delay"),
    "recurrent": ("out", "weight_scale", "weight_norm"),
    "conv": ("out", "kernel", "stride", "padding", "dilation", "groups", "weight_scale",
             "weight_norm"),
    "pool": ("kernel", "stride", "padding", "weight_scale"),
    "flatten": (),
}

# defaults per layer kind (applied before the family is called); a pool's stride
# defaults to its kernel
_LAYER_DEFAULTS: Dict[str, Dict[str, Any]] = {
    "dense": {"weight_scale": 2, "weight_norm": True, "delay": False},
    "recurrent": {"weight_scale": 2, "weight_norm": False},
    "conv": {"weight_scale": 1, "weight_norm": True, "stride": 1, "padding": 0, "dilation": 1,
             "groups": 1},
    "pool": {"weight_scale": 1, "padding": 0},
    "flatten": {},
}


# ----------------------------------------------------------------------------
# neuron types: the training families registered in loihi_snn.families, each built by
# its block library
# ----------------------------------------------------------------------------

BlockFactory = Callable[..., torch.nn.Module]

_SLAYER_CLASS = {"dense": "Dense", "recurrent": "Recurrent", "conv": "Conv", "pool": "Pool",
                 "flatten": "Flatten"}


def slayer_style_factory(module_getter: Callable[[], Any],
                         class_names: Optional[Dict[str, str]] = None) -> BlockFactory:
    """A ``make_block`` for a module of SLAYER-style block classes.

    Args:
        module_getter: returns the module holding the classes (called lazily, so
            importing a config does not import lava-dl), e.g.
            ``lambda: lava_dl().slayer.block.cuba``.
        class_names: layer kind -> class name (default ``Dense``, ``Recurrent``,
            ``Conv``, ``Pool``, ``Flatten``).

    Returns:
        ``make_block(kind, neuron_params, **kwargs)`` calling
        ``Class(neuron_params, **kwargs)`` (``Flatten()`` takes no arguments).
    """
    names = dict(_SLAYER_CLASS, **(class_names or {}))

    def make_block(kind: str, neuron_params: Dict[str, Any], **kwargs) -> torch.nn.Module:
        module = module_getter()
        cls = getattr(module, names.get(kind, ""), None)
        if cls is None:
            raise ArchitectureError(f"layer type {kind!r} is not available in "
                                    f"{getattr(module, '__name__', module)}")
        if kind == "flatten":
            return cls()
        return cls(neuron_params, **kwargs)

    return make_block


_slayer_cuba_factory = slayer_style_factory(lambda: lava_dl().slayer.block.cuba)


def _our_blocks():
    # lazy: loihi_snn.torch.blocks imports lava-dl (seconds); configs and presets never need it
    from loihi_snn.torch import blocks
    return blocks


_our_factory = slayer_style_factory(_our_blocks)


def _make_slayer_cuba_block(kind: str, neuron_params: Dict[str, Any], **kwargs) -> torch.nn.Module:
    if kind == "recurrent" and kwargs.get("weight_norm"):
        # slayer's Recurrent reads recurrent_synapse.weight without calling the synapse, so a
        # weight-normed recurrent matrix is computed once and never trained (backward fails)
        raise ArchitectureError("a cuba 'recurrent' layer cannot use weight_norm (lava-dl's "
                                "Recurrent block does not support it); set weight_norm false")
    return _slayer_cuba_factory(kind, neuron_params, **kwargs)


def _make_our_block(kind: str, neuron_params: Dict[str, Any], *, asa_conv: bool = False,
                    **kwargs) -> torch.nn.Module:
    gate = {k: neuron_params.pop(k) for k in [k for k in neuron_params if k.startswith("asa_")]}
    if asa_conv and kind == "conv":     # asa_ratio, asa_split, asa_map_bias -> ASAConv
        return _our_blocks().ASAConv(neuron_params, **gate, **kwargs)
    return _our_factory(kind, neuron_params, **kwargs)


def _make_rf_block(kind: str, neuron_params: Dict[str, Any], **kwargs) -> torch.nn.Module:
    """:class:`loihi_snn.torch.blocks.rf.Dense` (SLAYER's rf block, eval forward in
    Loihi's integers): dense layers only, one period and decay per layer."""
    if kind != "dense":
        raise ArchitectureError(f"resonate-and-fire ('rf') networks are built from dense "
                                f"layers (lava's RF takes a complex dense synapse), not {kind!r}")
    if kwargs.pop("delay", False):
        raise ArchitectureError("a resonate-and-fire dense layer has no axonal delays "
                                "(lava-dl's ComplexDense neither); set delay false")
    # lazy: loihi_snn.torch.blocks imports lava-dl (seconds); configs and presets never need it
    from loihi_snn.torch.blocks.rf import Dense
    return Dense(dict(neuron_params, shared_param=True), **kwargs)


#: block library name (``TrainingFamily.blocks``) -> ``make_block``
BLOCK_LIBRARIES: Dict[str, BlockFactory] = {
    "slayer-cuba": _make_slayer_cuba_block,
    "loihi-snn": _make_our_block,
    "loihi-snn-rf": _make_rf_block,
}


@dataclass(frozen=True)
class NeuronType:
    """A training family (:class:`loihi_snn.families.TrainingFamily`) with its block
    factory resolved: ``make_block(kind, neuron_params, **kwargs) -> torch.nn.Module``.

    ``kind`` is one of :data:`LAYER_TYPES`; ``kwargs`` are SLAYER's constructor arguments
    for that kind (``dense``/``recurrent``: ``in_neurons, out_neurons, weight_scale,
    weight_norm`` (+ ``delay`` for dense); ``conv``: ``in_features, out_features,
    kernel_size, stride, padding, dilation, groups, weight_scale, weight_norm``;
    ``pool``: ``kernel_size, stride, padding, weight_scale``; ``flatten``: none).
    """

    name: str
    description: str
    make_block: BlockFactory
    defaults: Dict[str, Any] = field(default_factory=dict)
    allowed_params: Optional[Tuple[str, ...]] = None


def get_neuron_type(name: Any) -> NeuronType:
    """The training family ``name`` (a config's ``neuron["type"]``); the error lists them."""
    tf = families.training_family(name) if isinstance(name, str) else None
    if tf is None:
        valid = "; ".join(f"{k} ({families.TRAINING[k].description})"
                          for k in families.training_names())
        raise ArchitectureError(f"unknown neuron type {name!r}; registered types: {valid}")
    if callable(tf.blocks):
        make = tf.blocks
    else:
        library = BLOCK_LIBRARIES[tf.blocks]
        make = functools.partial(library, asa_conv=True) if tf.asa_conv else library
    return NeuronType(tf.name, tf.description, make, dict(tf.defaults), tf.allowed_params)


def resolve_neuron(neuron: Dict[str, Any]) -> Dict[str, Any]:
    """Neuron spec with the family's defaults filled in; validates the parameter names.

    Returns:
        a new dict ``{"type": name, **defaults, **given}``.
    """
    if not isinstance(neuron, dict) or "type" not in neuron:
        raise ArchitectureError(f"neuron must be a dict with a 'type' key, e.g. "
                                f"{{'type': 'cuba', 'threshold': 1.25}}; got {neuron!r}")
    family = get_neuron_type(neuron["type"])
    params = {k: v for k, v in neuron.items() if k != "type"}
    _check_neuron_params(family, params, "neuron")
    return {"type": family.name, **copy.deepcopy(family.defaults), **params}


def _check_neuron_params(family: NeuronType, params: Dict[str, Any], where: str) -> None:
    if family.allowed_params is None:
        return
    unknown = sorted(set(params) - set(family.allowed_params))
    if unknown:
        raise ArchitectureError(f"{where}: unknown parameter(s) {', '.join(unknown)} for neuron "
                                f"type {family.name!r}; valid: {', '.join(family.allowed_params)}")


# ----------------------------------------------------------------------------
# shape inference
# ----------------------------------------------------------------------------

def _pair(value: Any, where: str, key: str, minimum: int) -> Tuple[int, int]:
    vals = value if isinstance(value, (list, tuple)) else (value, value)
    if (len(vals) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in vals)
            or any(v < minimum for v in vals)):
        raise ArchitectureError(f"{where}: '{key}' must be an integer >= {minimum} or a pair of "
                                f"them, got {value!r}")
    return int(vals[0]), int(vals[1])


def _conv_size(n: int, k: int, s: int, p: int, d: int) -> int:
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def infer_shapes(architecture: Sequence[Dict[str, Any]], input_shape: Sequence[int],
                 num_classes: int) -> List[Dict[str, Any]]:
    """Resolve every layer of ``architecture``: defaults, input and output shapes.

    Args:
        architecture: list of layer dicts (``type`` plus the keys in :data:`LAYER_TYPES`
            and an optional ``neuron`` override dict).
        input_shape: one sample without time: ``(N,)`` or ``(C, H, W)``.
        num_classes: output size; a last dense/recurrent layer without ``out`` gets it.

    Returns:
        list of dicts ``{"index", "type", "in_shape", "out_shape", **resolved keys}``.

    Raises:
        ArchitectureError: unknown type or key, bad value, a dense layer on a 3-D
            input (add a flatten), a conv on a 1-D input, or a last layer whose size
            is not ``num_classes``.
    """
    if not isinstance(architecture, (list, tuple)) or not architecture:
        raise ArchitectureError("architecture must be a non-empty list of layers, e.g. "
                                "[{'type': 'dense', 'out': 128}, {'type': 'dense'}]")
    shape = tuple(int(s) for s in input_shape)
    resolved = []
    for i, layer in enumerate(architecture):
        where = f"architecture[{i}]"
        if not isinstance(layer, dict) or "type" not in layer:
            raise ArchitectureError(f"{where}: expected a dict with a 'type' key "
                                    f"({', '.join(LAYER_TYPES)}), got {layer!r}")
        kind = layer["type"]
        if kind not in LAYER_TYPES:
            raise ArchitectureError(f"{where}: unknown layer type {kind!r}; valid: "
                                    f"{', '.join(LAYER_TYPES)}")
        allowed = LAYER_TYPES[kind]
        unknown = sorted(set(layer) - set(allowed) - {"type", "neuron"})
        if unknown:
            raise ArchitectureError(f"{where} ({kind}): unknown key(s) {', '.join(unknown)}; "
                                    f"valid: {', '.join(('type', 'neuron') + allowed)}")
        if "neuron" in layer and not isinstance(layer["neuron"], dict):
            raise ArchitectureError(f"{where}: 'neuron' must be a dict of parameter overrides")
        r = dict(_LAYER_DEFAULTS[kind])
        r.update({k: v for k, v in layer.items() if k != "type"})
        last = i == len(architecture) - 1
        if kind in ("dense", "recurrent", "conv"):
            out = r.get("out", num_classes if (last and kind != "conv") else None)
            if isinstance(out, bool) or not isinstance(out, int) or out < 1:
                raise ArchitectureError(f"{where} ({kind}): 'out' must be a positive integer "
                                        f"(number of {'channels' if kind == 'conv' else 'neurons'}), "
                                        f"got {out!r}")
            r["out"] = out
        ws = r.get("weight_scale")
        if ws is not None and (isinstance(ws, bool) or not isinstance(ws, (int, float)) or ws <= 0):
            raise ArchitectureError(f"{where}: 'weight_scale' must be a positive number, got {ws!r}")
        for key in ("weight_norm", "delay"):
            if key in r and not isinstance(r[key], bool):
                raise ArchitectureError(f"{where}: '{key}' must be true or false, got {r[key]!r}")
        if kind in ("dense", "recurrent"):
            if len(shape) != 1:
                raise ArchitectureError(f"{where} ({kind}): needs a flat input but gets shape "
                                        f"{shape}; add {{'type': 'flatten'}} before it")
            out_shape: Tuple[int, ...] = (r["out"],)
        elif kind in ("conv", "pool"):
            if len(shape) != 3:
                raise ArchitectureError(f"{where} ({kind}): needs a (C, H, W) input but gets "
                                        f"shape {shape}; use a data set layout with channels "
                                        f"and pixels (e.g. digits layout='image')")
            k = _pair(r.get("kernel"), where, "kernel", 1)
            s = _pair(r.get("stride", k), where, "stride", 1)
            p = _pair(r["padding"], where, "padding", 0)
            d = _pair(r.get("dilation", 1), where, "dilation", 1)
            r.update(kernel=list(k), stride=list(s), padding=list(p))
            if kind == "conv":
                r["dilation"] = list(d)
                g = r.get("groups", 1)
                if isinstance(g, bool) or not isinstance(g, int) or g < 1 or shape[0] % g or r["out"] % g:
                    raise ArchitectureError(f"{where} (conv): 'groups' must divide the input "
                                            f"({shape[0]}) and output ({r['out']}) channels, got {g!r}")
            H = _conv_size(shape[1], k[0], s[0], p[0], d[0])
            W = _conv_size(shape[2], k[1], s[1], p[1], d[1])
            if H < 1 or W < 1:
                raise ArchitectureError(f"{where} ({kind}): output would be empty ({H} x {W}) "
                                        f"for input {shape}; use a smaller kernel or stride")
            out_shape = ((r["out"] if kind == "conv" else shape[0]), H, W)
        else:  # flatten
            out_shape = (int(math.prod(shape)),)
        resolved.append({"index": i, "type": kind, "in_shape": list(shape),
                         "out_shape": list(out_shape), **r})
        shape = out_shape
    if tuple(shape) != (num_classes,):
        raise ArchitectureError(f"the last layer must have {num_classes} outputs (one per class) "
                                f"but has shape {tuple(shape)}; end with {{'type': 'dense'}} "
                                f"(its 'out' defaults to the number of classes)")
    if resolved[-1]["type"] in ("flatten",):
        raise ArchitectureError("the last layer must be a spiking layer (dense or recurrent), "
                                "not a flatten")
    return resolved


# ----------------------------------------------------------------------------
# the network
# ----------------------------------------------------------------------------

def _block_kwargs(layer: Dict[str, Any]) -> Dict[str, Any]:
    kind = layer["type"]
    if kind == "dense":
        return {"in_neurons": layer["in_shape"][0], "out_neurons": layer["out"],
                "weight_scale": layer["weight_scale"], "weight_norm": layer["weight_norm"],
                "delay": layer["delay"]}
    if kind == "recurrent":
        return {"in_neurons": layer["in_shape"][0], "out_neurons": layer["out"],
                "weight_scale": layer["weight_scale"], "weight_norm": layer["weight_norm"]}
    if kind == "conv":
        return {"in_features": layer["in_shape"][0], "out_features": layer["out"],
                "kernel_size": tuple(layer["kernel"]), "stride": tuple(layer["stride"]),
                "padding": tuple(layer["padding"]), "dilation": tuple(layer["dilation"]),
                "groups": layer["groups"], "weight_scale": layer["weight_scale"],
                "weight_norm": layer["weight_norm"]}
    if kind == "pool":
        return {"kernel_size": tuple(layer["kernel"]), "stride": tuple(layer["stride"]),
                "padding": tuple(layer["padding"]), "weight_scale": layer["weight_scale"]}
    return {}


class SpikingNet(torch.nn.Module):
    """A feed-forward stack of spiking blocks (SLAYER conventions, time last).

    Attributes:
        blocks: ``torch.nn.ModuleList`` of exportable blocks, in order.
        layers: the resolved layer dicts from :func:`infer_shapes`.
        neuron: the resolved neuron spec (``{"type": ..., **params}``).
        input_shape: one sample without time, ``(N,)`` or ``(C, H, W)``.
        num_classes: number of output neurons.
        spiking: indices of the blocks that have spiking neurons (counted in
            ``forward(..., return_layers=True)``).
    """

    def __init__(self, blocks: Sequence[torch.nn.Module], layers: List[Dict[str, Any]],
                 neuron: Dict[str, Any], input_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)
        self.layers = layers
        self.neuron = neuron
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)
        self.spiking = [i for i, b in enumerate(self.blocks)
                        if getattr(b, "neuron", None) is not None]

    def reset_state(self) -> None:
        """Zero every neuron's carried-over state, so each forward starts from rest.

        SLAYER keeps ``current_state``/``voltage_state`` buffers (sized to the last
        batch; ``Recurrent`` blocks even carry them across calls).  A block may define
        its own ``reset_state()``, which is called instead.
        """
        for block in self.blocks:
            if hasattr(block, "reset_state"):
                block.reset_state()
                continue
            for module in block.modules():
                for name in ("current_state", "voltage_state", "spike_state"):
                    buf = getattr(module, name, None)
                    if isinstance(buf, torch.Tensor) and name in module._buffers:
                        module._buffers[name] = torch.zeros(1, dtype=buf.dtype, device=buf.device)

    def forward(self, x: torch.Tensor, return_layers: bool = False):
        """Run the network from rest.

        Args:
            x: ``(N, *input_shape, T)`` spikes or integer graded values, float.
            return_layers: also return every spiking block's output.

        Returns:
            output spikes ``(N, num_classes, T)``; with ``return_layers`` a tuple
            ``(output, [spikes of block i for i in self.spiking])``.
        """
        self.reset_state()
        layers = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if return_layers and i in self.spiking:
                layers.append(x)
        return (x, layers) if return_layers else x

    def layer_names(self) -> List[str]:
        """``"<index>:<type>"`` for every spiking block (the order of ``return_layers``)."""
        return [f"{i}:{self.layers[i]['type']}" for i in self.spiking]


def build_model(architecture: Sequence[Dict[str, Any]], neuron: Dict[str, Any],
                input_shape: Sequence[int], num_classes: int) -> SpikingNet:
    """Build the network (weights from torch's current random state).

    Args:
        architecture: layer list, see :func:`infer_shapes`.
        neuron: ``{"type": name, **params}``; the family is looked up in
            :data:`NEURON_TYPES` and its defaults filled in.  A layer's own
            ``neuron`` dict overrides parameters for that layer only.
        input_shape: ``(N,)`` or ``(C, H, W)`` of one sample (no time axis).
        num_classes: number of output neurons.

    Returns:
        a :class:`SpikingNet`.  SLAYER sets some shapes lazily: run one forward pass
        before exporting (:func:`loihi_snn.train.checkpoint.load_checkpoint` does).
    """
    spec = resolve_neuron(neuron)
    family = get_neuron_type(spec["type"])
    base = {k: v for k, v in spec.items() if k != "type"}
    layers = infer_shapes(architecture, input_shape, num_classes)
    blocks = []
    for layer in layers:
        override = layer.get("neuron", {}) or {}
        _check_neuron_params(family, override, f"architecture[{layer['index']}].neuron")
        params = copy.deepcopy({**base, **override})
        with warnings.catch_warnings():   # torch's note that old-style weight_norm is deprecated
            warnings.filterwarnings("ignore", message=".*weight_norm is deprecated.*")
            blocks.append(family.make_block(layer["type"], params, **_block_kwargs(layer)))
    return SpikingNet(blocks, layers, spec, input_shape, num_classes)


def parameter_digest(model: torch.nn.Module) -> str:
    """SHA-256 (hex) of every parameter's bytes, in ``named_parameters`` order.

    Equal digests on two processes mean bit-identical weights (used to check that
    data-parallel ranks stayed in sync).
    """
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()

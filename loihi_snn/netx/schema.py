"""NetX HDF5 schema: read a ``.net`` file into plain dataclasses and validate it.

The layout is lava-dl's NetX format (a superset: our own layer and neuron types
and extension groups live beside the stock ones, and a file that only uses stock
CUBA layers stays loadable by stock ``lava.lib.dl.netx``)::

    /layer/<i>/type        bytes: input | dense | dense_rec | dense_comp | conv | pool | flatten
                           | average | convT | unpool | concat
    /layer/<i>/shape       output shape of the layer, (C, H, W) or (N,)
    /layer/<i>/weight      dense: (out, in); conv: (Cout, Cin/groups, kH, kW[, 1]);
                           pool: scalar or (1, 1, kH, kW); input: scalar;
                           convT: (Cin, Cout/groups, kH, kW[, 1]); unpool: as pool
                           (SLAYER's ConvT / Unpool export, see netx/transposed.py)
    /layer/<i>/bias        optional, per neuron, per channel or scalar
    /layer/<i>/delay       optional (dense): axonal delays, integer steps
    /layer/<i>/weight_rec  dense_rec only: (out, out)
    /layer/<i>/weight/real, /layer/<i>/weight/imag
                           a complex dense layer (dense_comp, or SLAYER's dense): RF neurons
    /layer/<i>/neuron/...  type (CUBA | LOIHI | SDNN | ...), iDecay, vDecay, vThMant, ...
    /layer/<i>/asa/...     conv only, optional: ASA gate (see ``_validate_asa``)
    /layer/<i>/inputs      concat only: indices of the earlier layers it concatenates
                           (along channels for maps, features for vectors; no step of
                           latency: see netx/concat.py)
    @layer_start           optional root attribute, bytes/str: ``step_1`` (absent: every
                           layer starts at Lava step 1, a fresh run) or ``first_input``
                           (each layer starts at the step its first input reaches it,
                           as NIR times its nodes; see ``NetSpec.layer_start``)

Nothing here imports Lava: ``read_netx`` is cheap and is what ``loihi-snn info`` and
the loader use to report errors before any process is built.  All shapes in a
:class:`LayerSpec` are in the file's (SLAYER) order: (C, H, W) for images, (N,) for
vectors.  Lava processes use the reverse (W, H, C); the loader converts.
"""
from __future__ import annotations

from typing import Any, List, Optional, Tuple

import numpy as np

from loihi_snn import families
from loihi_snn.core.args import check_path
from loihi_snn.core.errors import NetxFormatError, OptionError

# the records (NeuronSpec, LayerSpec, NetSpec) and the layer types live in core/spec.py,
# below the families that read them; offered here, where readers have always found them
from loihi_snn.core.spec import (LAYER_STARTS, LAYER_TYPES, LayerSpec, NetSpec,  # noqa: E402,F401
                                 NeuronSpec)
# the schema in parts, one concern each: reading (the safe open, groups as dicts, size
# limits), fields (the checker and its limits), layers (one layer's validation)
from loihi_snn.netx.concat import CONCAT, validate_concat
from loihi_snn.netx.fields import (BIAS_LIMIT, BIAS_RANGES, INPUT_WEIGHT_MAX,  # noqa: F401
                                   MAX_LAYER_NEURONS, MAX_MESSAGE_LENGTH, _Checker,
                                   _one_line, bias_range, check_size)
from loihi_snn.netx.layers import ASA_FIELDS, _finish_layer, _neuron, _validate_layer  # noqa: F401
from loihi_snn.netx.reading import (MAX_DATASET_BYTES, MAX_LAYERS, MAX_NEURONS,  # noqa: F401
                                    MAX_READ_BYTES, MAX_SYNAPSES, SIZE_LIMIT_ENV, _open,
                                    _BrokenEntry, _cap_message, _decode, _entry_error,
                                    _group_to_dict, _is_index, open_netx, size_limit)


INPUT_UNIT_WEIGHT = 64     # SLAYER's weight scale: weight 1.0 is 64 in hardware units


def _given_input_shape(c: _Checker, input_shape: Any) -> Tuple[int, ...]:
    """The ``input_shape=`` argument of :func:`read_netx` as a checked (C, H, W)."""
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        c.fail("shape", f"input_shape must be (C, H, W) with positive sizes for a conv or "
                        f"pool first layer, got {_one_line(input_shape, 80)}")
    check_size(c, "shape", shape)
    return shape


def input_transform(spec: NetSpec, x: np.ndarray) -> np.ndarray:
    """Scale an input the way SLAYER's Input block feeds its neurons.

    A SLAYER ``block.cuba.Input`` (CUBA-family neurons) integrates ``z = weight * x``
    in weight units, i.e. the integer synaptic input ``x * w`` with ``w`` the exported
    ``weight`` field (hardware units, x 64) or 64 when the block has no weight.  Stock
    netx ignores this; every loihi_snn runner (Lava and emulator) applies it on the
    host side, where the input is injected.  Networks whose first layer is not such an
    input layer (dense/conv first, shape-only input, sigma-delta input) are unchanged.
    """
    first = spec.layers[0]
    if first.type != "input" or first.neuron is None or first.neuron.type == "SDNN":
        return x
    w = first.fields.get("weight", INPUT_UNIT_WEIGHT)
    return np.asarray(x) * w


def read_netx(path: str, input_shape: Optional[Tuple[int, ...]] = None) -> NetSpec:
    """Read and validate a NetX HDF5 file.

    Parameters
    ----------
    path : str
        path to a ``.net`` file.
    input_shape : tuple of int, optional
        (C, H, W) of the input of a network whose first layer is a ``conv`` or
        ``pool`` layer (no input layer), as stock SLAYER exports it and as stock
        lava-dl netx takes it (``hdf5.Network(..., input_shape=(W, H, C))``, Lava
        order there).  Ignored when the file states its input shape.

    Returns
    -------
    NetSpec
        validated layers with shapes in file order (C, H, W).

    Raises
    ------
    NetxFormatError
        one line naming the file, the layer index and the field that is wrong.
    """
    path = check_path(path, "path")      # a file name, else one-line OptionError
    try:
        # every h5py call is in here: a corrupt file can fail anywhere (even in
        # ``"layer" in f``) with OSError/RuntimeError/KeyError/... from libhdf5
        with _open(path) as f:
            import h5py
            if "layer" not in f:
                raise NetxFormatError(path, "no '/layer' group: not a NetX network file",
                                      field="layer")
            if not isinstance(f.get("layer"), h5py.Group):
                raise NetxFormatError(path, "'/layer' must be a group of numbered layer "
                                            "groups, found a dataset", field="layer")
            n_layers = len(f["layer"])
            if n_layers > size_limit("layers"):
                raise NetxFormatError(path, _cap_message("layers", n_layers, "layers"),
                                      field="layer")
            budget = [size_limit("read_bytes")]
            raw_layers = _group_to_dict(f["layer"], budget=budget)
            extensions = {k: _group_to_dict(f[k], budget=budget) for k in f.keys()
                          if k != "layer" and isinstance(f.get(k), h5py.Group)}
            layer_start = _decode(f.attrs["layer_start"]) if "layer_start" in f.attrs \
                else "step_1"
    except (NetxFormatError, OptionError):     # OptionError: a bad LOIHI_SNN_MAX_* value
        raise
    except _BrokenEntry as exc:
        raise _entry_error(path, exc.name, exc.reason) from None
    except (OSError, KeyError, RuntimeError, TypeError, ValueError, AttributeError,
            IndexError, OverflowError, MemoryError, UnicodeError) as exc:
        raise NetxFormatError(path, _one_line(f"corrupt HDF5 content "
                                              f"({type(exc).__name__}: {exc})")) from None

    keys = list(raw_layers.keys())
    if not keys:
        raise NetxFormatError(path, "the '/layer' group is empty", field="layer")
    if not all(_is_index(k) for k in keys) or \
            sorted(int(k) for k in keys) != list(range(len(keys))):
        raise NetxFormatError(path, _one_line(f"layers must be numbered 0..{len(keys) - 1}, "
                                              f"found {sorted(keys)}"), field="layer")

    layers: List[LayerSpec] = []
    prev_shape: Optional[Tuple[int, ...]] = None
    neurons = synapses = 0
    for i in range(len(keys)):
        raw = raw_layers[str(i)]
        c = _Checker(path, i)
        if not isinstance(raw, dict):
            c.fail(None, "expected a group")
        if "type" not in raw:
            c.fail("type", "missing; expected one of " + ", ".join(LAYER_TYPES))
        ltype = str(raw["type"])
        if ltype not in LAYER_TYPES:
            c.fail("type", f"unknown layer type '{ltype}'; supported: " + ", ".join(LAYER_TYPES))
        if ltype == "input" and i != 0:
            c.fail("type", "an input layer must be layer 0")
        if i == 0 and ltype in ("conv", "pool", "convT", "unpool") and input_shape is not None:
            prev_shape = _given_input_shape(c, input_shape)
        if ltype == CONCAT:        # skip connections (netx/concat.py)
            if i == len(keys) - 1:
                c.fail("type", "a concat layer cannot be the last layer: it routes earlier "
                               "layers' outputs into the layer after it")
            layer = validate_concat(c, raw, i, layers)
        else:
            layer = _validate_layer(c, ltype, raw, prev_shape)
        layers.append(layer)
        prev_shape = layer.shape
        neurons += layer.size if layer.neuron is not None or layer.type not in (
            "flatten", CONCAT) else 0
        if neurons > size_limit("neurons"):
            c.fail("shape", _cap_message("neurons up to this layer", neurons, "neurons"))
        synapses += layer.num_synapses
        if synapses > size_limit("synapses"):
            c.fail("weight", _cap_message("synapses up to this layer", synapses, "synapses"))

    if not any(l.neuron is not None or l.type not in ("input", "flatten") for l in layers):
        raise NetxFormatError(path, "the network has no layer with neurons or synapses",
                              field="layer")
    _check_layer_start(path, layer_start, layers)
    input_shape = layers[0].in_shape
    return NetSpec(path=path, layers=layers, input_shape=tuple(input_shape),
                   output_shape=tuple(layers[-1].shape), extensions=extensions,
                   layer_start=layer_start)


def _check_layer_start(path: str, value: Any, layers: List[LayerSpec]) -> None:
    """One-line NetxFormatError (field ``layer_start``) unless ``value`` is one of
    :data:`LAYER_STARTS` and, for ``first_input``, every layer's neurons can be zeroed
    by the scheduled reset that implements it."""
    if not isinstance(value, str) or value not in LAYER_STARTS:
        raise NetxFormatError(path, _one_line(f"root attribute must be one of "
                                              f"{', '.join(LAYER_STARTS)}, found "
                                              f"{_one_line(repr(value), 80)}"),
                              field="layer_start")
    if value == "first_input":
        for layer in layers:
            if layer.type == "concat":
                raise NetxFormatError(path, "'first_input' starts each layer at its first "
                                            "input, which a concat's branches of different "
                                            "depth reach at different steps (write "
                                            "layer_start 'step_1' or remove it)",
                                      layer=layer.index, field="layer_start")
            family = families.get(layer.neuron.type) if layer.neuron is not None else None
            if layer.neuron is not None and (family is None or not family.controllable):
                raise NetxFormatError(path, f"'first_input' needs neurons a scheduled reset "
                                            f"can zero; {layer.neuron.type} neurons cannot "
                                            f"(write layer_start 'step_1' or remove it)",
                                      layer=layer.index, field="layer_start")

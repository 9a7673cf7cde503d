"""The one NetX (HDF5) file writer of the test suite.

A network is written from a list of layer mappings, file order (layer 0 first)::

    {"type": "dense", "shape": [12], "weight": w, "neuron": {"type": b"CUBA", ...}}

The layer's ``"type"`` is written the way lava-dl writes it (a ``(1,)`` ``S10`` array)
when it is a ``str``; any other value (see :func:`string_field`) is written as given.
``"neuron"`` (a mapping, or ``None`` for no neuron group) becomes the ``neuron``
group, one dataset per key.  Every other key becomes a dataset ``data=value``.
Values are written unchanged, so numbers keep the dtype the caller chose.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import h5py
import numpy as np

# the four neuron fields a CUBA layer must have
CUBA_BASIC = {"type": b"CUBA", "iDecay": 1024, "vDecay": 128, "vThMant": 80}
# ... plus refractory delay and binary spikes, as SLAYER exports them
CUBA = dict(CUBA_BASIC, refDelay=1, gradedSpike=False)


def string_field(value, style: int = 0):
    """A NetX string field as a dataset value.

    style 0: lava-dl's ``(1,)`` ``S10`` array; 1: a variable-length str; 2: a 0-d bytes.
    """
    text = value.decode() if isinstance(value, bytes) else str(value)
    if style == 0:
        return np.array([text.encode()], dtype="S10")
    if style == 1:
        return np.array(text, dtype=h5py.string_dtype())
    return np.bytes_(text.encode())


def put(group, key: str, value) -> None:
    """Replace (or create) dataset ``key`` in ``group`` with ``data=value``; ``None``
    only deletes it.  (h5py stores a Python ``bytes`` as a variable-length string; see
    :func:`fixed_bytes` for a fixed-length one.)"""
    if key in group:
        del group[key]
    if value is not None:
        group.create_dataset(key, data=value)


def fixed_bytes(value):
    """``bytes`` as a 0-d fixed-length string value (empty bytes: an HDF5 empty string,
    null dataspace); any other value unchanged."""
    if isinstance(value, bytes):
        return np.bytes_(value) if value else h5py.Empty("S1")
    return value


def put_type(group, value) -> None:
    """Replace a layer's type with ``value`` (str or bytes), written as lava-dl does."""
    put(group, "type", string_field(value))


def write_neuron(group, params: Mapping[str, Any]) -> None:
    """The ``neuron`` group of a layer: one dataset per parameter, values as given."""
    n = group.create_group("neuron")
    for key, value in params.items():
        n.create_dataset(key, data=value)


def write_layer(group, layer: Mapping[str, Any]) -> None:
    """One layer (see the module docstring) into an existing HDF5 ``group``."""
    for key, value in layer.items():
        if key == "neuron":
            if value is not None:
                write_neuron(group, value)
        elif key == "type" and isinstance(value, str):
            group.create_dataset("type", data=string_field(value))
        else:
            group.create_dataset(key, data=value)


def write_netx(path, layers: Sequence[Mapping[str, Any]]) -> Path:
    """Write a NetX file with groups ``layer/0 .. layer/L-1``; returns ``path``."""
    with h5py.File(path, "w") as f:
        for i, layer in enumerate(layers):
            write_layer(f.create_group(f"layer/{i}"), layer)
    return path


def dense_netx(path, weight, *, neuron: Optional[Mapping] = None,
               input_size: Optional[int] = None, **fields) -> Path:
    """input (N,) -> dense (M,) with ``weight`` (M, N) and CUBA_BASIC neurons.

    ``neuron`` overrides neuron fields; ``fields`` adds datasets to the dense layer
    (``None`` values are left out); ``input_size`` overrides N.
    """
    weight = np.asarray(weight)
    dense = {"type": "dense", "shape": np.array([weight.shape[0]]), "weight": weight,
             "neuron": dict(CUBA_BASIC, **(neuron or {}))}
    dense.update({k: v for k, v in fields.items() if v is not None})
    return write_netx(path, [{"type": "input",
                              "shape": np.array([input_size or weight.shape[-1]])}, dense])


def pool_netx(path, C: int, H: int, W: int, k: int, weight: float = 40.0,
              neuron: Optional[Mapping] = None) -> Path:
    """input (C, H, W) -> k x k sum pool (stride k) with a shared ``weight`` and CUBA neurons."""
    return write_netx(path, [
        {"type": "input", "shape": [C, H, W]},
        {"type": "pool", "shape": [C, H // k, W // k], "kernelSize": [k, k], "stride": [k, k],
         "padding": [0, 0], "dilation": [1, 1], "weight": np.full((1, 1, k, k), weight),
         "neuron": dict(neuron or CUBA)}])

"""Reading a NetX HDF5 file: the one safe open (:func:`open_netx`, through
:func:`loihi_snn.core.hdf5.open_hdf5`), its groups as plain dicts, and the size limits
checked before anything large is read (``LOIHI_SNN_MAX_*``).
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from loihi_snn.core.errors import NetxFormatError
from loihi_snn.core.limits import env_int
from loihi_snn.netx.fields import _one_line


def _decode(value: Any) -> Any:
    """h5py value -> Python str / number / numpy array."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "SO":
            flat = [v.decode("ascii", "replace") if isinstance(v, bytes) else str(v)
                    for v in value.ravel()]
            return flat[0] if len(flat) == 1 else flat
        if value.shape == ():
            return value.item()
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


MAX_DATASET_BYTES = 1 << 30    # 1 GiB: a larger array is a corrupt or hostile file

# ----------------------------------------------------------------------------- size caps
# Checked from what the file *declares* (dataset shapes, layer count, layer shapes)
# before the data is read, so a small hostile file cannot make ``info`` or a run
# allocate gigabytes.  Each default can be raised with its environment variable.
#: most layers a file may have (``LOIHI_SNN_MAX_LAYERS``)
MAX_LAYERS = 1000
#: most neurons over all layers (``LOIHI_SNN_MAX_NEURONS``): 16 Loihi 2 chips' worth
MAX_NEURONS = 1 << 24
#: most synapses over all layers, as ``LayerSpec.num_synapses`` counts them
#: (``LOIHI_SNN_MAX_SYNAPSES``): 16 Loihi 2 chips' worth
MAX_SYNAPSES = 16 * 120_000_000
#: most bytes the file's arrays take once read (8 bytes a value, as loihi_snn holds them
#: in float64), over all datasets, however well they are compressed
#: (``LOIHI_SNN_MAX_READ_BYTES``)
MAX_READ_BYTES = 1 << 30

SIZE_LIMIT_ENV = {"layers": ("LOIHI_SNN_MAX_LAYERS", MAX_LAYERS),
                  "neurons": ("LOIHI_SNN_MAX_NEURONS", MAX_NEURONS),
                  "synapses": ("LOIHI_SNN_MAX_SYNAPSES", MAX_SYNAPSES),
                  "read_bytes": ("LOIHI_SNN_MAX_READ_BYTES", MAX_READ_BYTES)}


def size_limit(name: str) -> int:
    """The cap ``name`` (``layers``, ``neurons``, ``synapses``, ``read_bytes``): its
    environment variable when set to a positive integer, else the default."""
    env, default = SIZE_LIMIT_ENV[name]
    return env_int(env, default, minimum=1)


def _cap_message(what: str, count: float, name: str) -> str:
    env, _ = SIZE_LIMIT_ENV[name]
    return (f"declares {count:.4g} {what}, more than the {size_limit(name):.4g} loihi_snn "
            f"accepts (a corrupt or hostile file; set {env} to raise the limit)")


class _BrokenEntry(Exception):
    """An entry of the file that cannot be read (dangling link, bad object, ...)."""

    def __init__(self, name: str, reason: str = "cannot be read (dangling link or "
                                                  "unsupported HDF5 object)") -> None:
        super().__init__(name)
        self.name = name
        self.reason = reason


def _is_index(key: str) -> bool:
    """A canonical layer number: '0', '1', ... (not '00', '1.0', or other digits)."""
    return key.isascii() and key.isdigit() and str(int(key)) == key


def _group_to_dict(group, ancestors: Tuple[Any, ...] = (),
                   budget: Optional[List[int]] = None) -> Dict[str, Any]:
    """The group's datasets and attributes as a nested dict.  ``budget`` ([bytes left])
    is charged 8 bytes per declared value *before* each dataset is read (the
    ``read_bytes`` cap over the whole file, :func:`size_limit`)."""
    import h5py
    if budget is None:
        budget = [size_limit("read_bytes")]
    out: Dict[str, Any] = {}
    ancestors = ancestors + (group.id,)
    for key in group.keys():
        item = group.get(key)
        if isinstance(item, h5py.Group):
            if item.id in ancestors:
                raise _BrokenEntry(f"{group.name}/{key}", "is a link back to a group that "
                                                          "contains it (a cycle)")
            out[key] = _group_to_dict(item, ancestors, budget)
        elif isinstance(item, h5py.Dataset):
            nbytes = int(item.size or 0) * int(item.dtype.itemsize)
            if nbytes > MAX_DATASET_BYTES:
                raise _BrokenEntry(f"{group.name}/{key}",
                                   f"dataset of shape {item.shape} ({nbytes / 2**30:.1f} GiB) "
                                   f"is larger than the {MAX_DATASET_BYTES >> 30} GiB a NetX "
                                   f"field can have")
            budget[0] -= 8 * int(item.size or 0)
            if budget[0] < 0:
                limit = size_limit("read_bytes")
                raise _BrokenEntry(f"{group.name}/{key}", (
                    f"declares shape {item.shape}: {8 * int(item.size) / 2**30:.3g} GiB once "
                    f"read (8 bytes a value); with the fields before it "
                    f"{(limit - budget[0]) / 2**30:.3g} GiB, more than the "
                    f"{limit / 2**30:.3g} GiB loihi_snn reads from a file (a corrupt or hostile "
                    f"file; set LOIHI_SNN_MAX_READ_BYTES to raise the limit)"))
            out[key] = _decode(item[()])
        else:   # dangling soft/external link or an unsupported object
            raise _BrokenEntry(f"{group.name}/{key}")
    for key, value in group.attrs.items():
        out.setdefault(f"@{key}", _decode(value))
    return out


def _entry_error(path: str, name: str, reason: str) -> NetxFormatError:
    """NetxFormatError for the object ``name`` of the file: a layer's entry names the
    layer and the field inside it, any other entry is the field (its path)."""
    parts = name.strip("/").split("/")
    layer = int(parts[1]) if len(parts) > 1 and parts[0] == "layer" and \
        _is_index(parts[1]) else None
    field_name = "/".join(parts[2:]) if layer is not None else name
    return NetxFormatError(path, _one_line(reason), layer=layer,
                           field=_one_line(field_name, 80) or None)


@contextlib.contextmanager
def open_netx(path: str) -> Iterator[Any]:
    """The h5py file at ``path`` opened for reading through
    :func:`loihi_snn.core.hdf5.open_hdf5` -- a regular file whose every object lives in
    it (no external storage, virtual dataset, external or dangling link, cycle) -- or a
    one-line NetxFormatError naming the file and the offending object."""
    from loihi_snn.core.hdf5 import Hdf5Refused, open_hdf5
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise NetxFormatError(path, "file not found; check the path "
                              "(NetX networks are HDF5 files, usually named *.net)")
    if os.path.isdir(path):
        raise NetxFormatError(path, "is a directory, expected a NetX HDF5 file (*.net)")
    try:
        with open_hdf5(path, size_limit("read_bytes")) as f:
            yield f
    except Hdf5Refused as exc:
        if exc.name is not None:
            raise _entry_error(path, exc.name, exc.reason) from None
        reason = exc.reason
        if reason.startswith("not an HDF5 file"):
            reason += ("; NetX networks are HDF5 files written by lava-dl's export_hdf5 "
                       "or loihi_snn.netx.export")
        raise NetxFormatError(path, _one_line(reason)) from None


_open = open_netx


# --------------------------------------------------------------------------- validation

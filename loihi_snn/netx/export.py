"""Write NetX HDF5 files atomically.

``export_blocks(blocks, path)`` writes any sequence of objects with an
``export_hdf5(group)`` method (lava-dl SLAYER blocks, or ours) as ``/layer/<i>``,
optionally preceded by an input layer that states the input shape.  The file is
written to a temporary name beside ``path`` and renamed into place only when
complete, so a failed export never leaves a half-written network behind.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from typing import Any, Dict, Iterable, Iterator, Optional, Sequence

import numpy as np


@contextlib.contextmanager
def atomic_h5(path: str, check=None) -> Iterator["object"]:
    """Open a new HDF5 file for writing that appears at ``path`` only on success.

    Yields an ``h5py.File``.  After it is closed, ``check(tmp_path)`` (if given) may
    raise to reject it.  On any exception the temporary file is removed and ``path``
    is left untouched (an existing file there stays as it was).
    """
    import h5py
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".net", dir=directory)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def write_extension(f, name: str, data: Dict[str, Any]) -> None:
    """Write a nested dict as the top-level group ``/<name>`` (ignored by stock netx).

    Arrays and numbers become datasets, strings become byte strings, nested dicts
    become sub-groups, and other objects are stored as JSON strings.
    """
    group = f.require_group(name)
    for key, value in data.items():
        if isinstance(value, dict):
            write_extension(group, key, value)
        elif isinstance(value, str):
            group.create_dataset(key, data=value.encode("utf-8"))
        elif isinstance(value, (int, float, bool, np.ndarray, np.generic, list, tuple)):
            arr = np.asarray(value)
            if arr.dtype.kind in "US":
                group.create_dataset(key, data=json.dumps(list(value)).encode("utf-8"))
            else:
                group.create_dataset(key, data=arr)
        else:
            group.create_dataset(key, data=json.dumps(value).encode("utf-8"))


def export_blocks(blocks: Sequence[Any], path: str, *, input_shape: Optional[Sequence[int]] = None,
                  extensions: Optional[Dict[str, Dict[str, Any]]] = None,
                  validate: bool = True) -> str:
    """Export a sequence of blocks to a NetX file, atomically.

    Parameters
    ----------
    blocks : sequence
        objects with ``export_hdf5(h5py.Group)``, e.g. lava-dl ``slayer.block.cuba.Dense``
        / ``Conv`` / ``Pool`` / ``Flatten`` / ``Affine`` blocks, in order.  Ternary
        amplitudes are folded into a copy first (:mod:`loihi_snn.blocks.fold`); the
        last layer's amplitude is stored as ``/loihi_snn/output_scale``.
    path : str
        destination ``.net`` file.
    input_shape : sequence of int, optional
        (C, H, W) or (N,) of the network input; written as a shape-only ``input``
        layer (no neuron), which conv-first networks need.
    extensions : dict, optional
        top-level groups of our own (e.g. ``{"cutoff": {...}}``), ignored by stock netx.
    validate : bool
        re-read the written file with :func:`loihi_snn.netx.read_netx` before moving it
        into place, so an inconsistent export raises instead of producing a bad file.

    Returns
    -------
    str
        ``path``.
    """
    from loihi_snn.errors import NetxFormatError
    from loihi_snn.netx.schema import read_netx

    extensions = dict(extensions or {})
    from loihi_snn.blocks.fold import fold_amplitudes, has_ternary
    if has_ternary(blocks):
        blocks, output_scale = fold_amplitudes(blocks)
        if output_scale != 1.0:
            extensions["loihi_snn"] = dict(extensions.get("loihi_snn", {}),
                                           output_scale=output_scale)

    def check(tmp: str) -> None:
        try:
            read_netx(tmp)
        except NetxFormatError as exc:   # report the destination, not the temp name
            raise NetxFormatError(path, "export produced an invalid file, nothing was "
                                  "written: " + exc.message, exc.layer, exc.field) from None

    with atomic_h5(path, check if validate else None) as f:
        layer = f.create_group("layer")
        offset = 0
        if input_shape is not None:
            g = layer.create_group("0")
            g.create_dataset("type", (1,), "S10", [b"input"])
            g.create_dataset("shape", data=np.asarray(input_shape, dtype=np.int64))
            offset = 1
        for i, block in enumerate(blocks):
            neuron = getattr(block, "neuron", None)
            if neuron is not None and getattr(neuron, "shape", 0) is None:
                raise ValueError(f"block {i} ({type(block).__name__}) has no shape yet: "
                                 f"SLAYER sets shapes on the first forward pass, so run one "
                                 f"forward pass (any input) before exporting")
            block.export_hdf5(layer.create_group(str(i + offset)))
        for name, data in extensions.items():
            write_extension(f, name, data)
    return path


def iter_blocks(module: Any) -> Iterable[Any]:
    """The exportable blocks of a SLAYER network: ``module.blocks`` if present."""
    blocks = getattr(module, "blocks", None)
    return list(blocks) if blocks is not None else [module]

"""Write NetX HDF5 files atomically.

:func:`atomic_h5` opens a temporary file beside the destination that is renamed into
place only when complete (and, optionally, validated), so a failed write never leaves a
half-written network behind; :func:`write_extension` writes our top-level groups
(``/cutoff``, ``/loihi_snn``, ``/training``), which stock netx ignores.  Writing torch
blocks is :func:`loihi_snn.torch.export.export_blocks`, which uses both.
"""
from __future__ import annotations

import contextlib
import io
import json
from typing import Any, Dict, Iterator

import numpy as np

from loihi_snn.core.errors import OutputError
from loihi_snn.core.files import atomic_path


@contextlib.contextmanager
def atomic_h5(path: str, check=None) -> Iterator["object"]:
    """Open a new HDF5 file for writing that appears at ``path`` only on success.

    Yields an ``h5py.File``.  After it is closed, ``check(tmp_path)`` (if given) may
    raise to reject it.  On any exception the temporary file is removed and ``path``
    is left untouched (an existing file there stays as it was); on success the file has
    the mode ``open()`` gives a new file (:func:`loihi_snn.core.files.atomic_path`).
    """
    import h5py
    with atomic_path(path, suffix=".net") as tmp:
        # HDF5 is built in memory and written with one plain write: a full disk or a
        # read-only place is then an OSError here, never an error inside libhdf5's own
        # writes (which on a full disk ended in a segfault while h5py cleaned up)
        image = io.BytesIO()
        with h5py.File(image, "w") as f:
            yield f
        try:
            with open(tmp, "wb") as out:
                out.write(image.getbuffer())
        except OSError as exc:
            raise OutputError(f"{path}: cannot write the network ({exc.strerror or exc}); "
                              f"nothing was written and an existing file is unchanged") \
                from None
        if check is not None:
            check(tmp)


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

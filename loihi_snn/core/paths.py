"""Where a result may be written: checked once, before any work (every writer uses it).

:func:`output_path` is the one check of an output name -- ``run --out``, ``export``,
``import``/``export-nir --out``, :func:`loihi_snn.export_blocks`, :func:`loihi_snn.to_nir`,
:func:`loihi_snn.from_nir` -- so a folder, a device, a read-only place or a parent that
is a file ends in the same one-line :class:`~loihi_snn.core.errors.OutputError`, before
anything is computed.
"""
from __future__ import annotations

import os
import stat
import tempfile
from typing import Optional, Union

from loihi_snn.core.errors import OutputError


def _not_regular(path: str) -> Optional[str]:
    """What ``path`` is when it exists and is not a regular file or a folder (a device,
    a FIFO, a socket), else None.  Links are followed, as a write would follow them."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def output_path(path: Union[str, os.PathLike], ext: Optional[str] = ".npy") -> str:
    """The file a result for ``path`` will be written to, checked before any work.

    ``ext`` is appended when ``path`` does not end with it (as ``np.save`` does), so
    the name returned is the name written.  OutputError (one line) when the place
    cannot take the file: ``path`` is a folder, or an existing device, FIFO or socket
    (``/dev/null``: results are files, replaced atomically), a parent is a file, or the
    nearest existing folder does not accept a new file (read-only, no permission) --
    tried by creating and removing a temporary file there.  Missing folders are created
    only when the result is written.
    """
    path = os.fspath(path)
    if not path or path.endswith(os.sep):
        raise OutputError(f"{path or repr(path)}: not a file name (it names a folder)")
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name, e.g. "
                          f"{os.path.join(path, 'out' + (ext or ''))}")
    for name in (path, path + ext if ext and not path.endswith(ext) else path):
        what = _not_regular(name)
        if what is not None:
            raise OutputError(f"{name}: is {what}, not a file; give the name of a file to "
                              f"write (it is replaced atomically, so a device or pipe cannot "
                              f"take it)")
    if ext and not path.endswith(ext):
        path += ext
    if os.path.isdir(path):
        raise OutputError(f"{path}: is a folder; give a file name, e.g. {path}/out{ext or ''}")
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder):
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise OutputError(f"{path}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write in {folder} ({exc.strerror or exc})") from None
    return path

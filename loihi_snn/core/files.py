"""Atomic file writes: the one mechanism every writer of loihi_snn uses.

:func:`atomic_path` yields a temporary path beside the destination; the caller writes
it with whatever library it likes (h5py, torch, numpy, text).  On success the file gets
the mode ``open()`` would give a new file and is renamed over the destination; on any
exception it is removed and the destination is left as it was.  So a failed or
interrupted write never leaves a half-written file behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator, Union


def umask() -> int:
    """The process's file-creation mask, read without changing it."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name beside ``path`` that replaces ``path`` on success.

    Missing folders are created.  The temporary file exists (empty) when yielded; after
    the block it gets mode ``0o666 & ~umask`` (``tempfile`` creates it 0600) and is
    renamed over ``path`` (atomic on one file system).  On an exception it is removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write_text(path: Union[str, os.PathLike], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)

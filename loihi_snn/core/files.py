"""Files in and out: safe reading of what a user names, atomic writing of results.

:func:`open_regular` opens a file a user (or a file) names for reading, refusing
anything but a regular file: a FIFO, a device or a folder would block forever or read
something that is not a file.

:func:`atomic_path` yields a temporary path beside the destination; the caller writes
it with whatever library it likes (h5py, torch, numpy, text).  On success the file gets
the mode of the file it replaces (or, for a new file, the mode ``open()`` would give
it) and is renamed over the destination; on any exception it is removed and the
destination is left as it was.  So a failed or interrupted write never leaves a
half-written file behind.  The process umask is never changed.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import BinaryIO, Iterator, Optional, Union

_KINDS = ((stat.S_ISDIR, "is a directory, not a file"),
          (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
          (stat.S_ISCHR, "is a character device, not a regular file"),
          (stat.S_ISBLK, "is a block device, not a regular file"),
          (stat.S_ISSOCK, "is a socket, not a regular file"))


class UnreadableFile(Exception):
    """:func:`open_regular` refused a path; ``reason`` is one line without the path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _require_regular(st: os.stat_result) -> None:
    if stat.S_ISREG(st.st_mode):
        return
    for test, reason in _KINDS:
        if test(st.st_mode):
            raise UnreadableFile(reason)
    raise UnreadableFile("is not a regular file")


def open_regular(path: Union[str, os.PathLike]) -> BinaryIO:
    """``path`` opened for binary reading, or :class:`UnreadableFile` (one line).

    Only a regular file (or a link to one) is opened: the path is checked with ``stat``
    first, then opened with ``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the
    open) and checked again with ``fstat`` on the descriptor that is returned, so what
    was checked is what is read.
    """
    path = os.fspath(path)
    try:
        _require_regular(os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
                     | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise UnreadableFile("file not found; check the path") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot be read ({exc.strerror or exc})") from None
    try:
        _require_regular(os.fstat(fd))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def umask() -> int:
    """The process's file-creation mask, read without changing it (Linux: the
    ``Umask:`` line of ``/proc/self/status``; elsewhere the mode a new probe file gets,
    or 0o077, the most restrictive guess, when even that fails)."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8) & 0o777
    except (OSError, ValueError, IndexError):
        pass
    import tempfile
    try:
        with tempfile.TemporaryDirectory(prefix=".tmp-umask-") as folder:
            probe = os.path.join(folder, "probe")
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return 0o666 & ~stat.S_IMODE(os.stat(probe).st_mode) & 0o777
    except OSError:
        return 0o077


def _create_temp(directory: str, suffix: str) -> "tuple[str, int]":
    """A new empty file ``.tmp-XXXX<suffix>`` in ``directory``, made private (0600) while
    it is written; returns (its path, the mode ``open()`` gives a new file there)."""
    for _ in range(100):
        tmp = os.path.join(directory, f".tmp-{secrets.token_hex(8)}{suffix}")
        try:
            # created as open() creates a file (0666 less the umask, without reading or
            # changing the umask); then made private until the content is complete
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                         | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        try:
            natural = stat.S_IMODE(os.fstat(fd).st_mode)
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        return tmp, natural
    raise FileExistsError(f"no free temporary name in {directory}")


def _existing_mode(path: str) -> Optional[int]:
    """Permission bits (rwx, without set-id or sticky bits) of the regular file at
    ``path``, None when there is none."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mode & 0o777 if stat.S_ISREG(st.st_mode) else None


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike], suffix: str = ".tmp") -> Iterator[str]:
    """Yield a temporary file name beside ``path`` that replaces ``path`` on success.

    Missing folders are created.  The temporary file exists (empty, mode 0600) when
    yielded; after the block it gets the mode of the file it replaces or, for a new
    file, the mode ``open()`` gives one (``0o666`` less the umask, which is never
    changed), and is renamed over ``path`` (atomic on one file system).  On an
    exception it is removed.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp, natural = _create_temp(directory, suffix)
    try:
        yield tmp
        old = _existing_mode(path)
        os.chmod(tmp, natural if old is None else old)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def atomic_write_text(path: Union[str, os.PathLike], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)

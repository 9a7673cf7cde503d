"""Opening HDF5 files (``.net``, ``.nir``) that may come from anyone.

HDF5 can make a file read *other* files: a dataset may keep its raw data in external
files (``H5Pset_external``: any path, e.g. ``/etc/passwd``), a virtual dataset (VDS)
maps other files' datasets into itself, and external or user-defined links name
objects in other files.  A soft link is a path inside the file, harmless when it
resolves there, but it may dangle or close a cycle.  h5py follows all of these on a
plain read, so converting an untrusted network would copy the bytes of any file the
user can read into its output.

:func:`open_hdf5` is the one way loihi_snn opens an HDF5 file for reading.  Before any
dataset is read it

- refuses a path that is not a regular file (a FIFO or a device would block forever;
  it is opened with ``O_NONBLOCK`` and checked with ``fstat`` on the descriptor that is
  then read) or that is larger than the caller's limit, and reads the whole file into
  memory once: the bytes checked are the bytes read, whatever happens on disk;
- walks every object of the file through the low-level API without following any
  link (:func:`check_self_contained`) and refuses external raw storage, virtual
  datasets, external and user-defined links, soft links that do not resolve inside
  the file, link cycles, more than :data:`MAX_LINKS` links, and (with ``budget``)
  datasets whose declared size exceeds what loihi_snn reads.

Every refusal is :class:`Hdf5Refused`: the object path (``name``, None for the file
itself) and one line of reason; callers turn it into their own error class.
"""
from __future__ import annotations

import contextlib
import io
import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from loihi_snn.core.files import UnreadableFile, open_regular

#: most links (group entries) a file may have; a file with more is refused before its
#: content is read (a corrupt or hostile file: loihi_snn's own have a few hundred)
MAX_LINKS = 1_000_000
#: the HDF5 signature; it sits at byte 0 or, after a user block, at 512, 1024, 2048, ...
SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: the most characters of a name taken from the file that a message quotes
NAME_CHARS = 120


class Hdf5Refused(Exception):
    """The file is not read: ``name`` (object path inside the file, or None for the
    file itself) and ``reason`` (one line)."""

    def __init__(self, name: Optional[str], reason: str) -> None:
        super().__init__(f"{name}: {reason}" if name else reason)
        self.name = name
        self.reason = reason


def quote(text: Any, limit: int = NAME_CHARS) -> str:
    """A name read from a file, quoted on one line (control characters escaped), cut to
    ``limit`` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    text = repr(str(text))
    return text if len(text) <= limit else text[:limit - 4] + "...'"


def _decode(name: bytes) -> str:
    return name.decode("utf-8", "backslashreplace")


def _join(group: str, name: str) -> str:
    return f"{group.rstrip('/')}/{name}"


def has_signature(fobj, size: int) -> bool:
    """True when the file object holds the HDF5 signature where HDF5 looks for it."""
    offset = 0
    while offset + len(SIGNATURE) <= size:
        fobj.seek(offset)
        if fobj.read(len(SIGNATURE)) == SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def _check_dataset(did, name: str, budget: Optional[List[int]], max_bytes: Optional[int],
                   limit_env: str) -> None:
    """Refuse a dataset whose raw data lives outside the file, or (``budget``) one
    larger than loihi_snn reads; nothing of its data is read."""
    from h5py import h5d
    dcpl = did.get_create_plist()
    count = dcpl.get_external_count()
    if count:
        target = quote(dcpl.get_external(0)[0])
        raise Hdf5Refused(name, f"keeps its data in {count} external file(s) ({target}"
                                f"{', ...' if count > 1 else ''}); loihi_snn reads only "
                                f"self-contained files (external storage would read other "
                                f"local files)")
    if dcpl.get_layout() == h5d.VIRTUAL:
        raise Hdf5Refused(name, "is a virtual dataset (VDS) mapping data from other "
                                "datasets or files; loihi_snn reads only self-contained "
                                "files (store the data itself in the file)")
    if budget is None and max_bytes is None:
        return
    size = 1
    for dim in did.shape or ():
        size *= int(dim)
    itemsize = int(did.get_type().get_size())
    if max_bytes is not None and size * itemsize > max_bytes:
        raise Hdf5Refused(name, f"declares shape {tuple(did.shape)} "
                                f"({size * itemsize / 2**30:.3g} GiB), more than the "
                                f"{max_bytes / 2**30:.3g} GiB one field may have (a corrupt "
                                f"or hostile file)")
    if budget is not None:
        budget[0] -= 8 * size
        if budget[0] < 0:
            raise Hdf5Refused(name, f"declares shape {tuple(did.shape)}: with the datasets "
                                    f"before it more than the {budget[1] / 2**30:.3g} GiB "
                                    f"loihi_snn reads from a file (8 bytes a value; a "
                                    f"corrupt or hostile file; set {limit_env} to raise "
                                    f"the limit)")


def check_self_contained(f, *, budget: Optional[int] = None,
                         max_dataset_bytes: Optional[int] = None,
                         limit_env: str = "LOIHI_SNN_MAX_READ_BYTES",
                         max_links: int = MAX_LINKS) -> None:
    """Raise :class:`Hdf5Refused` unless every object of the open h5py file ``f`` lives
    in it (see the module docstring).  Reads link and object headers only, no data.

    ``budget`` (bytes): the most that reading every dataset may take, 8 bytes a value;
    ``max_dataset_bytes``: the most one dataset may declare (its own item size).
    """
    from h5py import h5g, h5l, h5o

    root = h5g.open(f.id, b"/")
    root_info = h5o.get_info(root)
    fileno = root_info.fileno
    left = [int(budget), int(budget)] if budget is not None else None
    links = 0
    # pass 1: hard links only (never follows a soft, external or user-defined link)
    children: Dict[Tuple[int, int], List[Tuple[str, Tuple[int, int]]]] = {}
    soft: List[Tuple[str, str, Any, bytes, Tuple[int, int]]] = []   # link, target, group
    names: Dict[Tuple[int, int], str] = {}
    root_key = (fileno, root_info.addr)
    names[root_key] = "/"
    todo: List[Tuple[Any, str, Tuple[int, int]]] = [(root, "/", root_key)]
    while todo:
        gid, gname, gkey = todo.pop()
        entries = children.setdefault(gkey, [])
        count = gid.get_num_objs()
        links += count
        if links > max_links:
            raise Hdf5Refused(gname, f"the file has more than {max_links} links (objects); "
                                     f"a corrupt or hostile file")
        for i in range(count):
            raw = gid.get_objname_by_idx(i)
            name = _join(gname, _decode(raw))
            info = gid.links.get_info(raw)
            if info.type == h5l.TYPE_EXTERNAL:
                target = gid.links.get_val(raw)
                raise Hdf5Refused(name, f"is an external link to {quote(target[1])} in "
                                        f"{quote(target[0])}; loihi_snn reads only "
                                        f"self-contained files (a link would read another "
                                        f"file)")
            if info.type == h5l.TYPE_SOFT:
                soft.append((name, _decode(gid.links.get_val(raw)), gid, raw, gkey))
                continue
            if info.type != h5l.TYPE_HARD:
                raise Hdf5Refused(name, f"is a user-defined link (type {info.type}); "
                                        f"loihi_snn reads only self-contained files")
            oid = h5o.open(gid, raw)
            oinfo = h5o.get_info(oid)
            key = (oinfo.fileno, oinfo.addr)
            entries.append((name, key))
            if key in names:
                continue                # reached before: its content is checked once
            names[key] = name
            if oinfo.type == h5o.TYPE_GROUP:
                todo.append((oid, name, key))
            elif oinfo.type == h5o.TYPE_DATASET:
                _check_dataset(oid, name, left, max_dataset_bytes, limit_env)
            elif oinfo.type != h5o.TYPE_NAMED_DATATYPE:
                raise Hdf5Refused(name, f"is an HDF5 object of unknown type {oinfo.type}")
    # pass 2: no link leaves the file now, so a soft link can be resolved safely
    for name, target, gid, raw, parent in soft:
        try:
            oinfo = h5o.get_info(h5o.open(gid, raw))
        except Exception:  # noqa: BLE001 - libhdf5 raises KeyError/RuntimeError/...
            raise Hdf5Refused(name, f"is a soft link to {quote(target)}, which does not "
                                    f"exist in the file (a dangling link)") from None
        key = (oinfo.fileno, oinfo.addr)
        if oinfo.fileno != fileno or key not in names:
            raise Hdf5Refused(name, f"is a soft link to {quote(target)}, outside the file")
        children[parent].append((name, key))
    _check_acyclic(children, root_key)


def _check_acyclic(children: Dict[Tuple[int, int], List[Tuple[str, Tuple[int, int]]]],
                   root: Tuple[int, int]) -> None:
    """Hdf5Refused naming the link that leads back to a group containing it: a reader
    that follows links would recurse forever."""
    ON_PATH, DONE = 1, 2
    state: Dict[Tuple[int, int], int] = {root: ON_PATH}
    stack: List[Tuple[Tuple[int, int], Iterator]] = [(root, iter(children.get(root, ())))]
    while stack:
        node, it = stack[-1]
        for name, child in it:
            mark = state.get(child)
            if mark == ON_PATH:
                raise Hdf5Refused(name, "is a link back to a group that contains it "
                                        "(a cycle)")
            if mark is None and child in children:
                state[child] = ON_PATH
                stack.append((child, iter(children[child])))
                break
            state.setdefault(child, DONE)
        else:
            state[node] = DONE
            stack.pop()


def read_image(path: str, max_bytes: int,
               limit_env: str = "LOIHI_SNN_MAX_READ_BYTES") -> bytes:
    """The bytes of the HDF5 file at ``path``: a regular file (:func:`open_regular`) of at
    most ``max_bytes`` that carries the HDF5 signature; :class:`Hdf5Refused` otherwise.

    The whole file is read once, through one descriptor, so the checks of
    :func:`check_self_contained` and every later read see the same bytes however the file
    changes on disk meanwhile.
    """
    try:
        fobj = open_regular(path)
    except UnreadableFile as exc:
        raise Hdf5Refused(None, exc.reason) from None
    with fobj:
        size = os.fstat(fobj.fileno()).st_size
        if size > max_bytes:
            raise Hdf5Refused(None, f"is {size / 2**30:.3g} GiB, more than the "
                                    f"{max_bytes / 2**30:.3g} GiB loihi_snn reads from a file "
                                    f"(set {limit_env} to raise the limit)")
        try:
            data = fobj.read(max_bytes + 1)
        except OSError as exc:
            raise Hdf5Refused(None, f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise Hdf5Refused(None, f"grew past {max_bytes / 2**30:.3g} GiB while being read "
                                f"(set {limit_env} to raise the limit)")
    if not has_signature(io.BytesIO(data), len(data)):
        raise Hdf5Refused(None, "not an HDF5 file" + (" (empty)" if not data else ""))
    return data


@contextlib.contextmanager
def open_image(data: bytes, *, budget: Optional[int] = None,
               max_dataset_bytes: Optional[int] = None,
               limit_env: str = "LOIHI_SNN_MAX_READ_BYTES") -> Iterator[Any]:
    """An ``h5py.File`` over the in-memory HDF5 ``data`` after
    :func:`check_self_contained`; :class:`Hdf5Refused` otherwise."""
    import h5py
    try:
        f = h5py.File(io.BytesIO(data), "r")
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt files
        raise Hdf5Refused(None, f"cannot be opened as HDF5 "
                                f"({' '.join(str(exc).split())[:200]})") from None
    try:
        try:
            check_self_contained(f, budget=budget, max_dataset_bytes=max_dataset_bytes,
                                 limit_env=limit_env)
        except Hdf5Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - libhdf5 errors on corrupt headers
            raise Hdf5Refused(None, f"corrupt HDF5 content ({type(exc).__name__}: "
                                    f"{' '.join(str(exc).split())[:200]})") from None
        yield f
    finally:
        f.close()


def checked_image(path: str, max_bytes: int, *, budget: Optional[int] = None,
                  max_dataset_bytes: Optional[int] = None,
                  limit_env: str = "LOIHI_SNN_MAX_READ_BYTES") -> bytes:
    """:func:`read_image` whose content passed :func:`check_self_contained`: hand
    ``io.BytesIO(result)`` to a reader that opens HDF5 itself (``nir.read``)."""
    data = read_image(path, max_bytes, limit_env)
    with open_image(data, budget=budget, max_dataset_bytes=max_dataset_bytes,
                    limit_env=limit_env):
        pass
    return data


@contextlib.contextmanager
def open_hdf5(path: str, max_bytes: int, *, budget: Optional[int] = None,
              max_dataset_bytes: Optional[int] = None,
              limit_env: str = "LOIHI_SNN_MAX_READ_BYTES") -> Iterator[Any]:
    """An ``h5py.File`` (read-only, in memory) of the file at ``path`` after the checks
    of the module docstring; :class:`Hdf5Refused` otherwise (``name`` None: the file
    itself).  ``max_bytes``: the largest file read."""
    data = read_image(path, max_bytes, limit_env)
    with open_image(data, budget=budget, max_dataset_bytes=max_dataset_bytes,
                    limit_env=limit_env) as f:
        yield f

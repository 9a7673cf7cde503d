"""Input and output handling shared by the runners (``run``, ``run_many``, ``run_cutoff``,
``run_layers``): each piece is written once, here.

Inputs arrive in the network's file order with time last -- (N, T) for a dense input,
(C, H, W, T) for an image input, and (S, ..., T) for a batch of S samples -- as SLAYER
lays them out.  Lava's ports take (W, H, C, T) / (N, T) (:func:`to_lava_layout`) and
give the output back the same way (:func:`from_lava_layout`).  Values are binary spikes
(0/1, sent as 1-bit events) or integers (sent as graded spikes of
``GRADED_MESSAGE_BITS`` bits, :func:`input_message_bits`).
"""
from __future__ import annotations

import math
import os
import zipfile
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from loihi_snn.core.errors import ShapeError
# output_path: the one check of a result's destination, offered here with the runners' I/O
from loihi_snn.core.paths import output_path  # noqa: F401
from loihi_snn.core.files import UnreadableFile, open_regular
from loihi_snn.core.limits import env_int
from loihi_snn.netx.inputs import check_input, check_input_range
# is_graded / message_bits / input_message_bits are defined in netx.lower (the emulator
# uses them too) and offered here with the rest of the runners' input handling
from loihi_snn.netx.lower import (input_message_bits, is_graded, message_bits,  # noqa: F401
                                  output_transform)
from loihi_snn.netx.schema import NetSpec

# ----------------------------------------------------------------------------- input files

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")


#: the most memory the input and output buffers of one run may need, bytes; above it a
#: run (e.g. ``--steps 1e12``), an evaluation (samples x T) or an input file is refused
#: before anything is allocated.  Override with the environment variable
#: ``LOIHI_SNN_MAX_RUN_BYTES`` (:func:`max_run_bytes`).
MAX_RUN_BYTES = 8 << 30


def max_run_bytes() -> int:
    """:data:`MAX_RUN_BYTES`, or ``$LOIHI_SNN_MAX_RUN_BYTES`` when set (a bad value is a
    one-line OptionError)."""
    return env_int("LOIHI_SNN_MAX_RUN_BYTES", MAX_RUN_BYTES, minimum=1)


def _check_npy_header(fp, available: int, where: str) -> None:
    """ShapeError unless the .npy header at ``fp``'s position declares numbers whose data
    fits in the ``available`` bytes (header included) and within the run-byte limit.
    Only the header is read."""
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            shape, _, dtype = np.lib.format._read_array_header(fp, version)
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise ShapeError(f"{where}: cannot read a .npy array (corrupt header: "
                         f"{' '.join(str(exc).split())[:160]})") from None
    if dtype.hasobject:
        raise ShapeError(f"{where}: holds Python objects (dtype {dtype}); loihi_snn never "
                         f"unpickles: save an array of numbers")
    count = math.prod(int(d) for d in shape)
    nbytes = count * dtype.itemsize
    data = available - fp.tell()
    if nbytes > data:
        raise ShapeError(f"{where}: its header declares shape {tuple(shape)} of {dtype} "
                         f"({nbytes:.4g} bytes of data) but the file holds {max(data, 0)} "
                         f"bytes after it; a truncated or corrupt .npy file")
    limit = max_run_bytes()
    if 8 * count > limit:
        raise ShapeError(f"{where}: declares shape {tuple(shape)}, "
                         f"{8 * count / 2**30:.3g} GiB once read (8 bytes a value), more than "
                         f"the {limit / 2**30:.3g} GiB allowed (set LOIHI_SNN_MAX_RUN_BYTES "
                         f"to raise it)")


def load_npy(path: Union[str, os.PathLike]) -> np.ndarray:
    """The array of a ``.npy`` file (or of an ``.npz`` archive holding exactly one), read
    safely from a path a user gives; else a one-line ShapeError naming the file.

    Refused before anything is allocated: a path that is not a regular file (a FIFO, a
    device or a folder would block or never end; opened with ``O_NONBLOCK`` and checked
    with ``fstat``), a file without a NumPy header, object arrays (never unpickled), a
    header that declares more data than the file holds, or more than the run-byte limit
    (``LOIHI_SNN_MAX_RUN_BYTES``, 8 bytes a value) -- so a 100-byte file declaring
    shape (10**12, 16) ends in one line, not in ``ArrayMemoryError``.
    """
    where = os.fspath(path)
    try:
        fobj = open_regular(where)
    except UnreadableFile as exc:
        raise ShapeError(f"{where}: {exc.reason}") from None
    with fobj:
        size = os.fstat(fobj.fileno()).st_size
        head = fobj.read(6)
        fobj.seek(0)
        try:
            if head.startswith(_ZIP_MAGICS):
                return _load_npz_member(fobj, where)
            if head != _NPY_MAGIC:
                raise ShapeError(f"{where}: cannot read a .npy array (no NumPy header: not "
                                 f"a .npy file); save the array with numpy.save")
            _check_npy_header(fobj, size, where)
            fobj.seek(0)
            return np.load(fobj, allow_pickle=False)
        except ShapeError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError,
                MemoryError) as exc:
            raise ShapeError(f"{where}: cannot read a .npy array ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:200]})") from None


def _load_npz_member(fobj, where: str) -> np.ndarray:
    """The one array of an ``.npz`` archive, its header checked before it is read."""
    with zipfile.ZipFile(fobj) as zf:
        infos = zf.infolist()
        if len(infos) != 1 or not infos[0].filename.endswith(".npy"):
            names = ", ".join(i.filename for i in infos[:5]) + (", ..." if len(infos) > 5
                                                                 else "")
            raise ShapeError(f"{where}: an .npz archive must hold exactly one array here, "
                             f"found {len(infos)} member(s) ({names or 'none'}); save the "
                             f"input alone with numpy.save")
        info = infos[0]
        with zf.open(info) as member:
            _check_npy_header(member, info.file_size, f"{where}: {info.filename}")
            fobj.seek(0)
    with np.load(fobj, allow_pickle=False) as archive:
        return archive[info.filename[:-4]]


# ----------------------------------------------------------------------------- input checks


def check_time_last(x: Any, *, path: Optional[str] = None, integer: bool = True) -> np.ndarray:
    """One sample as an array, through the shared input boundary
    (:func:`loihi_snn.netx.inputs.check_input`): numeric dtype, at least 2-D (time
    last), finite, integers within the graded payload unless ``integer`` is False
    (``lava-float``); else a one-line ShapeError.  ``x``: (N, T) or (C, H, W, T)."""
    return check_input(x, path=path, integer=integer)


def image_shape(x: np.ndarray, batch: bool = False) -> Optional[Tuple[int, ...]]:
    """(C, H, W) of an image input (C, H, W, T) -- or a batch (S, C, H, W, T) -- else
    None: the ``input_shape`` a conv-first file without an input layer is read with."""
    dims = x.shape[1:-1] if batch else x.shape[:-1]
    return tuple(int(d) for d in dims) if len(dims) == 3 else None


def flat_input(spec: NetSpec) -> bool:
    """True when the network's input port is a flat vector (dense first layer): a
    (C, H, W, T) input is then accepted and flattened in C-order, as torch does."""
    first = next(l for l in spec.layers if not (l.type == "input" and l.neuron is None))
    return first.type in ("dense", "dense_rec", "flatten") or len(first.in_shape) == 1


def check_input_shape(x: np.ndarray, expected: Sequence[int], flat_ok: bool, name: str) -> None:
    """ShapeError unless one sample ``x`` (*shape, T) fits the network input ``expected``.

    ``flat_ok``: a network with a flat input port (:func:`flat_input`) also takes any
    shape with the same number of elements, (N,) or of the same rank.  ``name`` (the
    file) starts the message.
    """
    expected = tuple(expected)
    given = tuple(x.shape[:-1])
    if given == expected:
        return
    if (flat_ok and int(np.prod(given)) == int(np.prod(expected))
            and len(given) in (1, len(expected))):
        return
    raise ShapeError(f"{name}: input shape {given} + (T={x.shape[-1]},) does not match the "
                     f"network input {expected} + (T,); time must be the last axis")


def check_samples(X: Any, spec: NetSpec, path: str, *, integer: bool = True) -> np.ndarray:
    """A batch of samples (N, *spec.input_shape, T) through the shared input boundary
    (dtype, shape, and for fixed point -- ``integer`` -- the graded range this network
    takes, :func:`loihi_snn.netx.inputs.check_input_range`); else a one-line ShapeError."""
    X = check_input(X, path=path, integer=integer, batch=True)
    if tuple(X.shape[1:-1]) != tuple(spec.input_shape):
        raise ShapeError(f"{path}: expected samples of shape (N, "
                         f"{', '.join(map(str, spec.input_shape))}, T), got {X.shape}")
    if integer:
        check_input_range(spec, X)
    return X


def match_input_port(x: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """(*shape, T) -> (*input_shape, T) unchanged, any other shape -> (prod(shape), T):
    the flat input of a dense first layer (after :func:`check_input_shape`)."""
    if tuple(x.shape[:-1]) != tuple(input_shape):
        return x.reshape(-1, x.shape[-1])
    return x


def check_integer(data: np.ndarray, backend: str) -> None:
    """ShapeError unless every value of ``data`` is an integer (fixed-point backends)."""
    if not np.all(data == np.round(data)):
        raise ShapeError(f"{backend} needs integer input (spikes or graded integers); "
                         f"scale and round real-valued input first")


def fixed_point_input(data: np.ndarray, backend: str) -> np.ndarray:
    """``data`` checked by :func:`check_integer` and cast to int32, as Lava's
    fixed-point source ports carry it (same shape)."""
    check_integer(data, backend)
    return data.astype(np.int32)


# ----------------------------------------------------------------------------- layout


def to_lava_layout(x: np.ndarray, lava_shape: Sequence[int]) -> np.ndarray:
    """(C, H, W, T) or (N, T) in file order -> Lava order (W, H, C, T) / (N, T).

    A (C, H, W, T) input for a network whose first layer is a dense layer (after a
    shape-only input layer and a flatten) is flattened in C-order, as torch does.
    """
    lava_shape = tuple(lava_shape)
    if x.ndim == 4 and len(lava_shape) == 3:
        return np.ascontiguousarray(x.transpose(2, 1, 0, 3))
    return np.ascontiguousarray(x.reshape(-1, x.shape[-1]))


def from_lava_layout(y: np.ndarray) -> np.ndarray:
    """Lava (W, H, C, T) -> file order (C, H, W, T); (N, T) unchanged."""
    if y.ndim == 4:
        return np.ascontiguousarray(y.transpose(2, 1, 0, 3))
    return y


def pad_steps(data: np.ndarray, steps: int) -> np.ndarray:
    """(..., T) -> (..., max(T, steps)): input beyond T is zero."""
    T = data.shape[-1]
    if steps > T:
        data = np.concatenate([data, np.zeros(data.shape[:-1] + (steps - T,), data.dtype)], -1)
    return data


# ----------------------------------------------------------------------------- output


def integer_output(y: np.ndarray) -> np.ndarray:
    """A fixed-point run's raw output (Lava's sink records float64) as int32, the dtype
    the emulator and ``lava-fused`` give: every backend returns the same dtype."""
    y = np.asarray(y)
    return y if y.dtype == np.int32 else np.rint(y).astype(np.int32)


def scale_output(y: np.ndarray, net: Any) -> np.ndarray:
    """A network's output as the runners return it (any shape, time last).

    An ``average`` output layer gives the population mean (group sums divided by its
    ``group_size``), then the file's ``/loihi_snn/output_scale`` (the folded ternary
    amplitude, 1.0 when absent) multiplies it.  ``net``: anything with ``out_layer``
    and ``output_scale`` (a loaded Network, a FusedRun).
    """
    average = getattr(net.out_layer, "kind", "") == "average"
    return output_transform(y, net.out_layer.group_size if average else None,
                            getattr(net, "output_scale", 1.0))

"""Array backends of the emulator: numpy (default) or torch on a device.

The emulator's stages only need a handful of array operations beyond what numpy
arrays and torch tensors share (``reshape``, indexing, arithmetic operators, ``@``);
this module holds them, once per library.  The neuron arithmetic itself is not here:
it is :mod:`loihi_snn.core.fixed` / :mod:`loihi_snn.core.lif`, which take numpy
arrays and torch tensors alike.

Numeric forms (``arithmetic``):

- ``"float"`` (default): neuron state and synaptic input are ``float64`` arrays that
  hold Loihi integers (exact, see :mod:`loihi_snn.core.fixed`); synaptic sums are
  float32 GEMM/conv when a per-synapse bound proves every partial sum below 2**24,
  float64 below 2**53, else int64;
- ``"int64"``: the integer reference path, ``int64`` state and int64 sums throughout.

Both give the same integers (tests/unit/test_emulator_backends.py).
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from loihi_snn.core.forksafe import check_cuda_usable

ARITHMETIC = ("float", "int64")

EXACT_FLOAT32 = 1 << 24     # float32 represents every integer below this exactly
EXACT_FLOAT64 = 1 << 53     # float64 represents every integer below this exactly


def check_arithmetic(arithmetic: str) -> str:
    if arithmetic not in ARITHMETIC:
        raise ValueError(f"arithmetic must be one of {ARITHMETIC}, got {arithmetic!r}")
    return arithmetic


class NumpyBackend:
    """numpy arrays on the host."""

    name = "numpy"
    device = None
    is_torch = False

    def __init__(self, arithmetic: str = "float") -> None:
        self.arithmetic = check_arithmetic(arithmetic)
        self.int64, self.float32, self.float64, self.bool = (np.int64, np.float32, np.float64,
                                                             np.bool_)
        #: dtype of neuron states and synaptic input
        self.state = np.float64 if arithmetic == "float" else np.int64

    # creation and conversion
    def zeros(self, shape: Tuple[int, ...], dtype=None):
        return np.zeros(shape, self.state if dtype is None else dtype)

    def empty(self, shape: Tuple[int, ...], dtype):
        return np.empty(shape, dtype)

    def asarray(self, x: Any, dtype=None):
        """A host array (numpy, or anything array-like) as this backend's array."""
        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    def cast(self, x, dtype):
        return x.astype(dtype, copy=False)

    def dtype_of(self, x):
        return x.dtype

    # operations
    def spikes(self, x, dtype):
        """0/1 of ``x != 0`` (a binary synapse counts any non-zero value once)."""
        if x.dtype == np.bool_:
            return x.astype(dtype)
        return np.not_equal(x, 0, out=np.empty(x.shape, dtype), casting="unsafe")

    def abs_max(self, x) -> int:
        if x.size == 0:
            return 0
        return int(max(x.max(), -x.min()))

    def concat(self, parts, axis: int = 0, dtype=None):
        return np.concatenate(parts, axis=axis, dtype=dtype)

    def roll(self, x, shift: int, axis: int):
        return np.roll(x, shift, axis=axis)

    def sum_last(self, x):
        """Sum over the last axis in the state dtype (``average`` group sums)."""
        return x.sum(axis=-1, dtype=self.state)

    def count_nonzero_last(self, x):
        """(T, N, ...) -> (T, N) int64 counts of non-zero values."""
        return np.count_nonzero(x.reshape(x.shape[0], x.shape[1], -1), axis=2).astype(np.int64)

    def pad_hw(self, x, ph: int, pw: int):
        return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))

    def take_cols(self, flat, index):
        return flat[:, index]


class TorchBackend:
    """torch tensors on ``device`` ("cpu", "cuda", "cuda:1", a ``torch.device``)."""

    name = "torch"
    is_torch = True

    def __init__(self, device: Any = "cpu", arithmetic: str = "float") -> None:
        import torch   # lazy: the numpy emulator (the default) does not need torch
        self.torch = torch
        _numpy_dtypes(torch)
        self.arithmetic = check_arithmetic(arithmetic)
        self.device = torch.device(device)
        check_cuda_usable(self.device)
        self.int64, self.float32, self.float64, self.bool = (torch.int64, torch.float32,
                                                             torch.float64, torch.bool)
        self.state = torch.float64 if arithmetic == "float" else torch.int64

    def zeros(self, shape, dtype=None):
        return self.torch.zeros(tuple(shape), dtype=self.state if dtype is None else dtype,
                                device=self.device)

    def empty(self, shape, dtype):
        return self.torch.empty(tuple(shape), dtype=dtype, device=self.device)

    def asarray(self, x: Any, dtype=None):
        if isinstance(x, self.torch.Tensor):
            return x.to(device=self.device, dtype=dtype)
        x = np.asarray(x)
        if x.dtype == np.uint64 or (x.dtype.kind == "u" and x.itemsize > 1):
            x = x.astype(np.int64)          # torch has no uint16/32/64 arithmetic
        elif not x.flags.writeable:
            x = x.copy()                    # torch does not take read-only memory
        return self.torch.as_tensor(x, device=self.device, dtype=dtype)

    def to_numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy() if isinstance(x, self.torch.Tensor) else np.asarray(x)

    def cast(self, x, dtype):
        return x.to(dtype)

    def dtype_of(self, x):
        return x.dtype

    def _host(self, *xs) -> bool:
        """True when every tensor lives in host memory outside autograd: numpy's loops then
        run on the same memory (several times torch 2.3's for casts and concatenation on
        one CPU thread)."""
        return self.device.type == "cpu" and all(not x.requires_grad for x in xs)

    def spikes(self, x, dtype):
        if self._host(x) and dtype in _NUMPY_DTYPES:
            a = x.numpy()
            out = a.view(np.uint8).astype(_NUMPY_DTYPES[dtype]) if a.dtype == np.bool_ else \
                np.not_equal(a, 0).astype(_NUMPY_DTYPES[dtype])
            return self.torch.from_numpy(out)
        return (x if x.dtype == self.torch.bool else x != 0).to(dtype)

    def abs_max(self, x) -> int:
        if x.numel() == 0:
            return 0
        return int(max(x.max().item(), -x.min().item()))

    def concat(self, parts, axis: int = 0):
        parts = list(parts)
        if self._host(*parts) and len({p.dtype for p in parts}) == 1:
            return self.torch.from_numpy(np.concatenate([p.numpy() for p in parts], axis=axis))
        return self.torch.cat(parts, dim=axis)

    def roll(self, x, shift: int, axis: int):
        return self.torch.roll(x, shift, dims=axis)

    def sum_last(self, x):
        return x.sum(dim=-1, dtype=self.state)

    def count_nonzero_last(self, x):
        return self.torch.count_nonzero(x.reshape(x.shape[0], x.shape[1], -1), dim=2).to(
            self.torch.int64)

    def pad_hw(self, x, ph: int, pw: int):
        return self.torch.nn.functional.pad(x, (pw, pw, ph, ph))

    def take_cols(self, flat, index):
        return flat[:, index]


#: torch dtype -> numpy dtype of the host fast paths (filled when torch is imported)
_NUMPY_DTYPES: dict = {}


def _numpy_dtypes(torch) -> None:
    if not _NUMPY_DTYPES:
        _NUMPY_DTYPES.update({torch.float32: np.float32, torch.float64: np.float64,
                              torch.int64: np.int64})


def make_backend(device: Optional[Any] = None, arithmetic: str = "float"):
    """numpy for ``device=None``, torch on ``device`` otherwise."""
    if device is None:
        return NumpyBackend(arithmetic)
    return TorchBackend(device, arithmetic)

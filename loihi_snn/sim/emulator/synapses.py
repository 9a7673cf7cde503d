"""Synapses of the emulator: lava's Dense, DelayDense and Conv fixed-point models, batched.

Every synapse reproduces its lava ``fixed_pt`` model step for step:

- it *sends* at step t what it computed at step t-1 (one step of latency; an
  axonal delay d adds d more steps, as lava's ``DelayDense``);
- Dense / DelayDense weights are the loader's (lava-dl ``optimize_weight_bits``),
  then clipped to 8 bits and truncated to ``num_weight_bits`` by lava's
  ``lava.utils.weightutils`` rules (written without Lava in :mod:`loihi_snn.core.weights`)
  with the sign mode lava's model derives;
  the accumulated input is shifted by ``weight_exp`` (per delay slot for DelayDense);
- binary synapses (``num_message_bits == 0``) count any non-zero input as a spike;
  graded synapses multiply by the input value;
- Conv uses the raw kernel (lava's Conv model applies no weight exponent) and wraps
  the result to 24 signed bits (``lava.proc.conv.utils.signed_clamp``).

Numerics: integer products are summed by float32 GEMM / conv (numpy matmul, an im2col
gather + matmul for conv on numpy, ``torch.nn.functional.conv2d`` on torch), which is
exact while every partial sum is an integer below 2**24.  The bound ``max|input| *
max_row sum|w|`` (at most fan-in x max|weight| x max|input|) decides it before the
sums are taken; beyond it the sums take the exact int64 path (torch conv, which has no
integer kernel: float64, exact below 2**53 -- lava's own conv sums in float64 too;
beyond 2**53 a conv raises RunError).  For binary input the bound is known when the
synapse is built; for graded input it costs one reduction per block.  Results
are in the backend's state dtype (float64 integers, or int64 with ``arithmetic="int64"``,
which also sums in int64 wherever the library can).
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import CURRENT_WRAP, STATE_BITS
from loihi_snn.core.errors import RunError
from loihi_snn.core.weights import (clip_weights, determine_sign_mode, signed_clamp,
                                     truncate_weights)
from loihi_snn.sim.emulator.backend import EXACT_FLOAT32, EXACT_FLOAT64, NumpyBackend



def _lava_dense_weights(w_opt: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """What lava's bit-accurate Dense model does to its weights on the first step (lava's
    weight rules as :mod:`loihi_snn.core.weights` writes them: no Lava needed)."""
    sign_mode = determine_sign_mode(w_opt)
    w = clip_weights(np.asarray(w_opt), sign_mode, num_bits=8)
    w = truncate_weights(w, sign_mode, int(num_weight_bits))
    return np.asarray(w, dtype=np.int64)


def _signed_clamp(y):
    """lava's 24-bit wrap of a conv result (``lava.proc.conv.utils.signed_clamp``, as
    :func:`loihi_snn.core.weights.signed_clamp`); its operators work on numpy int/float64
    arrays and torch tensors alike."""
    return signed_clamp(y, bits=STATE_BITS)


#: multiply-adds from which numpy's float32 dense sums run on torch's GEMM
TORCH_GEMM_WORK = 1 << 24


class _Sums:
    """The weights of one synapse in every dtype its sums may use, and the bound that
    picks one (``row_abs`` = max over outputs of sum |w|)."""

    def __init__(self, w_host: np.ndarray, row_abs: int, binary: bool, xb) -> None:
        self.xb = xb
        self.row_abs = int(row_abs)
        self.binary = bool(binary)
        self._host = w_host
        self._cache = {}

    def weights(self, dtype):
        if dtype not in self._cache:
            self._cache[dtype] = self.xb.asarray(self._host).to(dtype) if self.xb.is_torch \
                else np.ascontiguousarray(self._host, dtype=dtype)
        return self._cache[dtype]

    def bound(self, x) -> int:
        """``max|x| * row_abs``: no sum of ``x`` times the weights is larger in magnitude
        (``max|x|`` is 1 for binary input, known without looking)."""
        xb = self.xb
        peak = 1 if (self.binary or x.dtype == xb.bool) else xb.abs_max(x)
        return peak * max(1, self.row_abs)

    def float_dtype(self, x, bound: Optional[int] = None):
        """float32 / float64 when every partial sum of ``x`` times the weights is exact
        in it (:meth:`bound`), else None."""
        xb = self.xb
        bound = self.bound(x) if bound is None else bound
        if bound < EXACT_FLOAT32:
            return xb.float32
        if bound < EXACT_FLOAT64:
            return xb.float64
        return None

    def dtype(self, x):
        """The dtype of dense sums: float32 when the bound proves them exact in it, the
        exact int64 path otherwise (and always with ``arithmetic="int64"``)."""
        if self.xb.arithmetic == "int64":
            return self.xb.int64
        return self.xb.float32 if self.float_dtype(x) == self.xb.float32 else self.xb.int64


class DenseSynapse:
    """Lava ``Dense`` / ``DelayDense`` (bit-accurate) for a batch.

    Parameters
    ----------
    weight : (out, in) int array
        optimised weight mantissas as the loader passes them to lava.
    num_weight_bits, weight_exp : int
        as the loader passes them.
    binary : bool
        True when the synapse's ``num_message_bits`` is 0 (binary spikes).
    delay : (out, in) int array, optional
        axonal delays in steps (``DelayDense``); None for a plain ``Dense``.
    backend : NumpyBackend or TorchBackend, optional
        array library, device and arithmetic (default: numpy, float).
    """

    def __init__(self, weight: np.ndarray, num_weight_bits: int, weight_exp: int,
                 binary: bool, delay: Optional[np.ndarray] = None, backend=None) -> None:
        self.xb = xb = backend if backend is not None else NumpyBackend()
        w = _lava_dense_weights(weight, num_weight_bits)
        self.n_out, self.n_in = w.shape
        self.weight_exp = int(weight_exp)
        self.binary = bool(binary)
        if delay is None:
            self.slots = (0,)
            stacked = w
        else:
            delay = np.asarray(delay, dtype=np.int64)
            self.slots = tuple(int(k) for k in np.unique(delay))
            stacked = np.vstack([np.where(delay == k, w, 0) for k in self.slots])
        self.depth = max(self.slots) + 1           # ring buffer length (steps)
        w_t = np.ascontiguousarray(stacked.T)       # (in, K*out)
        self.sums = _Sums(w_t, int(np.abs(stacked).sum(axis=1).max(initial=0)), binary, xb)
        self.row_abs = self.sums.row_abs
        #: (in, K*out) weights in the state dtype (the one-sample sparse path)
        self.w_state = xb.asarray(w_t).to(xb.state) if xb.is_torch else w_t.astype(xb.state)

    def init_state(self, batch: int) -> List:
        """[ring (depth, N, out), head index]: ring[(head + j) % depth] is sent j steps
        from now (backend state dtype; a depth-1 ring starts as float32 zeros on the float
        path, as the float32 sums that replace it, so a block's sends stay float32)."""
        xb = self.xb
        dtype = xb.float32 if (self.depth == 1 and xb.arithmetic == "float") else xb.state
        return [xb.zeros((self.depth, batch, self.n_out), dtype), 0]

    def _matmul(self, x, dtype):
        xb = self.xb
        w = self.sums.weights(dtype)
        xs = xb.spikes(x, dtype) if self.binary else xb.cast(x, dtype)
        if xb.is_torch and dtype == xb.int64 and xb.device.type != "cpu":
            # no integer GEMM on accelerators: the (rare) int64 sums run on the host
            return (xs.cpu() @ w.cpu()).to(xb.device)
        if (not xb.is_torch and dtype == np.float32
                and xs.shape[0] * xs.shape[1] * w.shape[1] >= TORCH_GEMM_WORK):
            # a large batch of float32 sums (exact integers: the bound chose float32)
            # through torch's GEMM on the same memory, as the conv sums: on one thread
            # 1.6x (4096x64 @ 64x128) to 3.4x (512x4096 @ 4096x256) numpy's OpenBLAS
            # here; small products stay in numpy, whose call costs less
            import torch    # lazy, as _conv_torch
            return torch.from_numpy(np.ascontiguousarray(xs)).matmul(
                torch.from_numpy(w)).numpy()
        return xs @ w

    def _accumulate(self, x):
        """(N, in) -> (N, K, out): weighted input per delay slot, after weight_exp."""
        xb = self.xb
        x = x.reshape(x.shape[0], -1)
        if (not xb.is_torch and x.shape[0] == 1 and self.binary
                and x.dtype.kind in "biu"):
            # one sample of spikes: sum the spiking rows
            a = self.w_state[np.flatnonzero(x[0])].sum(axis=0, keepdims=True)
        else:
            a = self._matmul(x, self.sums.dtype(x))
            if a.dtype != xb.float32:       # float32 sums (exact integers) are used as they
                a = xb.cast(a, xb.state)    # are: core takes float32 input, exactly
        a = fixed.accumulate_weight_exp(a, self.weight_exp)
        return a.reshape(x.shape[0], len(self.slots), self.n_out)

    def send(self, state: List):
        """What the synapse sends at this step, (N, out) (not changed by a later
        :meth:`receive`)."""
        ring, head = state
        return ring[head] if self.depth == 1 else ring[head].clone() if self.xb.is_torch \
            else ring[head].copy()

    def run_block(self, state: List, x):
        """Many steps at once: ``x`` (T, N, ...) is the input of T consecutive steps;
        returns what the synapse sends at each of them, (T, N, out), exactly as T
        calls of ``send`` then ``receive`` (``state`` is left as after the last).

        The input of step t is sent at steps ``t + 1 + k`` (k = each delay slot): a
        timeline of T + depth steps holds what is already pending in the ring (the
        next ``depth`` steps) plus this block's contributions.
        """
        xb = self.xb
        T, n = x.shape[0], x.shape[1]
        ring, head = state
        a = self._accumulate(x.reshape((T * n,) + tuple(x.shape[2:]))).reshape(
            T, n, len(self.slots), self.n_out)
        if self.depth == 1:
            # numpy: the sends in the state dtype (float64 neurons then add without
            # mixed-dtype loops); torch keeps the float32 sums
            parts = [ring[head][None], a[:-1, :, 0]]
            sends = xb.concat(parts) if xb.is_torch else xb.concat(parts, dtype=xb.state)
            state[0] = a[-1:, :, 0]                     # a new (1, N, out)
            return sends
        timeline = xb.zeros((T + self.depth, n, self.n_out))
        timeline[:self.depth] = xb.roll(ring, -head, axis=0)   # ring[(head + j) % depth]
        for i, k in enumerate(self.slots):
            timeline[1 + k:1 + k + T] += a[:, :, i]
        state[0] = timeline[T:].clone() if xb.is_torch else np.ascontiguousarray(timeline[T:])
        state[1] = 0
        return timeline[:T]

    def receive(self, state: List, x) -> None:
        """Take this step's input (N, ...) and schedule its effect (call after send)."""
        ring, head = state
        if self.depth == 1:
            state[0] = self._accumulate(x)[:, 0][None]     # a new (1, N, out)
            return
        ring[head] = 0
        head = (head + 1) % self.depth
        a = self._accumulate(x)
        for i, k in enumerate(self.slots):
            ring[(head + k) % self.depth] += a[:, i]
        state[1] = head


class ComplexSynapse:
    """lava-dl netx's ``ComplexDense`` synapses for a batch: two :class:`DenseSynapse` s
    (real and imaginary weights, each with its own exponent) on the same input; sends
    ``(N, 2, out)`` (real, imaginary)."""

    def __init__(self, real: DenseSynapse, imag: DenseSynapse) -> None:
        self.real, self.imag, self.xb = real, imag, real.xb

    def init_state(self, batch: int) -> List:
        return [self.real.init_state(batch), self.imag.init_state(batch)]

    def _pair(self, r, i, axis: int):
        xb = self.xb
        r, i = xb.cast(r, xb.state), xb.cast(i, xb.state)
        shape = tuple(r.shape[:axis]) + (1,) + tuple(r.shape[axis:])
        return xb.concat([r.reshape(shape), i.reshape(shape)], axis=axis)

    def send(self, state: List):
        return self._pair(self.real.send(state[0]), self.imag.send(state[1]), 1)

    def run_block(self, state: List, x):
        return self._pair(self.real.run_block(state[0], x), self.imag.run_block(state[1], x), 2)

    def receive(self, state: List, x) -> None:
        self.real.receive(state[0], x)
        self.imag.receive(state[1], x)


class ConvSynapse:
    """Lava ``Conv`` (fixed_pt) for a batch, in file order (N, C, H, W).

    Float sums (float32 under the bound; float64 for torch beyond it): torch's
    ``conv2d`` on the CPU (numpy arrays are passed without a copy), an unfold + GEMM on
    other devices (cuDNN may pick Winograd/FFT algorithms or TF32, which are not exact
    on integers).  int64 sums (numpy, beyond the bound or ``arithmetic="int64"``): an
    im2col gather (index arrays built once) followed by one matmul per group.  All are
    a cross-correlation with the SLAYER kernel, which is what lava's ``Conv`` computes
    from the kernel the loader flips into lava's layout (checked against
    ``lava.proc.conv.utils.conv`` in tests/unit/test_emulator.py).

    Parameters
    ----------
    weight : (Cout, Cin/groups, kH, kW) int array
        SLAYER/NetX kernel.
    in_shape, out_shape : (C, H, W)
    stride, padding, dilation : (H, W) pairs
    groups : int
    binary : bool
        True when the synapse's ``num_message_bits`` is 0.
    backend : NumpyBackend or TorchBackend, optional
    """

    MAX_GATHER = 1 << 24        # numpy: elements gathered per piece of the batch
    MAX_OUTPUT = 1 << 26        # torch: output elements per conv2d call

    def __init__(self, weight: np.ndarray, in_shape, out_shape, stride, padding, dilation,
                 groups: int, binary: bool, backend=None) -> None:
        self.xb = xb = backend if backend is not None else NumpyBackend()
        w = np.asarray(weight, dtype=np.int64)
        cout, cin_g, kh, kw = w.shape
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        c, h, wd = self.in_shape
        _, ho, wo = self.out_shape
        (sh, sw), (ph, pw), (dh, dw) = tuple(stride), tuple(padding), tuple(dilation)
        self.stride, self.dilation = (int(sh), int(sw)), (int(dh), int(dw))
        self.groups = g = int(groups)
        self.padding = (int(ph), int(pw))
        self.binary = bool(binary)
        row_abs = int(np.abs(w).reshape(cout, -1).sum(axis=1).max(initial=0))
        self.kernel = w                                       # (Cout, Cin/G, kh, kw) int64
        self._torch_w = {}
        if xb.is_torch:
            self.sums = _Sums(w, row_abs, binary, xb)       # conv2d weights as they are
            self.index = None
        else:
            hp, wp = h + 2 * ph, wd + 2 * pw
            # flat index into the padded input of every (group, output pixel, kernel tap)
            rows = ((np.arange(ho) * sh)[:, None, None, None]
                    + (np.arange(kh) * dh)[None, None, :, None])
            cols = ((np.arange(wo) * sw)[None, :, None, None]
                    + (np.arange(kw) * dw)[None, None, None, :])
            pix = (rows * wp + cols).reshape(ho * wo, 1, kh * kw)             # (P, 1, kh*kw)
            chan = (np.arange(g)[:, None] * cin_g + np.arange(cin_g)[None, :]) * (hp * wp)
            # (G, P, K) with K = (Cin/G, kh, kw) in the kernel's C order
            self.index = (chan[:, None, :, None] + pix[None]).reshape(g, ho * wo,
                                                                      cin_g * kh * kw)
            wg = w.reshape(g, cout // g, cin_g * kh * kw).transpose(0, 2, 1)  # (G, K, Cout/G)
            self.sums = _Sums(wg, row_abs, binary, xb)
        self.row_abs = row_abs

    def init_state(self, batch: int) -> List:
        """[what is sent next, (N, *out_shape)]: float32 on the float path (a conv sends
        24-bit wrapped integers, all exact in float32), else the state dtype."""
        xb = self.xb
        dtype = xb.float32 if xb.arithmetic == "float" else xb.state
        return [xb.zeros((batch,) + self.out_shape, dtype)]

    def send(self, state: List):
        return state[0]

    def _conv_numpy(self, x: np.ndarray, dtype) -> np.ndarray:
        """(n, C, H, W) -> (n, Cout, Ho, Wo) exact integer sums in ``dtype``."""
        n = x.shape[0]
        ph, pw = self.padding
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        flat = x.reshape(n, -1)
        g, p, k = self.index.shape
        w = self.sums.weights(dtype)
        y = np.empty((n, g, w.shape[2], p), dtype)
        for i in range(g):                 # one BLAS matmul per group: (n*P, K) @ (K, Cout/G)
            cols = flat[:, self.index[i]].reshape(n * p, k)
            y[:, i] = (cols @ w[i]).reshape(n, p, -1).transpose(0, 2, 1)
        return y.reshape((n,) + self.out_shape)

    def _conv_torch(self, x, dtype):
        """(n, C, H, W) float tensor -> (n, Cout, Ho, Wo): exact integer sums in ``dtype``."""
        import torch    # lazy: only for float conv sums
        import torch.nn.functional as F
        key = (dtype, x.device)
        if key not in self._torch_w:
            self._torch_w[key] = torch.tensor(self.kernel, dtype=dtype, device=x.device)
        w = self._torch_w[key]
        if x.device.type == "cpu":
            return F.conv2d(x, w, stride=self.stride, padding=self.padding,
                            dilation=self.dilation, groups=self.groups)
        # accelerators: unfold + GEMM per group (a plain sum of exact integer products)
        n = x.shape[0]
        g, (cout, cin_g, kh, kw) = self.groups, w.shape
        cols = F.unfold(x, (kh, kw), dilation=self.dilation, padding=self.padding,
                        stride=self.stride)                 # (n, Cin*kh*kw, P)
        cols = cols.reshape(n, g, cin_g * kh * kw, -1)
        wg = w.reshape(g, cout // g, cin_g * kh * kw)
        y = torch.matmul(wg[None], cols)                    # (n, G, Cout/G, P)
        return y.reshape((n,) + self.out_shape)

    def _float_dtype_ok(self, dtype) -> bool:
        """float32 GEMM on CUDA is exact only without TF32."""
        if dtype != self.xb.float32 or not self.xb.is_torch or self.xb.device.type == "cpu":
            return True
        return not self.xb.torch.backends.cuda.matmul.allow_tf32

    def run_block(self, state: List, x):
        """T steps at once: ``x`` (T, N, C, H, W) -> what is sent at each, (T, N, ...out)
        (step t sends the result of step t-1), as T calls of ``send`` + ``receive``."""
        T, n = x.shape[0], x.shape[1]
        first = state[0]
        self.receive(state, x.reshape((T * n,) + tuple(x.shape[2:])))
        y = state[0].reshape((T, n) + self.out_shape)
        state[0] = y[-1]
        return self.xb.concat([first[None], y[:-1]])

    def receive(self, state: List, x) -> None:
        xb = self.xb
        n = x.shape[0]
        x = x.reshape((n,) + self.in_shape)
        bound = self.sums.bound(x)
        dtype = self.sums.float_dtype(x, bound)
        if dtype is None:
            raise RunError("conv input too large for exact float64 accumulation; lava's "
                           "own conv model sums in float64 too, so no bit-exact result exists")
        if xb.arithmetic == "int64" or dtype != xb.float32 or not self._float_dtype_ok(dtype):
            # the exact integer path (torch has no integer conv: float64, exact here)
            dtype = xb.float64 if xb.is_torch else xb.int64
        x = xb.spikes(x, dtype) if self.binary else xb.cast(x, dtype)
        if xb.is_torch or dtype == np.float32:
            import torch    # lazy: float conv sums run in torch (numpy arrays without a copy)
            t = x if xb.is_torch else torch.from_numpy(np.ascontiguousarray(x))
            per = max(1, int(np.prod(self.out_shape)))
            chunk = max(1, self.MAX_OUTPUT // per)
            y = torch.cat([self._conv_torch(t[i:i + chunk], t.dtype) for i in range(0, n, chunk)]) \
                if n > chunk else self._conv_torch(t, t.dtype)
            if not xb.is_torch:
                y = y.numpy()
        else:
            chunk = max(1, self.MAX_GATHER // max(1, self.index.size))
            y = np.concatenate([self._conv_numpy(x[i:i + chunk], dtype)
                                for i in range(0, n, chunk)]) \
                if n > chunk else self._conv_numpy(x, dtype)
        if dtype == xb.float32 and xb.arithmetic == "float" and bound < CURRENT_WRAP:
            state[0] = y        # exact float32 integers below 2**23: the wrap is the identity
            return
        y = xb.cast(y, xb.state)
        if xb.abs_max(y) >= CURRENT_WRAP:   # lava's 24-bit wrap (else identity)
            y = _signed_clamp(y)
        state[0] = y

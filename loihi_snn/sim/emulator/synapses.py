"""Synapses of the emulator: lava's Dense, DelayDense and Conv fixed-point models, batched.

Every synapse reproduces its lava ``fixed_pt`` model step for step:

- it *sends* at step t what it computed at step t-1 (one step of latency; an
  axonal delay d adds d more steps, as lava's ``DelayDense``);
- Dense / DelayDense weights are the loader's (lava-dl ``optimize_weight_bits``),
  then clipped to 8 bits and truncated to ``num_weight_bits`` with lava's own
  ``lava.utils.weightutils`` functions and the sign mode lava's model derives;
  the accumulated input is shifted by ``weight_exp`` (per delay slot for DelayDense);
- binary synapses (``num_message_bits == 0``) count any non-zero input as a spike;
  graded synapses multiply by the input value;
- Conv uses the raw kernel (lava's Conv model applies no weight exponent) and wraps
  the result to 24 signed bits (``lava.proc.conv.utils.signed_clamp``).

Numerics: integer products are summed in floating point by BLAS (``numpy`` matmul for
dense, an im2col gather + matmul for conv), which is exact while every partial sum
is an integer the format represents exactly: each call bounds ``max|input| * max_row
sum|w|`` and uses float32 below 2**24, float64 below 2**53, and int64 arithmetic (dense)
or an error (conv; lava's own conv sums in float64) beyond.  Results are numpy ``int64``.
"""
from __future__ import annotations

from typing import List, Optional

import numpy as np

from loihi_snn.core import fixed
from loihi_snn.core.constants import CURRENT_WRAP, STATE_BITS
from loihi_snn.core.errors import RunError

EXACT_FLOAT32 = 1 << 24     # float32 represents every integer below this exactly
EXACT_FLOAT = 1 << 53       # float64 represents every integer below this exactly


def _exact_float_dtype(x: np.ndarray, row_abs: int):
    """float32 / float64 if every partial sum of ``x @ w`` is exact in it, else None."""
    bound = (1 if x.dtype == np.bool_ else int(np.abs(x).max(initial=0))) * max(1, row_abs)
    if bound < EXACT_FLOAT32:
        return np.float32
    if bound < EXACT_FLOAT:
        return np.float64
    return None


def _lava_dense_weights(w_opt: np.ndarray, num_weight_bits: int) -> np.ndarray:
    """What lava's bit-accurate Dense model does to its weights on the first step."""
    # lazy: lava's own weight rules, imported only when a synapse is built, so importing
    # the emulator (and so read-only tools) does not import Lava
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights
    sign_mode = determine_sign_mode(w_opt)
    w = clip_weights(np.asarray(w_opt), sign_mode, num_bits=8)
    w = truncate_weights(w, sign_mode, int(num_weight_bits))
    return np.asarray(w, dtype=np.int64)


def _as_input(x: np.ndarray, binary: bool) -> np.ndarray:
    """Values a synapse multiplies: 0/1 for a binary synapse, the value otherwise."""
    if binary:
        return x if x.dtype == np.bool_ else (x != 0)
    return x


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
    """

    def __init__(self, weight: np.ndarray, num_weight_bits: int, weight_exp: int,
                 binary: bool, delay: Optional[np.ndarray] = None) -> None:
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
        self.w_int = np.ascontiguousarray(stacked.T)            # (in, K*out) int64
        self.w_float = {np.float32: self.w_int.astype(np.float32),
                        np.float64: self.w_int.astype(np.float64)}
        self.row_abs = int(np.abs(stacked).sum(axis=1).max(initial=0))

    def init_state(self, batch: int) -> List:
        """[ring (depth, N, out) int64, head index]: ring[(head + j) % depth] is sent
        j steps from now."""
        return [np.zeros((self.depth, batch, self.n_out), np.int64), 0]

    def _accumulate(self, x: np.ndarray) -> np.ndarray:
        """(N, in) -> (N, K, out): weighted input per delay slot, after weight_exp."""
        x = _as_input(x.reshape(x.shape[0], -1), self.binary)
        if x.dtype == np.bool_ and x.shape[0] == 1:     # one sample: sum the spiking rows
            a = self.w_int[np.flatnonzero(x[0])].sum(axis=0, keepdims=True)
        else:
            dtype = _exact_float_dtype(x, self.row_abs)
            if dtype is None:
                a = x.astype(np.int64) @ self.w_int
            else:
                a = (x.astype(dtype) @ self.w_float[dtype]).astype(np.int64)
        a = fixed.accumulate_weight_exp(a, self.weight_exp)
        return a.reshape(x.shape[0], len(self.slots), self.n_out)

    def send(self, state: List) -> np.ndarray:
        """What the synapse sends at this step, (N, out) int64 (not changed by
        a later :meth:`receive`)."""
        ring, head = state
        return ring[head] if self.depth == 1 else ring[head].copy()

    def run_block(self, state: List, x: np.ndarray) -> np.ndarray:
        """Many steps at once: ``x`` (T, N, ...) is the input of T consecutive steps;
        returns what the synapse sends at each of them, (T, N, out), exactly as T
        calls of ``send`` then ``receive`` (``state`` is left as after the last).

        The input of step t is sent at steps ``t + 1 + k`` (k = each delay slot): a
        timeline of T + depth steps holds what is already pending in the ring (the
        next ``depth`` steps) plus this block's contributions.
        """
        T, n = x.shape[0], x.shape[1]
        ring, head = state
        a = self._accumulate(x.reshape((T * n,) + x.shape[2:])).reshape(
            T, n, len(self.slots), self.n_out)
        if self.depth == 1:
            sends = np.empty((T, n, self.n_out), np.int64)
            sends[0] = ring[head]
            sends[1:] = a[:-1, :, 0]
            state[0] = a[-1:, :, 0]                     # a new (1, N, out)
            return sends
        timeline = np.zeros((T + self.depth, n, self.n_out), np.int64)
        timeline[:self.depth] = np.roll(ring, -head, axis=0)   # ring[(head + j) % depth]
        for i, k in enumerate(self.slots):
            timeline[1 + k:1 + k + T] += a[:, :, i]
        state[0] = np.ascontiguousarray(timeline[T:])
        state[1] = 0
        return timeline[:T]

    def receive(self, state: List, x: np.ndarray) -> None:
        """Take this step's input (N, ...) and schedule its effect (call after send)."""
        ring, head = state
        if self.depth == 1:
            state[0] = self._accumulate(x).transpose(1, 0, 2)     # a new (1, N, out)
            return
        ring[head] = 0
        head = (head + 1) % self.depth
        a = self._accumulate(x)
        for i, k in enumerate(self.slots):
            ring[(head + k) % self.depth] += a[:, i]
        state[1] = head


class ConvSynapse:
    """Lava ``Conv`` (fixed_pt) for a batch, in file order (N, C, H, W).

    The convolution is an im2col gather (index arrays built once) followed by one BLAS
    matmul per group: a cross-correlation with the SLAYER kernel, which is what lava's
    ``Conv`` computes from the kernel the loader flips into lava's layout (checked
    against ``lava.proc.conv.utils.conv`` in tests/unit/test_emulator.py).

    Parameters
    ----------
    weight : (Cout, Cin/groups, kH, kW) int array
        SLAYER/NetX kernel.
    in_shape, out_shape : (C, H, W)
    stride, padding, dilation : (H, W) pairs
    groups : int
    binary : bool
        True when the synapse's ``num_message_bits`` is 0.
    """

    MAX_GATHER = 1 << 24        # elements gathered per chunk of the batch

    def __init__(self, weight: np.ndarray, in_shape, out_shape, stride, padding, dilation,
                 groups: int, binary: bool) -> None:
        w = np.asarray(weight, dtype=np.int64)
        cout, cin_g, kh, kw = w.shape
        self.in_shape = tuple(int(s) for s in in_shape)
        self.out_shape = tuple(int(s) for s in out_shape)
        c, h, wd = self.in_shape
        _, ho, wo = self.out_shape
        (sh, sw), (ph, pw), (dh, dw) = tuple(stride), tuple(padding), tuple(dilation)
        self.groups = g = int(groups)
        self.padding = (int(ph), int(pw))
        hp, wp = h + 2 * ph, wd + 2 * pw
        # flat index into the padded input of every (group, output pixel, kernel tap)
        rows = (np.arange(ho) * sh)[:, None, None, None] + (np.arange(kh) * dh)[None, None, :, None]
        cols = (np.arange(wo) * sw)[None, :, None, None] + (np.arange(kw) * dw)[None, None, None, :]
        pix = (rows * wp + cols).reshape(ho * wo, 1, kh * kw)             # (P, 1, kh*kw)
        chan = (np.arange(g)[:, None] * cin_g + np.arange(cin_g)[None, :]) * (hp * wp)
        # (G, P, K) with K = (Cin/G, kh, kw) in the kernel's C order
        self.index = (chan[:, None, :, None] + pix[None]).reshape(g, ho * wo, cin_g * kh * kw)
        wg = w.reshape(g, cout // g, cin_g * kh * kw).transpose(0, 2, 1)   # (G, K, Cout/G)
        self.w_float = {np.float32: np.ascontiguousarray(wg, dtype=np.float32),
                        np.float64: np.ascontiguousarray(wg, dtype=np.float64)}
        self.binary = bool(binary)
        self.row_abs = int(np.abs(w).reshape(cout, -1).sum(axis=1).max(initial=0))
        from lava.proc.conv.utils import signed_clamp  # lazy (see above): lava's 24-bit wrap
        self._signed_clamp = signed_clamp

    def init_state(self, batch: int) -> List:
        return [np.zeros((batch,) + self.out_shape, np.int64)]

    def send(self, state: List) -> np.ndarray:
        return state[0]

    def _conv(self, x: np.ndarray, dtype) -> np.ndarray:
        """(n, C, H, W) -> (n, Cout, Ho, Wo) exact integer sums in ``dtype``."""
        n = x.shape[0]
        ph, pw = self.padding
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        flat = x.reshape(n, -1)
        g, p, k = self.index.shape
        w = self.w_float[dtype]
        y = np.empty((n, g, w.shape[2], p), dtype)
        for i in range(g):                 # one BLAS matmul per group: (n*P, K) @ (K, Cout/G)
            cols = flat[:, self.index[i]].astype(dtype).reshape(n * p, k)
            y[:, i] = (cols @ w[i]).reshape(n, p, -1).transpose(0, 2, 1)
        return y.reshape((n,) + self.out_shape)

    def run_block(self, state: List, x: np.ndarray) -> np.ndarray:
        """T steps at once: ``x`` (T, N, C, H, W) -> what is sent at each, (T, N, ...out)
        (step t sends the result of step t-1), as T calls of ``send`` + ``receive``."""
        T, n = x.shape[0], x.shape[1]
        first = state[0]
        self.receive(state, x.reshape((T * n,) + x.shape[2:]))
        y = state[0].reshape((T, n) + self.out_shape)
        sends = np.empty_like(y)
        sends[0] = first
        sends[1:] = y[:-1]
        state[0] = np.ascontiguousarray(y[-1])
        return sends

    def receive(self, state: List, x: np.ndarray) -> None:
        n = x.shape[0]
        x = _as_input(x.reshape((n,) + self.in_shape), self.binary)
        dtype = _exact_float_dtype(x, self.row_abs)
        if dtype is None:
            raise RunError("conv input too large for exact float64 accumulation; lava's "
                           "own conv model sums in float64 too, so no bit-exact result exists")
        chunk = max(1, self.MAX_GATHER // max(1, self.index.size))
        y = np.concatenate([self._conv(x[i:i + chunk], dtype) for i in range(0, n, chunk)]) \
            if n > chunk else self._conv(x, dtype)
        y = y.astype(np.int64)
        if np.abs(y).max(initial=0) >= CURRENT_WRAP:   # lava's 24-bit wrap (else identity)
            y = self._signed_clamp(y, bits=STATE_BITS)
        state[0] = y

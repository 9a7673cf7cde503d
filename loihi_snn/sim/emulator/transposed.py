"""The emulator's ``convT`` / ``unpool`` synapse: a gather into the stuffed map, then the
emulator's own :class:`~loihi_snn.sim.emulator.synapses.ConvSynapse`.

The lowering (gather index, equivalent kernel) is :func:`loihi_snn.netx.transposed.lower_transposed`,
the one the Lava loader builds its ``Gather`` process and lava ``Conv`` from, so both
run the same integer sums; the conv keeps lava's ``Conv`` fixed_pt behaviour (one step
of latency, 24-bit wrap, exact sums).
"""
from __future__ import annotations

from typing import List

import numpy as np

from loihi_snn.netx.transposed import StuffedConv
from loihi_snn.sim.emulator.backend import NumpyBackend
from loihi_snn.sim.emulator.synapses import ConvSynapse


class StuffedConvSynapse:
    """A transposed conv (or SLAYER unpool) for a batch: ``gather`` then ``ConvSynapse``.

    Parameters
    ----------
    sc : StuffedConv
        the layer's lowering (file order).
    binary : bool
        True when the synapse's ``num_message_bits`` is 0.
    backend : NumpyBackend or TorchBackend, optional

    Sends (N, *sc.conv_shape) values (the layer's shape after a C-order reshape).
    """

    def __init__(self, sc: StuffedConv, binary: bool, backend=None) -> None:
        self.xb = xb = backend if backend is not None else NumpyBackend()
        self.sc = sc
        self.conv = ConvSynapse(sc.kernel, sc.stuffed_shape, sc.conv_shape, (1, 1), (0, 0),
                                sc.dilation, sc.groups, binary=binary, backend=xb)
        self.row_abs = self.conv.row_abs
        pos = np.flatnonzero(sc.index >= 0)
        self._pos, self._src = xb.asarray(pos), xb.asarray(sc.index[pos])

    def _gather(self, x):
        """(n, ...input) -> (n, stuffed size), zeros between the input pixels."""
        n = x.shape[0]
        flat = x.reshape(n, -1)
        out = self.xb.zeros((n, self.sc.stuffed_size), self.xb.dtype_of(flat))
        out[:, self._pos] = flat[:, self._src]
        return out

    def init_state(self, batch: int) -> List:
        return self.conv.init_state(batch)

    def send(self, state: List):
        return self.conv.send(state)

    def receive(self, state: List, x) -> None:
        self.conv.receive(state, self._gather(x))

    def run_block(self, state: List, x):
        """T steps at once: ``x`` (T, N, ...) -> the sends (T, N, *conv_shape)."""
        T, n = x.shape[0], x.shape[1]
        g = self._gather(x.reshape((T * n,) + tuple(x.shape[2:])))
        return self.conv.run_block(state, g.reshape((T, n, -1)))

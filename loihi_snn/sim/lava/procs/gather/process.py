"""Gather: a stateless rearrangement of a layer's input (the stuffing of a ``convT`` /
``unpool`` layer, :mod:`loihi_snn.netx.transposed`)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var


class Gather(AbstractProcess):
    """``a_out.flat[j] = a_in.flat[index[j]]`` (0 where ``index[j] < 0``), in the step
    the input arrives (no added latency, no arithmetic).

    Parameters
    ----------
    in_shape, out_shape : tuple of int
        port shapes, Lava order ((W, H, C)).
    index : (prod(out_shape),) int array
        for each C-order position of ``a_out``, the C-order position of ``a_in`` it
        takes, or -1 for a zero (:func:`loihi_snn.netx.transposed.lava_index`).

    Ports
    -----
    a_in : ``in_shape``, spikes or graded values received at step t.
    a_out : ``out_shape``, the rearranged values sent at the same step t.
    """

    def __init__(self, *, in_shape: Tuple[int, ...], out_shape: Tuple[int, ...],
                 index: np.ndarray, name: Optional[str] = None) -> None:
        index = np.asarray(index, dtype=np.int64).reshape(-1)
        if index.size != int(np.prod(out_shape)):
            raise ValueError(f"index has {index.size} entries for an output of {out_shape}")
        super().__init__(in_shape=tuple(in_shape), out_shape=tuple(out_shape), name=name)
        self.a_in = InPort(shape=tuple(in_shape))
        self.a_out = OutPort(shape=tuple(out_shape))
        self.index = Var(shape=(index.size,), init=index)

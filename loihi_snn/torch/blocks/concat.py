"""Skip connections for SLAYER-style block lists: :class:`Concat` and :class:`SkipNet`.

SLAYER has no concat block (its object-detection models call ``torch.cat`` in their own
``forward`` and cannot be exported); stock netx refuses the ``concat`` layer type.  A
:class:`Concat` is a block without neurons or synapses: in a :class:`SkipNet` it
returns ``torch.cat`` of earlier blocks' outputs along dim 1 -- channels of
(N, C, H, W, T) maps, features of (N, n, T) vectors -- and it exports as the NetX
superset's ``concat`` layer (:mod:`loihi_snn.netx.concat`: ``inputs`` = the file's layer
indices).  The concatenation adds no step: every block's output is already SLAYER's
delay-shifted output, which is what each Lava layer sends at the same step, so the
layer after a Concat sees the branches aligned exactly as every runner builds them.

Example (a small U-Net-like net on (2, 8, 8) maps; -1 is the network input)::

    blocks = [cuba.Conv(p, 2, 4, 3, padding=1),            # 0: (4, 8, 8)
              cuba.Conv(p, 4, 8, 3, stride=2, padding=1),  # 1: (8, 4, 4)
              cuba.ConvT(p, 8, 4, 2, stride=2),            # 2: (4, 8, 8)
              Concat([2, 0]),                              # 3: (8, 8, 8)
              cuba.Conv(p, 8, 3, 3, padding=1), ...]
    net = SkipNet(blocks)
    y = net(x)                                   # x (N, 2, 8, 8, T)
    export_blocks(net.blocks, "unet.net", input_shape=(2, 8, 8))

Sources are block indices (earlier than the Concat) or -1 for the network input, which
the file must then hold as its layer 0 (``export_blocks(..., input_shape=...)``).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np
import torch

from loihi_snn.core.args import show
from loihi_snn.core.errors import OptionError

#: the source index of the network input
NETWORK_INPUT = -1


class Concat(torch.nn.Module):
    """Concatenate earlier blocks' outputs along dim 1 (see the module docstring).

    Parameters
    ----------
    inputs : sequence of int
        block indices, each earlier than this block, or -1 (:data:`NETWORK_INPUT`).
    """

    #: :func:`loihi_snn.torch.export.export_blocks` passes the file's layer offset
    export_layer_offset = True

    def __init__(self, inputs: Sequence[int]) -> None:
        super().__init__()
        try:
            self.inputs = tuple(int(j) for j in inputs)
        except (TypeError, ValueError):
            self.inputs = ()
        if not self.inputs or any(j < NETWORK_INPUT for j in self.inputs):
            raise OptionError(f"Concat inputs must be a non-empty list of earlier block "
                              f"indices (or -1 for the network input), got {show(inputs)}")
        self.neuron = None
        self.shape: Optional[tuple] = None      # (C.., ) set on the first forward

    def forward(self, parts: List[torch.Tensor]) -> torch.Tensor:
        """``parts`` the sources' outputs (N, C.., T), in order; returns their cat."""
        ranks = {p.dim() for p in parts}
        if len(ranks) != 1:
            raise OptionError(f"Concat{list(self.inputs)} mixes maps and vectors "
                              f"({[tuple(p.shape[1:-1]) for p in parts]}); flatten first")
        y = torch.cat(parts, dim=1)
        self.shape = tuple(int(s) for s in y.shape[1:-1])
        return y

    def export_hdf5(self, handle, layer_offset: int = 0) -> None:
        """Write the ``concat`` layer: block j is file layer ``j + layer_offset``, the
        network input (-1) file layer 0 (``layer_offset`` must then be 1)."""
        if self.shape is None:
            raise OptionError("Concat has no shape yet: run the network once before "
                              "exporting")
        layers = []
        for j in self.inputs:
            if j == NETWORK_INPUT:
                if layer_offset < 1:
                    raise OptionError(f"Concat{list(self.inputs)} takes the network input "
                                      f"(-1), which the file holds only as an input layer: "
                                      f"export with input_shape=...")
                layers.append(0)
            else:
                layers.append(j + layer_offset)
        handle.create_dataset("type", (1,), "S10", [b"concat"])
        handle.create_dataset("shape", data=np.asarray(self.shape, dtype=np.int64))
        handle.create_dataset("inputs", data=np.asarray(layers, dtype=np.int64))


class SkipNet(torch.nn.Module):
    """A block list whose :class:`Concat` blocks take earlier outputs (time last).

    ``forward(x)`` runs the blocks in order: a Concat receives its sources' outputs, any
    other block the previous output.  ``blocks`` is a ``torch.nn.ModuleList`` for
    :func:`loihi_snn.torch.export.export_blocks`.
    """

    def __init__(self, blocks: Sequence[torch.nn.Module]) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(blocks)
        for i, b in enumerate(self.blocks):
            if isinstance(b, Concat) and any(j >= i for j in b.inputs):
                raise OptionError(f"block {i}: Concat{list(b.inputs)} takes a block that is "
                                  f"not before it")
        if self.blocks and isinstance(self.blocks[-1], Concat):
            raise OptionError("a Concat cannot be the last block: it feeds the block after it")

    def forward(self, x: torch.Tensor, return_layers: bool = False):
        """``x`` (N, C.., T) -> the last block's output; with ``return_layers`` also
        every block's output, in order."""
        outs: List[torch.Tensor] = []
        y = x
        for b in self.blocks:
            if isinstance(b, Concat):
                y = b([x if j == NETWORK_INPUT else outs[j] for j in b.inputs])
            else:
                y = b(y)
            outs.append(y)
        return (y, outs) if return_layers else y

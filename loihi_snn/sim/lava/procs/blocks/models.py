"""Sub-process models of the block processes (see process.py)."""
from __future__ import annotations

from lava.magma.core.decorator import implements
from lava.magma.core.model.sub.model import AbstractSubProcessModel
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from loihi_snn.sim.lava.procs.blocks.process import (AverageBlock, ComplexDenseBlock, ConvBlock,
                                                     ConvTBlock, DenseBlock, InputBlock, Network)


# Hierarchical processes whose children are built in the Process constructor (as in
# lava-dl netx): the compiler reaches the children through their connections, so the
# sub-process models have nothing to build.  They are untagged, so every run config
# (fixed_pt, floating_pt, hardware) accepts them.
class _ChildrenBuiltModel(AbstractSubProcessModel):
    def __init__(self, proc: AbstractProcess) -> None:  # noqa: D107
        pass


@implements(proc=InputBlock, protocol=LoihiProtocol)
class PyInputBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=DenseBlock, protocol=LoihiProtocol)
class PyDenseBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=ComplexDenseBlock, protocol=LoihiProtocol)
class PyComplexDenseBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=ConvBlock, protocol=LoihiProtocol)
class PyConvBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=ConvTBlock, protocol=LoihiProtocol)
class PyConvTBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=AverageBlock, protocol=LoihiProtocol)
class PyAverageBlockModel(_ChildrenBuiltModel):
    pass


@implements(proc=Network, protocol=LoihiProtocol)
class PyNetworkModel(_ChildrenBuiltModel):
    pass

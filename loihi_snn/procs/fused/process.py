"""FusedNetwork: a whole NetX network as ONE Lava process (models in models.py).

The per-layer ``Network`` (:func:`loihi_snn.netx.load`) runs every synapse and neuron
group as its own OS process, synchronised on every step; for small networks that
handshake, not the arithmetic, sets the speed.  ``FusedNetwork`` has the same ``inp``
and ``out`` ports (same shapes, Lava order) but a single process model that holds a
batch-of-one state of :class:`loihi_snn.emulator.Emulator` and calls its ``step``
once per Lava time step: the same arithmetic as the emulator, spike for spike equal
to the per-layer network under ``Loihi2SimCfg(select_tag="fixed_pt")``.
"""
from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Optional, Union

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess

from loihi_snn.netx.schema import NetSpec, read_netx


class FusedNetwork(AbstractProcess):
    """A NetX network fused into one Lava process (fixed point only).

    Parameters
    ----------
    spec : NetSpec or str
        validated network or path to a ``.net`` file.
    input_message_bits : int
        0 for binary input spikes, >0 (up to 24) for graded input, as
        :func:`loihi_snn.netx.load`.
    reset_interval, reset_offset : int, optional
        the loader's reset schedule (neuron block k resets when
        ``t % reset_interval == (reset_offset + 1 + k) % reset_interval``).

    Ports
    -----
    inp : InPort, shape ``input_shape`` (Lava order (W, H, C) or (n,)), integers
        received at step t (as the per-layer ``Network.inp``).
    out : OutPort, shape ``output_shape`` (Lava order): what the last layer sends at
        step t; spikes 0/1, graded integers, or group *sums* for an ``average`` layer.

    Attributes
    ----------
    emulator : loihi_snn.emulator.Emulator
        the compiled network the process model steps.
    spec, filename, precision ("fixed"), input_shape, output_shape, output_scale
        as on the per-layer ``Network``; ``out_layer.kind`` / ``out_layer.group_size``
        describe the last layer the way :func:`loihi_snn.run` reads them.
    fused : bool
        True (``loihi_snn.run`` checks it for backend ``lava-fused``).
    """

    def __init__(self, *, spec: Union[NetSpec, str, os.PathLike], input_message_bits: int = 0,
                 reset_interval: Optional[int] = None, reset_offset: int = 0,
                 name: Optional[str] = None) -> None:
        from loihi_snn.emulator import Emulator
        if not isinstance(spec, NetSpec):
            spec = read_netx(os.fspath(spec))
        emulator = Emulator(spec, input_message_bits=input_message_bits,
                            reset_interval=reset_interval, reset_offset=reset_offset)
        super().__init__(emulator=emulator,
                         name=name or os.path.splitext(os.path.basename(spec.path))[0])
        self.emulator = emulator
        self.spec = spec
        self.filename = spec.path
        self.precision = "fixed"
        self.inp = InPort(shape=emulator.lava_input_shape)
        self.out = OutPort(shape=emulator.lava_output_shape)
        self.input_shape = tuple(self.inp.shape)
        self.output_shape = tuple(self.out.shape)
        self.output_message_bits = emulator.output_bits
        self.output_scale = emulator.output_scale
        self.fused = True
        last = emulator.stages[-1]
        self.out_layer = SimpleNamespace(kind=last.kind, group_size=emulator.output_group_size)

    @classmethod
    def from_netx(cls, path: Union[str, os.PathLike], **kwargs) -> "FusedNetwork":
        """Load a ``.net`` file as a fused process (keywords as the constructor)."""
        return cls(spec=read_netx(os.fspath(path)), **kwargs)

    def __len__(self) -> int:
        return len(self.emulator.stages)

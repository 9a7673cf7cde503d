"""FusedNetwork / FusedRun: a whole NetX network as ONE Lava process (models in models.py).

- :class:`FusedNetwork` has ``inp``/``out`` ports and steps with Lava's LoihiProtocol
  (one runtime handshake per step): use it to compose the network with other
  processes (a source, a cutoff controller, ...).
- :class:`FusedRun` holds its input and records its output, has no ports and runs
  with Lava's AsyncProtocol (one ``run_async`` call per ``run``): the standalone form
  that ``loihi_snn.run(path, x, backend="lava-fused")`` uses, limited only by the
  arithmetic.

The per-layer ``Network`` (:func:`loihi_snn.load`) runs every synapse and neuron
group as its own OS process, synchronised on every step; for small networks that
handshake, not the arithmetic, sets the speed.  ``FusedNetwork`` has the same ``inp``
and ``out`` ports (same shapes, Lava order) but a single process model that holds a
batch-of-one state of :class:`loihi_snn.sim.emulator.Emulator` and calls its ``step``
once per Lava time step: the same arithmetic as the emulator, spike for spike equal
to the per-layer network under ``Loihi2SimCfg(select_tag="fixed_pt")``.
"""
from __future__ import annotations

import mmap
import multiprocessing as mp
import os
from types import SimpleNamespace
from typing import Optional, Union

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from loihi_snn.core.constants import GRADED_MESSAGE_BITS
from loihi_snn.core.errors import RunError, ShapeError
from loihi_snn.netx.schema import NetSpec, read_netx
from loihi_snn.sim.emulator import Emulator


class FusedNetwork(AbstractProcess):
    """A NetX network fused into one Lava process (fixed point only).

    Parameters
    ----------
    spec : NetSpec or str
        validated network or path to a ``.net`` file.
    input_message_bits : int
        0 for binary input spikes, >0 (up to 24) for graded input, as
        :func:`loihi_snn.load`.
    reset_interval, reset_offset : int, optional
        the loader's reset schedule (neuron block k resets when
        ``t % reset_interval == (reset_offset + 1 + k) % reset_interval``); by default
        none, or the first-input start a ``layer_start = "first_input"`` file declares
        (:func:`loihi_snn.netx.lower.reset_schedule`), as :func:`loihi_snn.load`.

    Ports
    -----
    inp : InPort, shape ``input_shape`` (Lava order (W, H, C) or (n,)), integers
        received at step t (as the per-layer ``Network.inp``).
    out : OutPort, shape ``output_shape`` (Lava order): what the last layer sends at
        step t; spikes 0/1, graded integers, or group *sums* for an ``average`` layer.

    Attributes
    ----------
    emulator : loihi_snn.sim.emulator.Emulator
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
        # lava's __del__ stops ``self.runtime``: set before anything can raise, so a refused
        # construction ends in its own error, not an "Exception ignored" traceback too
        self._runtime = None
        if not 0 <= int(input_message_bits) <= GRADED_MESSAGE_BITS:
            raise ValueError(f"input_message_bits must be in 0..{GRADED_MESSAGE_BITS}, as "
                             f"loihi_snn.load takes it; got {input_message_bits}")
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


class FusedRun(AbstractProcess):
    """A whole NetX network *and its input and output* as one Lava process (fixed point).

    The standalone form of :class:`FusedNetwork` that ``loihi_snn.run(path, x,
    backend="lava-fused")`` uses: the input is embedded, the output is recorded by the
    process itself, and there are no ports, so no source or sink process and no port
    traffic.  Its model runs under Lava's ``AsyncProtocol``: on ``run(RunSteps(n))``
    it advances n steps by itself (:meth:`loihi_snn.sim.emulator.Emulator.run_block`,
    layer by layer over blocks of steps) instead of a runtime handshake per step.
    The output is spike for spike the per-layer network's (``lava-fixed``), with the
    same time alignment as a sink on ``FusedNetwork.out``.  Use :class:`FusedNetwork`
    (ports, ``LoihiProtocol``) to compose the network with other Lava processes.

    Parameters
    ----------
    spec : NetSpec or str
        validated network or path to a ``.net`` file.
    x : np.ndarray
        what the network's input port receives, file order, time last:
        (*input_shape, T) or (input_size, T); integers (spikes or graded values).
        No host-side input scaling is applied (``loihi_snn.run`` applies it first).
    steps : int, optional
        number of steps the process can record (default T); input beyond T is zero.
        Several ``run`` calls may share them (time continues).
    input_message_bits, reset_interval, reset_offset
        as :class:`FusedNetwork`.
    batched : bool
        ``x`` has a leading batch axis, (B, *input_shape, T): B independent copies
        of the network ("lanes") run side by side in the one process (the emulator
        steps them as one batch); :meth:`output` is then (B, *output_shape, steps).

    Vars
    ----
    steps_done : (1,) int, the number of steps run so far.

    The recorded output is read with :meth:`output` (in the process that ran Lava, or
    any process forked after this object was built: the buffer is shared memory
    that Lava's forked model process writes).
    """

    def __init__(self, *, spec: Union[NetSpec, str, os.PathLike], x, steps: Optional[int] = None,
                 input_message_bits: int = 0, reset_interval: Optional[int] = None,
                 reset_offset: int = 0, name: Optional[str] = None,
                 batched: bool = False) -> None:
        # lava's __del__ stops ``self.runtime``: set before anything can raise, so a refused
        # construction ends in its own error, not an "Exception ignored" traceback too
        self._runtime = None
        if not 0 <= int(input_message_bits) <= GRADED_MESSAGE_BITS:
            raise ValueError(f"input_message_bits must be in 0..{GRADED_MESSAGE_BITS}, as "
                             f"loihi_snn.load takes it; got {input_message_bits}")
        if not isinstance(spec, NetSpec):
            spec = read_netx(os.fspath(spec))
        emulator = Emulator(spec, input_message_bits=input_message_bits,
                            reset_interval=reset_interval, reset_offset=reset_offset)
        x = emulator.check_input(np.asarray(x) if batched else np.asarray(x)[None])
        steps = int(x.shape[-1]) if steps is None else int(steps)
        if steps < 1:
            raise ShapeError(f"steps must be >= 1, got {steps}")
        data = np.ascontiguousarray(np.moveaxis(x, -1, 0))   # (T, B, *in)
        lanes = int(data.shape[1])
        nbytes = max(1, steps * lanes * int(np.prod(emulator.output_shape))) * 4
        # shared with Lava's model process because Lava forks it (lava sets the 'fork'
        # start method); a spawned process would get a copy and record into that.
        # lazy: this import calls mp.set_start_method('fork'), which raises when a
        # context already exists -- only when a FusedRun is built, as Lava's runtime would
        import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401
        if mp.get_start_method(allow_none=True) not in (None, "fork"):
            raise RunError("FusedRun needs Lava's 'fork' start method (its output buffer is "
                           "shared memory inherited by the forked model process); got "
                           f"{mp.get_start_method()!r}")
        self._buffer = mmap.mmap(-1, nbytes)                   # MAP_SHARED | MAP_ANONYMOUS
        out = np.frombuffer(self._buffer, np.int32, count=nbytes // 4).reshape(
            (steps, lanes) + emulator.output_shape)
        super().__init__(emulator=emulator, data=data, out=out,
                         name=name or os.path.splitext(os.path.basename(spec.path))[0])
        self.steps_done = Var(shape=(1,), init=0)
        self.max_steps = steps          # run_supervised refuses longer runs up front
        self.emulator = emulator
        self.spec = spec
        self.filename = spec.path
        self.precision = "fixed"
        self.steps = steps
        self.output_message_bits = emulator.output_bits
        self.output_scale = emulator.output_scale
        self.fused = True
        last = emulator.stages[-1]
        self.out_layer = SimpleNamespace(kind=last.kind, group_size=emulator.output_group_size)
        self._out = out
        self.batched = bool(batched)

    def output(self):
        """The recorded output so far: (*output_shape, steps) int32 ((B, *output_shape,
        steps) when ``batched``), file order, time last; what the last layer sent at
        each step (group *sums* for an ``average`` layer), zeros for steps not run yet."""
        import numpy as np
        out = np.moveaxis(self._out, 0, -1)
        return np.ascontiguousarray(out if self.batched else out[0])

"""LIFVariant: Lava process of the LIF family (leak on/off, reset hard/soft/none)."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import numpy as np
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var

from loihi_snn.core.lif import check_reset_mode


class LIFVariant(AbstractProcess):
    """Current-based LIF neurons with a selectable reset, for Lava.

    Both models step :mod:`loihi_snn.core.lif` (the same definition the torch
    neuron uses).  Units depend on the model the run config selects:

    - ``fixed_pt``: ``du``, ``dv`` effective 12-bit decays (0 = none, 4096 = full),
      ``vth`` threshold mantissa (compared as ``vth << 6``), ``bias_mant << bias_exp``
      the effective bias, ``a_in`` integer synaptic input;
    - ``floating_pt``: ``du``, ``dv`` fractions in [0, 1], ``vth`` and ``bias_mant`` in
      weight units (``bias_exp`` ignored), ``a_in`` real weighted input.

    Parameters
    ----------
    shape : tuple of int
        neuron shape in Lava order, (W, H, C) or (N,).
    reset_mode : {"hard", "soft", "none"}
    spike_mode : {"binary", "ternary"}
        ternary neurons send signed graded spikes in {-1, 0, +1} (thresholds +-vth).
    reset_interval, reset_offset : int
        when ``reset_interval > 0``, ``u`` and ``v`` are zeroed at the start of every
        step with ``time_step % reset_interval == reset_offset % reset_interval``
        (streaming many samples through one run).
    """

    def __init__(self, *, shape: Tuple[int, ...], du: Union[int, float] = 0,
                 dv: Union[int, float] = 0, vth: Union[int, float] = 10,
                 bias_mant: Union[int, float, np.ndarray] = 0,
                 bias_exp: Union[int, np.ndarray] = 0, reset_mode: str = "hard",
                 spike_mode: str = "binary", reset_interval: int = 0, reset_offset: int = 0,
                 name: Optional[str] = None) -> None:
        check_reset_mode(reset_mode)
        if spike_mode not in ("binary", "ternary"):
            raise ValueError(f"spike_mode must be 'binary' or 'ternary', got {spike_mode!r}")
        super().__init__(shape=shape, reset_mode=reset_mode, spike_mode=spike_mode,
                         reset_interval=int(reset_interval),
                         reset_offset=int(reset_offset), name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.u = Var(shape=shape, init=0)
        self.v = Var(shape=shape, init=0)
        self.du = Var(shape=(1,), init=du)
        self.dv = Var(shape=(1,), init=dv)
        self.vth = Var(shape=(1,), init=vth)
        self.bias_mant = Var(shape=shape, init=bias_mant)
        self.bias_exp = Var(shape=shape, init=bias_exp)


class ControlledLIFVariant(LIFVariant):
    """:class:`LIFVariant` with a ``reset_in`` port for the cutoff controller.

    A non-zero ``reset_in`` at step t zeroes ``u`` and ``v`` before the step's update;
    with ``drop_input_on_reset`` (neurons behind a synapse) the input arriving at t --
    computed by the synapse from the previous sample's spikes -- is dropped too, so
    the new sample starts exactly as in a fresh run.  Input-layer neurons, which
    receive the new sample directly, keep their input.  The scheduled reset
    (``reset_interval``, ``reset_offset``) then counts steps from that reset: step t
    of the run is step ``t - t_reset + 1`` of the sample, as in a fresh run, so a
    schedule such as a ``first_input`` file's applies to every sample.
    """

    def __init__(self, *, drop_input_on_reset: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.proc_params.overwrite("drop_input_on_reset", bool(drop_input_on_reset))
        self.reset_in = InPort(shape=(1,))

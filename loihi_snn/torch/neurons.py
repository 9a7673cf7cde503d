"""LIF family neuron for SLAYER: leak on/off, reset hard/soft/none, optional recurrence.

``LIF`` follows lava-dl SLAYER's neuron conventions (tensors N x ... x T, time last;
weights in units of 1/``scale``; ``quantize_8bit`` as the synapse pre-hook;
``device_params`` for NetX export) so SLAYER users can drop it into their blocks.

- training (``module.train()``): float dynamics (:func:`lif_float_step`) with an
  exponential surrogate gradient;
- evaluation (``module.eval()``): the exact Loihi integer dynamics
  (:func:`lif_fixed_step`), spike for spike what Lava ``fixed_pt`` computes.

Stock CUBA is ``reset="hard", leak=True``.  ``synapse="single"`` turns the synaptic
current state off (current decay 1: the input is integrated directly into the voltage,
``u[t] = a_in[t]``), so that ``leak=False`` is a pure integrate-and-fire neuron.
"""
from __future__ import annotations

from typing import Optional

import torch

from loihi_snn.core.constants import DECAY_UNITY, VTH_MANT_MAX
from loihi_snn.core.errors import OptionError, ShapeError
from loihi_snn.core.lavadl import lava_dl
from loihi_snn.core.lif import LIFParams, check_reset_mode, lif_fixed_step, lif_float_step
from loihi_snn.families.lif_common import lif_netx_neuron
from loihi_snn.torch.bptt import LIFBPTT
from loihi_snn.torch.surrogates import resolve_surrogate, spike_function

_base = lava_dl().slayer.neuron.base

SPIKE_MODES = ("binary", "ternary")
SYNAPSE_MODES = ("cuba", "single")


def decay_to_int(name: str, value: float) -> int:
    """A decay fraction in [0, 1] -> 12-bit integer 0..4096 (error if out of range)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise OptionError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"{name} must be in [0, 1] (fraction lost per step), got {value}")
    return int(round(value * DECAY_UNITY))


class LIF(_base.Neuron):
    """Current-based LIF with switchable leak and reset.

    Parameters
    ----------
    threshold : float
        spike threshold in weight units (quantized to 1/scale); the exported mantissa
        ``threshold * scale`` must lie in 1 .. 2**17 - 1.
    current_decay : float
        fraction of the synaptic current lost per step, in [0, 1]; ignored (1) when
        ``synapse="single"``.
    voltage_decay : float
        fraction of the membrane voltage lost per step, in [0, 1]; ignored (0) when
        ``leak=False``.
    reset : {"hard", "soft", "none"}
        after a spike: voltage to 0, voltage minus threshold, or unchanged.
    leak : bool
        ``False`` makes a non-leaky integrate-and-fire voltage.
    synapse : {"cuba", "single"}
        ``"cuba"`` (default): two states, the synaptic current decays by
        ``current_decay`` and feeds the voltage.  ``"single"``: one state, the
        synaptic input goes straight into the voltage (``current_decay = 1``, exported
        as ``iDecay = 4096``: lava's 12-bit current decay then multiplies the old
        current by 0, so ``u[t] = a_in[t]`` exactly, in torch, Lava and the
        emulator).  ``synapse="single", leak=False`` is the pure integrate-and-fire
        neuron of Yin et al. 2024; ``synapse="single", leak=True`` their leaky one.
    spike : {"binary", "ternary"}
        ternary neurons fire +1 above ``threshold`` and -1 below ``-threshold`` and
        emit ``amplitude * s`` (``amplitude`` a learnable per-layer scalar, init 1,
        folded into the next layer's weights at export).
    amplitude, learn_amplitude : float, bool or None
        the spike amplitude's initial value and whether it is learned.  Ternary
        neurons always carry it (``learn_amplitude`` None: learned).  Binary neurons
        carry one only when ``learn_amplitude=True`` is given: spikes ``amplitude * s``
        with ``s`` in {0, 1}, folded at export like the ternary one (a pure
        re-parameterisation of the next layer's weights, for the control arm of the
        ternary study); None or False: plain {0, 1} spikes.
    tau_grad, scale_grad : float
        width (relative to the threshold) and height of the surrogate gradient, with
        SLAYER's conventions (see :meth:`surrogate_params`).
    surrogate : {"auto", "exp", "ste"}
        shape of the surrogate gradient (:func:`loihi_snn.torch.surrogates.surrogate_derivative`):
        SLAYER's exponential at the threshold(s) or the straight-through window of
        ``clamp(v / (2 threshold))``; ``"auto"`` (default): ``"ste"`` for ternary spikes,
        ``"exp"`` for binary ones.  ``tau_grad``/``scale_grad`` shape ``"exp"`` only.
    scale : int
        weight scale, ``1 << 6`` as in SLAYER (Loihi 8-bit weights).
    """

    def __init__(self, threshold: float, current_decay: float, voltage_decay: float,
                 reset: str = "hard", leak: bool = True, spike: str = "binary",
                 amplitude: float = 1.0, learn_amplitude: Optional[bool] = None,
                 synapse: str = "cuba",
                 tau_grad: float = 1.0,
                 scale_grad: float = 1.0, surrogate: str = "auto", scale: int = 1 << 6, dropout=None,
                 shared_param: bool = True, persistent_state: bool = False,
                 requires_grad: bool = False, graded_spike: bool = False,
                 norm=None) -> None:
        check_reset_mode(reset)
        if spike not in SPIKE_MODES:
            raise OptionError(f"unknown spike mode {spike!r}; choose one of {SPIKE_MODES}")
        if not isinstance(leak, bool):
            raise OptionError(f"leak must be True or False, got {leak!r}")
        if synapse not in SYNAPSE_MODES:
            raise OptionError(f"unknown synapse {synapse!r}; choose one of {SYNAPSE_MODES}")
        i_decay = decay_to_int("current_decay", current_decay)
        if synapse == "single":
            i_decay = DECAY_UNITY       # no current state: u[t] = a_in[t]
        v_decay = decay_to_int("voltage_decay", voltage_decay) if leak else 0
        try:
            vth_mant = int(float(threshold) * scale)
        except (TypeError, ValueError):
            raise OptionError(f"threshold must be a positive number, got {threshold!r}") from None
        if not 1 <= vth_mant <= VTH_MANT_MAX:
            raise OptionError(
                f"threshold {threshold} gives the fixed-point mantissa {vth_mant} "
                f"(threshold x scale {scale}); it must lie in 1..{VTH_MANT_MAX} "
                f"(17-bit Loihi threshold): use a threshold in "
                f"[{1 / scale:g}, {VTH_MANT_MAX / scale:g}]")
        if norm is not None or graded_spike or persistent_state or requires_grad \
                or not shared_param:
            raise OptionError("LIF supports shared, fixed decays without norm, graded "
                             "spikes or persistent state")
        super().__init__(threshold=threshold, tau_grad=tau_grad, scale_grad=scale_grad,
                         p_scale=1 << 12, w_scale=scale, s_scale=scale * (1 << 6),
                         norm=None, dropout=dropout, persistent_state=False,
                         shared_param=True, requires_grad=False)
        self.reset = reset
        self.leak = leak
        self.synapse = synapse
        self.i_decay = i_decay
        self.v_decay = v_decay
        self.graded_spike = False
        # keep spikes and v after reset, (N, ..., T), of the last training forward (RCS)
        self.record_voltage = False
        self.use_autograd_loop = False   # True: plain autograd loop (reference for tests)
        self.voltage: Optional[torch.Tensor] = None
        self.recorded_spikes: Optional[torch.Tensor] = None
        self.spike_mode = spike
        resolve_surrogate(surrogate, spike == "ternary")      # validates the name
        self.surrogate = surrogate
        if learn_amplitude is not None and not isinstance(learn_amplitude, bool):
            raise OptionError(f"learn_amplitude must be True, False or None, got "
                              f"{learn_amplitude!r}")
        if spike == "ternary" or learn_amplitude is True:
            self.amplitude = torch.nn.Parameter(torch.tensor(float(amplitude)),
                                                requires_grad=learn_amplitude is not False)
        else:
            self.register_parameter("amplitude", None)

    # -- export -------------------------------------------------------------------
    @property
    def is_stock_cuba(self) -> bool:
        """True when stock lava-dl netx can load this neuron (binary, hard reset)."""
        return self.reset == "hard" and self.spike_mode == "binary"

    @property
    def ternary(self) -> bool:
        return self.spike_mode == "ternary"

    @property
    def device_params(self) -> dict:
        """NetX neuron fields: plain CUBA for a binary hard-reset neuron, else our
        ``LIF`` or ``TERNARY`` type (which stock netx cannot run)."""
        return lif_netx_neuron(self.i_decay, self.v_decay, self.v_th_mant, reset=self.reset,
                               leak=self.leak, ternary=self.ternary)

    # -- dynamics -----------------------------------------------------------------
    TAU_RHO_MULT = 100      # SLAYER's surrogate conventions (slayer/neuron/cuba.py), so
    SCALE_RHO_MULT = 0.1    # tau_grad / scale_grad mean what they mean for CUBA blocks

    def surrogate_params(self):
        """(tau, height) of the surrogate ``height * exp(-|v - vth| / tau)``, as SLAYER:
        tau = tau_grad * threshold * 100, height = scale_grad * 0.1 / (2 tau)."""
        tau = float(self.tau_rho) * self.TAU_RHO_MULT
        return tau, float(self.scale_rho) * self.SCALE_RHO_MULT / (2.0 * tau)

    def _set_shape(self, input: torch.Tensor) -> None:
        if self.shape is None:
            if input.dim() < 3:
                raise ShapeError(f"expected input of shape (N, ..., T), got {tuple(input.shape)}")
            self.shape = input.shape[1:-1]
            self.num_neurons = int(torch.tensor(self.shape).prod())
        elif input.shape[1:-1] != self.shape:
            raise ShapeError(f"input shape {tuple(input.shape)} does not match the neuron "
                             f"shape {tuple(self.shape)} (+ batch, time)")

    def forward(self, input: torch.Tensor,
                recurrent_weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Spikes (N, ..., T) for the synaptic input ``input`` (N, ..., T), weight units.

        ``recurrent_weight`` (out, out), in weight units, adds ``W_rec @ s[t-1]`` to
        the input at step t (the one-step latency of a Loihi recurrent synapse).
        """
        self._set_shape(input)
        if self.training:
            out = self._forward_float(input, recurrent_weight)
        else:
            out = self._forward_fixed(input, recurrent_weight)
        if self.amplitude is not None:
            out = out * self.amplitude
        if self.drop is not None:
            out = self.drop(out)
        return out

    def _forward_float(self, input, w_rec):
        if not self.record_voltage and not (self.amplitude is not None and w_rec is not None) \
                and not self.use_autograd_loop:
            return self._forward_float_fast(input, w_rec)
        return self._forward_float_autograd(input, w_rec)

    def _forward_float_fast(self, input, w_rec):
        """Hand-written BPTT (:mod:`loihi_snn.torch.bptt`), same dynamics."""
        N, T = input.shape[0], input.shape[-1]
        x = input.reshape(N, -1, T)
        w = w_rec if w_rec is not None else x.new_zeros(0)
        tau, height = self.surrogate_params()
        s = LIFBPTT.apply(x, w, self.i_decay / DECAY_UNITY,
                          self.v_decay / DECAY_UNITY, float(self.threshold), self.reset,
                          self.ternary, tau, height, self.surrogate)
        self.voltage = self.recorded_spikes = None
        return s.reshape(input.shape)

    def _forward_float_autograd(self, input, w_rec):
        du = self.i_decay / DECAY_UNITY
        dv = self.v_decay / DECAY_UNITY
        vth = self.threshold
        spike_fn = spike_function(self.ternary, self.surrogate, *self.surrogate_params())
        amp = self.amplitude if self.amplitude is not None else 1.0
        params = LIFParams(du, dv, vth, 0.0, self.reset, self.ternary)
        u = torch.zeros_like(input[..., 0])
        v = torch.zeros_like(u)
        s = torch.zeros_like(u)
        out, volts = [], []
        for t in range(input.shape[-1]):
            a = input[..., t]
            if w_rec is not None:
                a = a + (amp * s).flatten(1) @ w_rec.t()
            s, u, v = lif_float_step(u, v, a, params, spike_fn)
            out.append(s)
            if self.record_voltage:
                volts.append(v)
        spikes = torch.stack(out, dim=-1)
        self.voltage = torch.stack(volts, dim=-1) if self.record_voltage else None
        self.recorded_spikes = spikes if self.record_voltage else None
        return spikes

    def _forward_fixed(self, input, w_rec):
        with torch.no_grad():
            a_int = torch.round(input * self.w_scale).to(torch.int64)
            w_int = None
            if w_rec is not None:
                # an unfolded amplitude is folded into the recurrent weight here
                amp = float(self.amplitude) if self.amplitude is not None else 1.0
                w_int = torch.round(w_rec * amp * self.w_scale).to(torch.int64)
            u = torch.zeros_like(a_int[..., 0])
            v = torch.zeros_like(u)
            s = torch.zeros_like(u)
            out = torch.zeros(input.shape, dtype=input.dtype, device=input.device)
            params = LIFParams(self.i_decay, self.v_decay, self.v_th_mant, 0, self.reset,
                               self.ternary)
            for t in range(input.shape[-1]):
                a = a_int[..., t]
                if w_int is not None:
                    a = a + (s.flatten(1).to(torch.int64) @ w_int.t()).reshape(a.shape)
                s, u, v = lif_fixed_step(u, v, a, params)
                out[..., t] = s.to(input.dtype)
        return out

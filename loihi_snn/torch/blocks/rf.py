"""Resonate-and-fire dense blocks whose eval forward is Loihi's integer arithmetic.

SLAYER's ``slayer.block.rf.Dense`` trains with a float resonator (surrogate gradients);
its eval forward is float too, so a trained network can differ from lava's fixed-point
``RF`` process in a few spikes (a product rounded where Loihi truncates toward zero).
:class:`Dense` is that block with one change: in eval mode its neuron runs
:func:`loihi_snn.families.rf.rf_fixed_step` -- the step the emulator, lava-fused and the
loader's lava ``RF`` process all share -- on the integer synaptic input (the quantized
weights are multiples of 1/64, so ``64 x`` the synapse's output is that integer), so the
trainer's quantized forward equals every runner spike for spike.  Training (``train()``
mode) is SLAYER's, unchanged.  The threshold must be a multiple of 1/64: the export
writes ``vThMant = int(64 * threshold)``.

Tensors are (N, C, T), time last; spikes float 0/1.
"""
from __future__ import annotations

from typing import Any, Dict

import torch

from loihi_snn.core.args import show
from loihi_snn.core.errors import OptionError
from loihi_snn.core.lavadl import lava_dl
from loihi_snn.families.rf import rf_fixed_step, rf_integers

_slayer = lava_dl().slayer


class ExactRFNeuron(_slayer.neuron.rf.Neuron):
    """SLAYER's ``rf.Neuron`` (phase spikes); eval mode: lava's fixed-point RF."""

    def forward(self, input):
        if self.training:
            return super().forward(input)
        real_in, imag_in = input
        if self.shape is None:                     # SLAYER's lazy shape (the export's)
            self.shape = tuple(real_in.shape[1:-1])
        scale = float(self.w_scale)
        a_re = torch.round(real_in.detach() * scale).to(torch.int64)
        a_im = torch.round(imag_in.detach() * scale).to(torch.int64)
        q = rf_integers({"sinDecay": int(self.cx_sin_decay), "cosDecay": int(self.cx_cos_decay),
                         "vThMant": int(self.v_th_mant)})
        re = torch.zeros(a_re.shape[:-1], dtype=torch.int64, device=a_re.device)
        im = torch.zeros_like(re)
        out = torch.zeros(a_re.shape, dtype=real_in.dtype, device=real_in.device)
        for t in range(a_re.shape[-1]):
            s, re, im = rf_fixed_step(re, im, a_re[..., t], a_im[..., t], q, False)
            out[..., t] = s.to(out.dtype)
        return out


class Dense(_slayer.block.rf.Dense):
    """``slayer.block.rf.Dense`` (same arguments) with :class:`ExactRFNeuron`."""

    def __init__(self, neuron_params: Dict[str, Any], *args, **kwargs) -> None:
        if not isinstance(neuron_params, dict) or "threshold" not in neuron_params:
            raise OptionError(f"neuron_params must be a dict of RF parameters (threshold, "
                              f"period, decay, ...), got {show(neuron_params)}")
        th = float(neuron_params["threshold"]) * 64
        if th != int(th):
            raise OptionError(f"RF threshold {neuron_params['threshold']} is not a multiple "
                              f"of 1/64: the export writes vThMant = int(64 * threshold), so "
                              f"the trained and the deployed threshold would differ")
        super().__init__(neuron_params, *args, **kwargs)
        params = dict(neuron_params)
        self.neuron = ExactRFNeuron(**params)
        if "pre_hook_fx" not in kwargs:
            self.synapse.pre_hook_fx = self.neuron.quantize_8bit

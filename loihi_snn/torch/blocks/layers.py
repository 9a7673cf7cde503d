"""SLAYER blocks built on the :class:`loihi_snn.torch.neurons.LIF` neuron family.

``Dense``, ``Conv`` and ``Pool`` reuse lava-dl SLAYER's block bases (synapse ->
neuron -> one-step ``delay_shift``, NetX export), so they behave and export exactly
like ``slayer.block.cuba`` blocks; ``Recurrent`` adds a trained recurrent weight
(``dense_rec`` in NetX) that feeds the layer's spikes back at t+1.

Neuron parameters (``neuron_params`` dict): ``threshold``, ``current_decay``,
``voltage_decay``, ``reset`` ("hard"/"soft"/"none"), ``leak`` (bool), ``tau_grad``,
``scale_grad``.  Tensors are (N, C, T) or (N, C, H, W, T).
"""
from __future__ import annotations

import inspect

import numpy as np
import torch

from loihi_snn.core.args import check_int, show
from loihi_snn.core.errors import OptionError
from loihi_snn.core.lavadl import lava_dl
from loihi_snn.torch.neurons import LIF

_slayer = lava_dl().slayer
_base = _slayer.block.base
_synapse = _slayer.synapse


def make_lif(neuron_params) -> LIF:
    """The :class:`LIF` of a block's ``neuron_params``; a one-line OptionError for
    anything that is not a dict of its parameters (a missing or unknown key)."""
    if not isinstance(neuron_params, dict):
        raise OptionError(f"neuron_params must be a dict of LIF parameters (threshold, "
                          f"current_decay, voltage_decay, ...), got {show(neuron_params)}")
    try:
        inspect.signature(LIF.__init__).bind(None, **neuron_params)
    except TypeError as exc:
        names = [p for p in inspect.signature(LIF.__init__).parameters if p != "self"]
        raise OptionError(f"neuron_params {sorted(neuron_params)}: {exc}; LIF takes "
                          f"{', '.join(names)} (the first three are required)") from None
    return LIF(**neuron_params)


def _check_sizes(kind: str, args, kwargs, names) -> None:
    """OptionError unless the block's size arguments (after ``neuron_params``) given by
    position or keyword are positive integers (or tuples of them)."""
    for i, name in enumerate(names):
        value = args[i + 1] if len(args) > i + 1 else kwargs.get(name)
        if value is None:
            continue
        values = value if isinstance(value, (tuple, list)) else (value,)
        for v in values:
            check_int(v, f"{kind} {name}", 1)


class _AbstractLIF(torch.nn.Module):
    """Mixin: builds the LIF neuron (and optional axonal delay) from ``neuron_params``."""

    def __init__(self, *args, **kwargs):
        if not args and "neuron_params" not in kwargs:
            raise OptionError(f"{type(self).__name__} needs neuron_params (a dict of LIF "
                              f"parameters) as its first argument")
        make_lif(args[0] if args else kwargs["neuron_params"])     # checked before torch
        _check_sizes(type(self).__name__, args, kwargs, self._SIZES)
        super().__init__(*args, **kwargs)
        if self.neuron_params is not None:
            self.neuron = make_lif(self.neuron_params)
        self.delay = _slayer.axon.Delay(max_delay=62) if kwargs.get("delay", False) else None
        del self.neuron_params


class Dense(_AbstractLIF, _base.AbstractDense):
    """Fully connected synapse + LIF neuron; args as ``slayer.block.cuba.Dense``
    (``neuron_params, in_neurons, out_neurons, weight_scale=1, weight_norm=False, ...``)."""

    _SIZES = ("in_neurons", "out_neurons")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.synapse = _synapse.Dense(**self.synapse_params)
        if "pre_hook_fx" not in kwargs:
            self.synapse.pre_hook_fx = self.neuron.quantize_8bit
        del self.synapse_params


class Conv(_AbstractLIF, _base.AbstractConv):
    """2-D convolution + LIF neuron; args as ``slayer.block.cuba.Conv``
    (``neuron_params, in_features, out_features, kernel_size, stride=1, padding=0, ...``)."""

    _SIZES = ("in_features", "out_features", "kernel_size")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.synapse = _synapse.Conv(**self.synapse_params)
        if "pre_hook_fx" not in kwargs:
            self.synapse.pre_hook_fx = self.neuron.quantize_8bit
        del self.synapse_params


class Pool(_AbstractLIF, _base.AbstractPool):
    """Sum pooling + LIF neuron; args as ``slayer.block.cuba.Pool``."""

    _SIZES = ("kernel_size",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.synapse = _synapse.Pool(**self.synapse_params)
        if "pre_hook_fx" not in kwargs:
            self.synapse.pre_hook_fx = self.neuron.quantize_8bit
        del self.synapse_params


Flatten = _slayer.block.cuba.Flatten


class Recurrent(torch.nn.Module):
    """Dense input synapse + LIF neuron + trained recurrent synapse (NetX ``dense_rec``).

    ``s[t] = LIF(W x[t] + R s[t-1])``; the output is delayed by one step like every
    SLAYER block with ``delay_shift`` (the Loihi synapse latency).

    Parameters
    ----------
    neuron_params : dict
        see :class:`loihi_snn.torch.neurons.LIF`.
    in_neurons, out_neurons : int
    weight_scale : float
        initial weight scale of both synapses.
    weight_norm : bool
        weight normalisation of the input synapse (the recurrent one has none).
    """

    def __init__(self, neuron_params, in_neurons: int, out_neurons: int,
                 weight_scale: float = 1, weight_norm: bool = False,
                 delay_shift: bool = True) -> None:
        make_lif(neuron_params)            # bad parameters: one line, before torch
        _check_sizes("Recurrent", (None, in_neurons, out_neurons), {},
                     ("in_neurons", "out_neurons"))
        super().__init__()
        self.neuron = make_lif(neuron_params)
        self.input_synapse = _synapse.Dense(in_neurons, out_neurons, weight_scale=weight_scale,
                                            weight_norm=weight_norm,
                                            pre_hook_fx=self.neuron.quantize_8bit)
        self.recurrent_synapse = _synapse.Dense(out_neurons, out_neurons,
                                                weight_scale=weight_scale, weight_norm=False,
                                                pre_hook_fx=self.neuron.quantize_8bit)
        self.delay_shift = delay_shift
        self.out_neurons = out_neurons

    def recurrent_weight(self) -> torch.Tensor:
        """Quantized recurrent weight (out, out) in weight units."""
        w = self.recurrent_synapse.weight.reshape(self.out_neurons, self.out_neurons)
        return self.recurrent_synapse.pre_hook_fx(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.input_synapse(x)
        s = self.neuron(z, recurrent_weight=self.recurrent_weight())
        if self.delay_shift:
            s = _base.step_delay(self, s)
        return s

    @property
    def shape(self):
        return self.neuron.shape

    def export_hdf5(self, handle) -> None:
        """Write this layer as NetX ``dense_rec`` into an h5py group."""
        def weight(s):
            return s.pre_hook_fx(s.weight, descale=True).reshape(s.weight.shape[:2]).cpu().data.numpy()
        if self.input_synapse.weight_norm_enabled:
            self.input_synapse.disable_weight_norm()
        handle.create_dataset("type", (1,), "S10", [b"dense_rec"])
        handle.create_dataset("shape", data=np.array(self.neuron.shape))
        handle.create_dataset("inFeatures", data=self.input_synapse.in_channels)
        handle.create_dataset("outFeatures", data=self.input_synapse.out_channels)
        handle.create_dataset("weight", data=weight(self.input_synapse))
        handle.create_dataset("weight_rec", data=weight(self.recurrent_synapse))
        for key, value in self.neuron.device_params.items():
            handle.create_dataset(f"neuron/{key}", data=value)

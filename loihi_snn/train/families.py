"""Registers loihi_snn's own neuron families with the trainer's architecture builder.

- ``lif``: :class:`loihi_snn.torch.neurons.LIF` blocks (:mod:`loihi_snn.torch.blocks`): leak
  on/off, reset hard/soft/none, recurrence via ``recurrent`` layers, and ternary
  spikes with ``spike="ternary"`` (learnable amplitude, folded at export).
- ``lif-asa``: the ``lif`` family with an ASA gate (:class:`loihi_snn.torch.blocks.ASAConv`:
  causal, per-sample Advance Spatial Attention on the membrane input) in every
  ``conv`` layer; the neuron parameter ``asa_ratio`` (default 0.5) is the fraction of
  important channels.  Dense, pool and recurrent layers are plain ``lif`` blocks.
"""
from __future__ import annotations

from loihi_snn.train.models import NEURON_TYPES, register_neuron_type, slayer_style_factory

_LIF_DEFAULTS = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
                 "reset": "hard", "leak": True, "spike": "binary",
                 "tau_grad": 0.03, "scale_grad": 3.0}
_LIF_PARAMS = ("threshold", "current_decay", "voltage_decay", "reset", "leak",
               "spike", "amplitude", "learn_amplitude", "tau_grad", "scale_grad",
               "scale", "dropout")


def _blocks():
    import loihi_snn.torch.blocks as blocks
    return blocks


_lif_factory = slayer_style_factory(_blocks)


def _make_asa_block(kind, neuron_params, **kwargs):
    ratio = neuron_params.pop("asa_ratio", 0.5)
    if kind == "conv":
        from loihi_snn.torch.blocks import ASAConv
        return ASAConv(neuron_params, asa_ratio=ratio, **kwargs)
    return _lif_factory(kind, neuron_params, **kwargs)


if "lif" not in NEURON_TYPES:
    register_neuron_type(
        "lif", _lif_factory,
        description="loihi_snn LIF family: leak on/off, reset hard/soft/none, binary or "
                    "ternary spikes; binary hard-reset layers export as stock CUBA",
        defaults=dict(_LIF_DEFAULTS), allowed_params=_LIF_PARAMS)

if "lif-asa" not in NEURON_TYPES:
    register_neuron_type(
        "lif-asa", _make_asa_block,
        description="loihi_snn LIF family with an ASA gate (causal, per-sample spatial "
                    "attention) in every conv layer; asa_ratio = fraction of important channels",
        defaults={**_LIF_DEFAULTS, "asa_ratio": 0.5},
        allowed_params=_LIF_PARAMS + ("asa_ratio",))

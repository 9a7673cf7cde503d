"""Registers loihi_snn's own neuron families with the trainer's architecture builder.

- ``lif``: :class:`loihi_snn.neurons.lif.LIF` blocks (:mod:`loihi_snn.blocks`): leak
  on/off, reset hard/soft/none, recurrence via ``recurrent`` layers, and ternary
  spikes with ``spike="ternary"`` (learnable amplitude, folded at export).
"""
from __future__ import annotations

from loihi_snn.train.models import NEURON_TYPES, register_neuron_type, slayer_style_factory


def _blocks():
    import loihi_snn.blocks as blocks
    return blocks


if "lif" not in NEURON_TYPES:
    register_neuron_type(
        "lif", slayer_style_factory(_blocks),
        description="loihi_snn LIF family: leak on/off, reset hard/soft/none, binary or "
                    "ternary spikes; binary hard-reset layers export as stock CUBA",
        defaults={"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
                  "reset": "hard", "leak": True, "spike": "binary",
                  "tau_grad": 0.03, "scale_grad": 3.0},
        allowed_params=("threshold", "current_decay", "voltage_decay", "reset", "leak",
                        "spike", "amplitude", "learn_amplitude", "tau_grad", "scale_grad",
                        "scale", "dropout"))

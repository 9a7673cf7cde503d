"""LIF: loihi_snn's LIF family with binary spikes -- leak on/off, reset hard/soft/none.

NetX fields: the CUBA fields (:mod:`loihi_snn.families.cuba`) plus ``resetMode``
(``"hard"`` | ``"soft"`` | ``"none"``) and ``leak`` (bool; the exporter writes
``vDecay = 0`` when it is off).  The single-state neuron (training parameter
``synapse="single"``: no synaptic current state, input integrated directly) is the
same fields with ``iDecay = 4096``.  A binary hard-reset layer is exported as plain CUBA so
stock netx loads it.  On Lava it is our
:class:`~loihi_snn.families.lava.lif_variant.process.LIFVariant`; its step is
:func:`loihi_snn.core.lif.lif_fixed_step` with the effective decays.
"""
from __future__ import annotations

from loihi_snn.families.base import DEFAULT_NEURON_PARAMS, NeuronFamily, TrainingFamily
from loihi_snn.families.lif_common import lava_lif_variant, lif_step_builder, validate_lif_fields


LIF_PARAMS = ("threshold", "current_decay", "voltage_decay", "reset", "leak", "synapse",
              "spike", "amplitude", "learn_amplitude", "tau_grad", "scale_grad", "surrogate",
              "scale", "dropout")
LIF_DEFAULTS = {**DEFAULT_NEURON_PARAMS, "reset": "hard", "leak": True, "spike": "binary"}

FAMILY = NeuronFamily(
    netx_types=("LIF",),
    description="loihi_snn LIF: leak on/off, reset hard/soft/none, binary spikes",
    validate=validate_lif_fields,
    lava=lava_lif_variant,
    emulator_step=lif_step_builder(ternary=False, out_bits=0),
    training=(
        TrainingFamily(
            name="lif",
            description="loihi_snn LIF family: leak on/off, reset hard/soft/none, binary or "
                        "ternary spikes; binary hard-reset layers export as stock CUBA",
            blocks="loihi-snn", defaults=dict(LIF_DEFAULTS), allowed_params=LIF_PARAMS),
        TrainingFamily(
            name="lif-asa",
            description="loihi_snn LIF family with an ASA gate (causal, per-sample spatial "
                        "attention) in every conv layer; asa_ratio = fraction of important "
                        "channels; asa_split = adaptive (per sample and step, the paper's) | "
                        "static (one set per layer) | gain (constant gain, the control); "
                        "asa_map_bias = initial map bias (3.0: gain ~0.95)",
            blocks="loihi-snn",
            defaults={**LIF_DEFAULTS, "asa_ratio": 0.5, "asa_split": "adaptive",
                      "asa_map_bias": 3.0},
            allowed_params=LIF_PARAMS + ("asa_ratio", "asa_split", "asa_map_bias"),
            asa_conv=True),
    ),
)

"""TERNARY: the LIF family with signed spikes in {-1, 0, +1} (two thresholds +-vth).

NetX fields: those of :mod:`loihi_snn.families.lif`.  The learnable per-layer amplitude is
folded into the next layer's weights at export (:mod:`loihi_snn.torch.fold`), so on the
wire a spike is a signed 2-bit graded message (``TERNARY_MESSAGE_BITS``) that the next
synapse multiplies with its weights.  Training selects it with the ``lif`` training family
and ``spike="ternary"``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from loihi_snn.core.constants import TERNARY_MESSAGE_BITS
from loihi_snn.core.spec import LayerSpec
from loihi_snn.families.base import LavaNeuron, NeuronFamily
from loihi_snn.families.lif_common import lava_lif_variant, lif_step_builder, validate_lif_fields


def _lava(layer: LayerSpec, shape: Tuple[int, ...], bias: Optional[np.ndarray],
          precision: str, reset: Optional[Tuple[int, int]], is_input: bool,
          controlled: bool = False) -> LavaNeuron:
    return lava_lif_variant(layer, shape, bias, precision, reset, is_input, controlled,
                            ternary=True, out_bits=TERNARY_MESSAGE_BITS)


FAMILY = NeuronFamily(
    netx_types=("TERNARY",),
    description="loihi_snn LIF with ternary spikes {-1, 0, +1} (signed 2-bit graded messages)",
    validate=validate_lif_fields,
    lava=_lava,
    emulator_step=lif_step_builder(ternary=True, out_bits=TERNARY_MESSAGE_BITS),
)

"""Neuron types SLAYER exports that loihi_snn knows and refuses, each with the reason
the schema prints (one line naming file, layer and ``neuron/type``)."""
from __future__ import annotations

from typing import Dict

_ADRF = ("SLAYER's adaptive resonate-and-fire ({name}) is not supported in this version: "
         "lava-nc 0.10 has no process for a resonator with an adaptive threshold and "
         "refractory state, so there is no Loihi 2 reference to run it bit-exactly against "
         "(RF_PHASE / RF_IZHIKEVICH without adaptation and ALIF are supported)")

#: upper-case NetX neuron type -> why it is refused
REFUSED: Dict[str, str] = {
    "ADRF_PHASE": _ADRF.format(name="slayer.block.adrf, type ADRF_PHASE"),
    "ADRF_IZHIKEVICH": _ADRF.format(name="slayer.block.adrf_iz, type ADRF_IZHIKEVICH"),
}

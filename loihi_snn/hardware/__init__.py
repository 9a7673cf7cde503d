"""Loihi 2 targeting: limits, resource estimates and the hardware run configuration.

- :mod:`~loihi_snn.hardware.limits` -- Loihi 2 limits, each with its source.
- :func:`check` / :func:`estimate` -- a NetSpec's limit violations and per-layer
  NeuroCore / synaptic-memory / chip-usage estimates (no Lava needed).
- :func:`is_loihi2_available` / :func:`hardware_run_config` -- lava-loihi detection
  and ``Loihi2HwCfg``.
"""
from loihi_snn.hardware.config import hardware_run_config, is_loihi2_available  # noqa: F401
from loihi_snn.hardware.resources import (  # noqa: F401
    LayerEstimate, NetEstimate, Violation, check, errors, estimate, weight_precision,
)

"""Layer 4: training with lava-dl SLAYER -- configs and presets, data sets and spike
encoders (time-last tensors), the model builder, the training loop, checkpoints and
export, the torch == Lava checks and cutoff calibration, model cards, RCS.

Public: ``from loihi_snn.train import train, TrainConfig, get_preset`` (resolved on first
use, so importing a submodule such as ``loihi_snn.train.config`` stays light).
"""
from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "train": ("loihi_snn.train.loop", "train"),
    "TrainResult": ("loihi_snn.train.loop", "TrainResult"),
    "TrainConfig": ("loihi_snn.train.config", "TrainConfig"),
    "get_preset": ("loihi_snn.train.config", "get_preset"),
    "list_presets": ("loihi_snn.train.config", "list_presets"),
    "load_checkpoint": ("loihi_snn.train.checkpoint", "load_checkpoint"),
    "export_checkpoint": ("loihi_snn.train.checkpoint", "export_checkpoint"),
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'loihi_snn.train' has no attribute {name!r}")
    module, attr = _PUBLIC[name]
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value

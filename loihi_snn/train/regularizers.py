"""Regularisers added to the task loss during training, by name.

A regulariser is ``fn(model, output, layer_spikes, labels, config) -> scalar tensor``:
``output`` the network's output spikes ``(N, classes, T)``, ``layer_spikes`` the list of
every spiking block's output (time last), ``labels`` ``(N,)``.  The training loop adds
``config.rcs_weight * REGULARIZERS["rcs"](...)`` to every batch loss when
``rcs_weight > 0``.

The table is looked up at training time, so a variant can replace an entry, e.g.
``REGULARIZERS["rcs"] = loihi_snn.train.rcs.make_regularizer(hidden_only=True)``
(studies/rcs.py and tutorials/08_rcs.py do so).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch

from loihi_snn.train import rcs
from loihi_snn.train.config import ConfigError, TrainConfig

__all__ = ["REGULARIZERS", "Regularizer", "regularizer_for"]

Regularizer = Callable[..., torch.Tensor]

#: name -> regulariser; ``"rcs"`` is weighted by ``config.rcs_weight``.
REGULARIZERS: Dict[str, Regularizer] = {
    "rcs": rcs.trainer_regularizer,
}


def regularizer_for(config: TrainConfig) -> Optional[Regularizer]:
    """The regulariser ``config`` asks for: ``REGULARIZERS["rcs"]`` when ``rcs_weight > 0``,
    else None.

    Raises:
        ConfigError: ``rcs_weight > 0`` but no ``"rcs"`` entry in :data:`REGULARIZERS`.
    """
    if not config.rcs_weight > 0:
        return None
    if "rcs" not in REGULARIZERS:
        raise ConfigError("rcs_weight > 0 needs a regulariser in "
                          "loihi_snn.train.regularizers.REGULARIZERS['rcs'] (e.g. "
                          "loihi_snn.train.rcs.make_regularizer()); set rcs_weight to 0")
    return REGULARIZERS["rcs"]

"""The data side of training: the train / validation / test splits, inputs as integers.

Lava fixed point takes spikes or integer graded values, so every split's inputs
(``N x *input_shape x T``, time last) are made integer-valued here: real-valued
encodings are scaled with ``round(x * input_scale)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from loihi_snn.train.config import ConfigError, TrainConfig
from loihi_snn.train.datasets import EncodedDataset, load_dataset

__all__ = ["Splits", "load_data", "load_split", "scale_inputs"]

VALIDATION_SEED_TAG = 0x7A1     # mixed with config.seed to draw the validation hold-out


@dataclass
class Splits:
    """Training data: ``train``/``val``/``test`` are EncodedDatasets (``val`` may be None).

    ``selected_on`` is ``"validation"`` or ``"test"`` (when there is no hold-out).
    """

    train: Any
    val: Any
    test: Any
    input_shape: Tuple[int, ...]
    num_classes: int
    T: int
    encoding: str
    data_seed: int
    options: Dict[str, Any]

    @property
    def selected_on(self) -> str:
        return "validation" if self.val is not None else "test"


def scale_inputs(inputs: np.ndarray, input_scale: Optional[float], what: str) -> np.ndarray:
    """Integer-valued inputs for Lava: ``round(inputs * input_scale)`` (float32).

    Args:
        inputs: any shape, usually ``(N, *input_shape, T)``.
        input_scale: the multiplier, or None to keep ``inputs`` as they are.
        what: names the inputs in the error message.

    Returns:
        an array of the same shape (``inputs`` itself when ``input_scale`` is None).

    Raises:
        ConfigError: ``input_scale`` is None but the inputs are not integers.
    """
    if input_scale is not None:
        return np.round(inputs.astype(np.float64) * float(input_scale)).astype(np.float32)
    if inputs.size and not np.array_equal(inputs, np.round(inputs)):
        raise ConfigError(f"{what} is real-valued, but Lava fixed point takes spikes or "
                          f"integer graded values: set input_scale (e.g. 16) in the config "
                          f"to use round(x * input_scale)")
    return inputs


def load_split(dataset: str, split: str, *, T: Optional[int], encoding: Optional[str],
               seed: int, limit: Optional[int], options: Dict[str, Any],
               input_scale: Optional[float]) -> EncodedDataset:
    """One split through :func:`loihi_snn.train.datasets.load_dataset`, inputs scaled.

    Returns:
        an EncodedDataset whose ``inputs`` (``N x *input_shape x T``) are integer-valued.

    Raises:
        ConfigError: unknown data set, encoding or option; real-valued inputs and no
            ``input_scale``.
    """
    try:
        ds = load_dataset(dataset, split, T=T, encoding=encoding, seed=seed, limit=limit,
                          **options)
    except ValueError as exc:
        raise ConfigError(f"data set {dataset!r}: {exc}") from None
    ds.inputs = scale_inputs(ds.inputs, input_scale, f"data set {dataset!r} ({ds.encoding})")
    return ds


def _subset(full: EncodedDataset, idx: np.ndarray, split: str) -> EncodedDataset:
    return EncodedDataset(full.inputs[idx], full.labels[idx], num_classes=full.num_classes,
                          name=full.name, encoding=full.encoding,
                          meta={**full.meta, "subset": split, "num_samples": len(idx)})


def load_data(config: TrainConfig) -> Splits:
    """The train / validation / test splits of ``config`` (inputs integer-valued).

    The validation hold-out is ``round(val_fraction * N_train)`` training samples
    chosen with a generator seeded by ``config.seed`` (same on every rank).
    """
    kw = dict(T=config.T, encoding=config.encoding, seed=config.seed,
              options=dict(config.dataset_options), input_scale=config.input_scale)
    full = load_split(config.dataset, "train", limit=config.train_limit, **kw)
    test = load_split(config.dataset, "test", limit=config.test_limit, **kw)
    n_val = int(round(config.val_fraction * len(full)))
    val = None
    train = full
    if n_val > 0:
        if n_val >= len(full):
            raise ConfigError(f"val_fraction {config.val_fraction} leaves no training samples "
                              f"out of {len(full)}")
        order = np.random.default_rng([config.seed, VALIDATION_SEED_TAG]).permutation(len(full))
        vi, ti = np.sort(order[:n_val]), np.sort(order[n_val:])
        train, val = _subset(full, ti, "train"), _subset(full, vi, "validation")
    return Splits(train, val, test, tuple(full.input_shape), int(full.num_classes), int(full.T),
                  full.encoding, int(config.seed), dict(full.meta.get("options", {})))

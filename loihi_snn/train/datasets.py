"""Data-set registry: every data set comes out as a time-last spike tensor.

``load_dataset(name, split, T, encoding, seed, limit, **options)`` returns an
:class:`EncodedDataset` whose ``inputs`` have shape ``N x *input_shape x T``
(time LAST, the layout lava-dl SLAYER expects).  Built-in data sets:

* ``digits``   scikit-learn's bundled 8x8 digits (the embedded default);
* ``mnist1d``  MNIST-1D generated locally with the ``mnist1d`` package;
* ``events``   synthetic DVS recordings of a dot moving in 4 (or 8) directions;
* ``dvs_synth`` DVS-sized synthetic recordings (2 x 128 x 128, 11 motions, modelled DVS128
  pixel), generated and cached locally (:mod:`loihi_snn.train.dvs_events`);
* ``lif_memory``, ``lif_patterns``, ``lif_stream``, ``lif_order``  spike tasks of the
  LIF-variants study (:mod:`loihi_snn.train.tasks`);
* ``nmnist``, ``dvs_gesture``, ``shd``  recorded event data sets read with
  ``tonic`` from files the user already has (never downloaded).

Nothing is downloaded at run time.  Everything is deterministic given the
arguments; the train/test splits are fixed and disjoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from loihi_snn.core.files import atomic_path
from loihi_snn.train import dvs_events as dvs
from loihi_snn.train import encoders, tasks
from loihi_snn.train.events import (
    RECORDED_LAYOUTS,
    ceil_div,
    downsample_events,
    events_to_frames,
    moving_dot_events,
    open_recorded_split,
)

__all__ = [
    "SPLITS",
    "DatasetSpec",
    "EncodedDataset",
    "default_cache_dir",
    "get_dataset_spec",
    "list_datasets",
    "load_dataset",
    "register_dataset",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
_SPLIT_SEED = 20240611  # fixed: splits and sample orders never depend on ``seed``
_SPLIT_CODE = {"train": 0, "test": 1}


class EncodedDataset(Dataset):
    """An encoded (spike or current) data set held in memory, time last.

    Attributes:
        inputs: float32 array, shape ``N x *input_shape x T`` (time LAST).
            Spike encodings hold 0/1 (or event counts), ``direct`` holds
            real-valued input currents.
        labels: int64 array of shape ``(N,)`` with values in ``0..num_classes-1``.
        num_classes: number of classes.
        input_shape: shape of one sample without the time axis, e.g. ``(64,)``
            or ``(2, 16, 16)``.
        T: number of time steps.
        name: registry name of the data set.
        encoding: name of the encoding used.
        meta: JSON-serialisable dict of every setting that produced the data.
        source_index: int64 array ``(N,)``, position of each sample in the
            underlying source (e.g. row of ``load_digits``), or None.
        raw_events: for event data sets generated here, the list of ``N``
            structured event arrays (fields x, y, t[us], p) behind ``inputs``;
            otherwise None.

    ``ds[i]`` returns ``(torch.from_numpy(inputs[i]), int(labels[i]))``, the
    tensor having shape ``*input_shape x T``.
    """

    def __init__(self, inputs: np.ndarray, labels: np.ndarray, *, num_classes: int, name: str,
                 encoding: str, meta: dict | None = None, source_index: np.ndarray | None = None,
                 raw_events: list | None = None):
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if inputs.ndim < 3:
            raise ValueError(f"inputs must be N x *input_shape x T, got shape {inputs.shape}")
        if labels.shape != (inputs.shape[0],):
            raise ValueError(f"labels shape {labels.shape} does not match N={inputs.shape[0]}")
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(f"labels must lie in 0..{num_classes - 1}")
        self.inputs = inputs
        self.labels = labels
        self.num_classes = int(num_classes)
        self.input_shape = tuple(int(s) for s in inputs.shape[1:-1])
        self.T = int(inputs.shape[-1])
        self.name = name
        self.encoding = encoding
        self.meta = dict(meta or {})
        self.source_index = None if source_index is None else np.asarray(source_index, np.int64)
        self.raw_events = raw_events

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.inputs[index]), int(self.labels[index])

    def __repr__(self) -> str:
        return (f"EncodedDataset(name={self.name!r}, encoding={self.encoding!r}, N={len(self)}, "
                f"input_shape={self.input_shape}, T={self.T}, num_classes={self.num_classes})")


Builder = Callable[..., EncodedDataset]


@dataclass(frozen=True)
class DatasetSpec:
    """Registry entry.

    Attributes:
        name: registry name.
        description: one line shown by :func:`list_datasets`.
        builder: ``builder(split, T, encoding, seed, limit, **options) -> EncodedDataset``.
        encodings: valid encoding names; the first one is the default.
        default_T: number of time steps when ``T`` is not given.
        options: the valid extra keyword options and their defaults.
        size: ``size(split, **options) -> int``, the number of samples of a split
            without building it (None: unknown), so that a request too large to hold
            can be refused before anything is allocated (:func:`dataset_size`).
    """

    name: str
    description: str
    builder: Builder
    encodings: tuple[str, ...]
    default_T: int
    options: dict[str, Any] = field(default_factory=dict)
    size: Callable[..., int] | None = None

    @property
    def default_encoding(self) -> str:
        return self.encodings[0]


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(name: str, builder: Builder | None = None, *, description: str,
                     encodings: tuple[str, ...] | list[str], default_T: int,
                     options: dict[str, Any] | None = None, replace: bool = False,
                     size: Callable[..., int] | None = None):
    """Add a data set to the registry (usable as a decorator when ``builder`` is omitted).

    Args:
        name: registry name (unique unless ``replace``).
        builder: callable ``builder(split, T, encoding, seed, limit, **options)``
            returning an :class:`EncodedDataset`; it receives every option with
            defaults filled in.
        description: one-line description.
        encodings: valid encodings, default first.
        default_T: default number of time steps.
        options: valid extra options with their default values.
        replace: allow overwriting an existing entry.
        size: optional ``size(split, **options)``: the number of samples of a split,
            computed without building it (see :func:`dataset_size`).

    Returns:
        the builder (so the decorator form leaves the function unchanged).
    """
    def add(fn: Builder) -> Builder:
        if name in _REGISTRY and not replace:
            raise ValueError(f"data set {name!r} is already registered")
        if not encodings:
            raise ValueError("a data set needs at least one encoding")
        _REGISTRY[name] = DatasetSpec(name, description, fn, tuple(encodings), int(default_T),
                                      dict(options or {}), size)
        return fn

    return add if builder is None else add(builder)


def list_datasets() -> dict[str, str]:
    """Return ``{name: one-line description}`` for every registered data set."""
    return {name: spec.description for name, spec in _REGISTRY.items()}


def get_dataset_spec(name: str) -> DatasetSpec:
    """Return the :class:`DatasetSpec` of ``name`` (ValueError listing the names if unknown)."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; choose one of: {', '.join(_REGISTRY)}") from None


def dataset_size(name: str, split: str = "train", limit: int | None = None,
                 **options: Any) -> int | None:
    """The number of samples :func:`load_dataset` would return, without building the
    data set (None when the data set cannot tell, or the arguments are invalid: the
    builder then says why).  Cheap: lets a caller refuse a request whose arrays
    (samples x inputs x T) would not fit before anything is allocated."""
    spec = _REGISTRY.get(name)
    if spec is None or spec.size is None or split not in SPLITS:
        return None
    try:
        n = int(spec.size(split, **{**spec.options, **options}))
    except (TypeError, ValueError, KeyError, OverflowError):
        return None
    if limit is not None and not isinstance(limit, bool) and isinstance(limit, (int, np.integer)):
        n = min(n, int(limit))
    return max(n, 0)


def _split_option(split: str, num_train: Any, num_test: Any, **_: Any) -> int:
    """The size of a generated split: its ``num_train`` / ``num_test`` option."""
    return _positive_int("num_train" if split == "train" else "num_test",
                         num_train if split == "train" else num_test)


def _mnist1d_size(split: str, num_samples: Any, **_: Any) -> int:
    """mnist1d's split: ``num_samples // 10`` per class, the first 80 % for training."""
    total = 10 * (_positive_int("num_samples", num_samples) // 10)
    train = int(total * 0.8)
    return train if split == "train" else total - train


def load_dataset(name: str = "digits", split: str = "train", T: int | None = None,
                 encoding: str | None = None, seed: int = 0, limit: int | None = None,
                 **options: Any) -> EncodedDataset:
    """Load (generate, encode) a registered data set.

    Args:
        name: registry name, see :func:`list_datasets`.
        split: ``"train"`` or ``"test"`` (fixed, disjoint).
        T: number of time steps (None: the data set's default).
        encoding: encoding name (None: the data set's default).
        seed: seed of everything random in the encoding / generation.
        limit: keep only the first ``limit`` samples of the split (its order
            is fixed and classes are mixed), None for all.
        **options: data-set specific options (see ``get_dataset_spec(name).options``).

    Returns:
        an :class:`EncodedDataset` with inputs ``N x *input_shape x T`` float32.

    Raises:
        ValueError: unknown name, split, encoding or option, or a bad value;
            the message lists the valid choices.
    """
    spec = get_dataset_spec(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    encoding = spec.default_encoding if encoding is None else encoding
    if encoding not in spec.encodings:
        raise ValueError(f"unknown encoding {encoding!r} for data set {name!r}; "
                         f"choose one of: {', '.join(spec.encodings)}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        valid = ", ".join(f"{k}={v!r}" for k, v in spec.options.items()) or "(none)"
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for data set {name!r}; "
                         f"valid options (defaults): {valid}")
    T = spec.default_T if T is None else T
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise ValueError(f"T must be a positive integer, got {T!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit < 1):
        raise ValueError(f"limit must be None or a positive integer, got {limit!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    opts = {**spec.options, **options}
    ds = spec.builder(split=split, T=int(T), encoding=encoding, seed=int(seed),
                      limit=None if limit is None else int(limit), **opts)
    meta = {"name": name, "split": split, "T": ds.T, "encoding": encoding, "seed": int(seed),
            "limit": limit, "num_samples": len(ds), "num_classes": ds.num_classes,
            "input_shape": list(ds.input_shape), "options": _jsonable(opts)}
    ds.meta = {**meta, **_jsonable(ds.meta)}
    return ds


def _jsonable(value: Any) -> Any:
    """Convert tuples, paths and numpy scalars into JSON-serialisable values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _rng(seed: int, split: str, stream: int) -> np.random.Generator:
    """Independent generator per (seed, split, purpose)."""
    return np.random.default_rng([int(seed), _SPLIT_CODE[split], int(stream)])


def _choice(option: str, value: Any, valid: tuple) -> Any:
    if value not in valid:
        raise ValueError(f"unknown {option} {value!r}; choose one of: {', '.join(map(str, valid))}")
    return value


def _positive_int(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{option} must be a positive integer, got {value!r}")
    return int(value)


# ----------------------------------------------------------------------------
# digits: scikit-learn's bundled 8x8 digits
# ----------------------------------------------------------------------------

def digits_split_indices(split: str, test_fraction: float = 0.2) -> np.ndarray:
    """Row indices of ``sklearn.datasets.load_digits()`` in the fixed ``split``.

    Stratified: per class, ``round(test_fraction * n_class)`` rows (chosen with
    a fixed generator, independent of any user seed) go to the test split; the
    rows of each split are then shuffled with the same fixed generator.

    Returns:
        int64 array of row indices (train: 1438, test: 359 of the 1797 rows).
    """
    from sklearn.datasets import load_digits

    target = load_digits().target
    rng = np.random.default_rng(_SPLIT_SEED)
    test = []
    for c in np.unique(target):
        rows = rng.permutation(np.flatnonzero(target == c))
        test.append(rows[:round(test_fraction * rows.size)])
    test_rows = np.concatenate(test)
    rows = test_rows if split == "test" else np.setdiff1d(np.arange(target.size), test_rows)
    return rng.permutation(np.sort(rows)).astype(np.int64)


@register_dataset("digits", description="scikit-learn 8x8 handwritten digits (1797 images, 10 "
                  "classes, embedded, no download); rate/latency/direct code",
                  encodings=("rate", "latency", "direct"), default_T=16,
                  options={"layout": "flat", "max_rate": 1.0},
                  size=lambda split, **_: int(digits_split_indices(split).size))
def build_digits(split: str, T: int, encoding: str, seed: int, limit: int | None,
                 layout: str, max_rate: float) -> EncodedDataset:
    """Encode the digits: intensity ``p = pixel / 16`` in [0, 1].

    ``rate``: Bernoulli spikes with probability ``p * max_rate`` per step
    (seeded by ``seed`` and the split); ``latency``: one spike at step
    ``round((1 - p) * (T - 1))``, none for ``p == 0``; ``direct``: ``p`` at
    every step.  ``layout="flat"`` gives input_shape ``(64,)``, ``"image"``
    gives ``(1, 8, 8)``.
    """
    from sklearn.datasets import load_digits

    _choice("layout", layout, ("flat", "image"))
    data = load_digits()
    rows = digits_split_indices(split)
    if limit is not None:
        rows = rows[:limit]
    p = data.images[rows].astype(np.float64) / 16.0
    p = p.reshape(len(rows), 64) if layout == "flat" else p.reshape(len(rows), 1, 8, 8)
    if encoding == "rate":
        inputs = encoders.rate_encode(p, T, _rng(seed, split, 0), max_rate=float(max_rate))
    elif encoding == "latency":
        inputs = encoders.latency_encode(p, T)
    else:
        inputs = encoders.direct_encode(p, T)
    return EncodedDataset(inputs, data.target[rows], num_classes=10, name="digits",
                          encoding=encoding, source_index=rows)


# ----------------------------------------------------------------------------
# mnist1d: generated locally with the mnist1d package
# ----------------------------------------------------------------------------

def default_cache_dir() -> Path:
    """``~/.cache/loihi_snn`` (or ``$XDG_CACHE_HOME/loihi_snn``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "loihi_snn"


_MNIST1D_CACHE_VERSION = 1


def mnist1d_arrays(num_samples: int = 5000, seq_len: int = 40,
                   cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Generate (or read from the cache) the MNIST-1D arrays.

    Uses ``mnist1d.data.make_dataset`` with the package's default arguments
    (``get_dataset_args()``: seed 42, 80/20 split, ...) except ``num_samples``
    and ``final_seq_length = seq_len``.  ``get_dataset`` is never called: it
    would try to download a pickle.  The global ``random`` / ``numpy.random``
    states, which ``make_dataset`` reseeds, are restored afterwards.

    The result is cached in ``cache_dir`` (default :func:`default_cache_dir`)
    as ``mnist1d-<hash of the arguments and mnist1d version>.npz``, written atomically (temporary
    file + rename), so concurrent processes are safe.

    Returns:
        dict with ``x`` (float32, ``n_train x seq_len``), ``y`` (int64),
        ``x_test``, ``y_test``; values are standardised (mean 0, std 1 over the
        whole data set); ``n_train = int(0.8 * 10 * (num_samples // 10))``.
    """
    from mnist1d.data import get_dataset_args

    args = get_dataset_args(as_dict=True)
    args.pop("url", None)
    args.update(num_samples=int(num_samples), final_seq_length=int(seq_len))
    key = json.dumps({"v": _MNIST1D_CACHE_VERSION, "mnist1d": _package_version("mnist1d"), **args},
                     sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = cache / f"mnist1d-{digest}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in ("x", "y", "x_test", "y_test")}
        except (OSError, ValueError, KeyError):
            log.warning("ignoring unreadable cache file %s", path)
    arrays = _generate_mnist1d(args)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)
    return arrays


def _package_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:  # pragma: no cover - e.g. a source checkout
        return "unknown"


def _generate_mnist1d(args: dict) -> dict[str, np.ndarray]:
    from mnist1d.data import make_dataset
    from mnist1d.utils import ObjectView

    log.info("generating MNIST-1D (%d samples, length %d)", args["num_samples"],
             args["final_seq_length"])
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(ObjectView(dict(args)))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {"x": data["x"].astype(np.float32), "y": data["y"].astype(np.int64),
            "x_test": data["x_test"].astype(np.float32), "y_test": data["y_test"].astype(np.int64)}


@register_dataset("mnist1d", description="MNIST-1D sequences (10 classes) generated locally "
                  "with the mnist1d package: one value per time step (layout time: direct, "
                  "delta or level code) or the whole sequence as a 1 x 1 x length map "
                  "presented for T steps (layout space: direct code)",
                  encodings=("direct", "delta", "level"), default_T=40,
                  options={"num_samples": 5000, "threshold": 0.25, "cache_dir": None,
                           "levels": 16, "value_range": 2.5, "layout": "time",
                           "length": 40},
                  size=_mnist1d_size)
def build_mnist1d(split: str, T: int, encoding: str, seed: int, limit: int | None,
                  num_samples: int, threshold: float, cache_dir: str | None,
                  levels: int = 16, value_range: float = 2.5, layout: str = "time",
                  length: int = 40) -> EncodedDataset:
    """MNIST-1D, in time (``layout="time"``) or in space (``layout="space"``).

    ``layout="time"``: sample value ``x[t]`` fed at step ``t``; ``T`` is the sequence
    length (mnist1d's ``final_seq_length``, 40 by default) and ``length`` is unused.
    ``direct``: input_shape ``(1,)``, the standardised value at each step; ``delta``:
    input_shape ``(2,)``, binary level-crossing spikes (UP, DOWN) with level spacing
    ``threshold`` (standardised units), see :func:`loihi_snn.train.encoders.delta_encode`;
    ``level``: input_shape ``(levels,)``, one spike per step in the channel of the
    value's bin on ``[-value_range, value_range]``
    (:func:`loihi_snn.train.encoders.level_encode`).

    ``layout="space"``: the whole sequence of ``length`` values is one ``1 x 1 x length``
    map (input_shape ``(1, 1, length)``, for conv layers with ``(1, k)`` kernels), the
    same standardised values presented at each of the ``T`` steps (``direct`` code only:
    graded input spikes after ``input_scale``); how MNIST-1D's own CNN/MLP baselines see
    the data.

    ``num_samples`` is the total generated (default 5000: 4000 train / 1000 test).  The
    data are fixed by mnist1d's own seed (42); ``seed`` is unused since every code is
    deterministic.
    """
    num_samples = _positive_int("num_samples", num_samples)
    if num_samples < 10:
        raise ValueError(f"num_samples must be >= 10 (one per class), got {num_samples}")
    _choice("layout", layout, ("time", "space"))
    if layout == "space" and encoding != "direct":
        raise ValueError(f"layout 'space' takes the direct code only, got encoding {encoding!r}")
    seq_len = T if layout == "time" else _positive_int("length", length)
    arrays = mnist1d_arrays(num_samples, seq_len, cache_dir)
    x, y = (arrays["x"], arrays["y"]) if split == "train" else (arrays["x_test"], arrays["y_test"])
    offset = 0 if split == "train" else arrays["x"].shape[0]
    index = np.arange(x.shape[0]) + offset
    if limit is not None:
        x, y, index = x[:limit], y[:limit], index[:limit]
    if layout == "space":
        inputs = np.repeat(x[:, None, None, :, None], T, axis=-1)
    elif encoding == "direct":
        inputs = x[:, None, :]
    elif encoding == "level":
        inputs = encoders.level_encode(x, _positive_int("levels", levels), float(value_range))
    else:
        inputs = encoders.delta_encode(x, float(threshold))
    return EncodedDataset(inputs, y, num_classes=10, name="mnist1d", encoding=encoding,
                          source_index=index)


# ----------------------------------------------------------------------------
# events: synthetic DVS moving dots
# ----------------------------------------------------------------------------

_EVENT_ENCODINGS = ("binary", "count")


@register_dataset("events", description="synthetic DVS event streams (2 x 16 x 16): a dot "
                  "moving in 4 (or 8) directions with background noise; binary/count frames",
                  encodings=_EVENT_ENCODINGS, default_T=20,
                  options={"height": 16, "width": 16, "num_classes": 4, "noise_rate": 5.0,
                           "duration_us": 100_000, "num_train": 1000, "num_test": 250},
                  size=_split_option)
def build_events(split: str, T: int, encoding: str, seed: int, limit: int | None, height: int,
                 width: int, num_classes: int, noise_rate: float, duration_us: int,
                 num_train: int, num_test: int) -> EncodedDataset:
    """Generate the synthetic event data set and bin it into ``T`` frames.

    Raw events (``raw_events``) come from
    :func:`loihi_snn.train.events.moving_dot_events` with a generator seeded
    by ``(seed, split)`` (train and test are independent streams).  Frames
    have input_shape ``(2, height, width)``: channel 0 = OFF, 1 = ON events,
    each of the ``T`` bins spanning ``duration_us / T`` microseconds;
    ``binary`` clips counts to 1, ``count`` keeps them.
    """
    height, width = _positive_int("height", height), _positive_int("width", width)
    duration_us = _positive_int("duration_us", duration_us)
    _choice("num_classes", num_classes, (4, 8))
    n = _positive_int("num_train" if split == "train" else "num_test",
                      num_train if split == "train" else num_test)
    events, labels = moving_dot_events(n, _rng(seed, split, 1), height=height, width=width,
                                       num_classes=num_classes, duration_us=duration_us,
                                       noise_rate=float(noise_rate))
    if limit is not None:
        events, labels = events[:limit], labels[:limit]
    sensor = (width, height, 2)
    inputs = np.stack([events_to_frames(ev, sensor, T, duration_us, 0, clip=encoding == "binary")
                       for ev in events]) if events else np.zeros((0, 2, height, width, T))
    return EncodedDataset(inputs, labels, num_classes=num_classes, name="events",
                          encoding=encoding, source_index=np.arange(len(events)),
                          raw_events=events)


# ----------------------------------------------------------------------------
# dvs_synth: DVS-sized synthetic recordings (loihi_snn.train.dvs_events)
# ----------------------------------------------------------------------------

@register_dataset("dvs_synth", description="synthetic DVS128 recordings of 11 motions (2 x 128 "
                  "x 128, DVS Gesture's geometry; modelled pixel: contrast threshold + "
                  "mismatch, refractory, background noise, hot pixels), generated and cached "
                  "locally; binary/count frames, downsample=2 -> 64 x 64",
                  encodings=_EVENT_ENCODINGS, default_T=32, options=dict(dvs.DATASET_OPTIONS),
                  size=_split_option)
def build_dvs_synth(split: str, T: int, encoding: str, seed: int, limit: int | None,
                    num_train: int, num_test: int, downsample: int, generator_seed: int,
                    cache_dir: str | os.PathLike | None, duration_us: int,
                    frame_interval_us: int, distractor_prob: float, num_classes: int,
                    **sensor_options: Any) -> EncodedDataset:
    """Synthetic DVS recordings of 11 motions (docs/dvs_events.md), binned into ``T`` frames
    over ``[0, duration_us)`` after dividing coordinates by ``downsample`` (2: 64 x 64, 4:
    32 x 32); input_shape ``(2, H, W)``, channel 0 = OFF, 1 = ON.  The data are fixed by
    ``generator_seed`` (``seed`` is unused: like DVS Gesture, the data set does not change
    with the training seed) and cached under ``cache_dir`` (default
    :func:`default_cache_dir`); only the first ``limit`` recordings are generated."""
    n = _split_option(split, num_train, num_test)
    factor = _positive_int("downsample", downsample)
    if isinstance(generator_seed, bool) or not isinstance(generator_seed, (int, np.integer)) \
            or generator_seed < 0:
        raise ValueError(f"generator_seed must be a non-negative integer, got {generator_seed!r}")
    sensor = dvs.SensorModel(**sensor_options)
    scene = dvs.SceneOptions(_positive_int("duration_us", duration_us),
                             _positive_int("frame_interval_us", frame_interval_us),
                             float(distractor_prob), num_classes)
    n = n if limit is None else min(n, limit)
    shape = (2, ceil_div(sensor.height, factor), ceil_div(sensor.width, factor), T)
    gib = n * int(np.prod(shape)) * 4 / 2**30
    if gib > 4:
        log.warning("dvs_synth %s: %d samples of %s float32 frames need %.1f GiB; consider "
                    "limit=, downsample= or a smaller T", split, n, shape, gib)
    events, labels, root = dvs.dvs_synth_recordings(
        split, n, seed=int(generator_seed), sensor=sensor, scene=scene,
        cache_dir=default_cache_dir() if cache_dir is None else cache_dir)
    inputs = dvs.bin_recordings(events, (sensor.width, sensor.height, 2), T, scene.duration_us,
                                factor, clip=encoding == "binary")
    return EncodedDataset(inputs, labels, num_classes=scene.num_classes, name="dvs_synth",
                          encoding=encoding, source_index=np.arange(n), raw_events=events,
                          meta={"sensor_size": [ceil_div(sensor.width, factor),
                                                ceil_div(sensor.height, factor), 2],
                                "cache": os.fspath(root),
                                "classes": list(dvs.CLASSES[:scene.num_classes])})


# ----------------------------------------------------------------------------
# recorded event data sets (tonic, local files only)
# ----------------------------------------------------------------------------

def build_recorded(name: str, split: str, T: int, encoding: str, seed: int, limit: int | None,
                   root: str | os.PathLike | None, downsample: int,
                   duration_us: int | None) -> EncodedDataset:
    """Read a recorded data set with tonic (no download) and bin it into frames.

    Samples are taken in a fixed shuffled order (independent of ``seed``),
    the first ``limit`` of them if given.  Each recording's window starts at
    its first event and lasts ``duration_us`` (None: up to its last event),
    split into ``T`` bins; coordinates are divided by ``downsample``.
    input_shape is ``(2, H, W)`` for the cameras (N-MNIST 34 x 34, DVS Gesture
    128 x 128, before downsampling) and ``(700,)`` channels for SHD.
    """
    from tqdm.auto import tqdm

    if root is None:
        raise ValueError(f"data set {name!r} needs root=<directory>; expected layout: "
                         f"{RECORDED_LAYOUTS[name]}")
    factor = _positive_int("downsample", downsample)
    if duration_us is not None:
        duration_us = _positive_int("duration_us", duration_us)
    source = open_recorded_split(name, root, train=split == "train")
    W, H, P = source.sensor_size
    sensor = (ceil_div(W, factor), ceil_div(H, factor), P)
    order = np.random.default_rng(_SPLIT_SEED).permutation(len(source))
    if limit is not None:
        order = order[:limit]
    frame_shape = (sensor[2], sensor[1], sensor[0], T)
    gib = len(order) * int(np.prod(frame_shape)) * 4 / 2**30
    if gib > 4:
        log.warning("%s %s: %d samples of %s float32 frames need %.1f GiB; consider limit=, "
                    "downsample= or a smaller T", name, split, len(order), frame_shape, gib)
    inputs = np.zeros((len(order),) + frame_shape, dtype=np.float32)
    labels = np.zeros(len(order), dtype=np.int64)
    for i, idx in enumerate(tqdm(order, desc=f"reading {name} {split}", disable=len(order) < 2000)):
        ev, labels[i] = source[int(idx)]
        if ev.size == 0:
            continue
        ev = downsample_events(ev, factor)
        inputs[i] = events_to_frames(ev, sensor, T, duration_us, int(ev["t"].min()),
                                     clip=encoding == "binary")
    if name == "shd":
        inputs = inputs.reshape(len(order), sensor[0], T)
    return EncodedDataset(inputs, labels, num_classes=source.num_classes, name=name,
                          encoding=encoding, source_index=order,
                          meta={"sensor_size": list(sensor)})


def _register_recorded(name: str, description: str, default_T: int,
                       duration_us: int | None) -> None:
    def builder(**kwargs):
        return build_recorded(name, **kwargs)

    builder.__doc__ = build_recorded.__doc__
    register_dataset(name, builder, description=description, encodings=_EVENT_ENCODINGS,
                     default_T=default_T,
                     options={"root": None, "downsample": 1, "duration_us": duration_us})


_register_recorded("nmnist", "N-MNIST (2 x 34 x 34, 10 classes) from local files via tonic "
                   "(root=...; never downloaded)", 30, None)
_register_recorded("dvs_gesture", "IBM DVS Gesture (2 x 128 x 128, 11 classes) from tonic's "
                   "preprocessed local files (root=...; never downloaded)", 20, None)
_register_recorded("shd", "Spiking Heidelberg Digits (700 channels, 20 classes) from local "
                   "HDF5 files via tonic (root=...; never downloaded)", 100, 1_000_000)


# ----------------------------------------------------------------------------
# lif_*: generated tasks of the LIF-variants study (loihi_snn.train.tasks)
# ----------------------------------------------------------------------------

def _register_task(name: str, generate, description: str, default_T: int, options: dict,
                   num_train: int = 2000, num_test: int = 500) -> None:
    def build(split: str, T: int, encoding: str, seed: int, limit: int | None,
              num_train: int, num_test: int, **task_options) -> EncodedDataset:
        n = _positive_int("num_train" if split == "train" else "num_test",
                          num_train if split == "train" else num_test)
        x, labels, info = generate(n, T, _rng(seed, split, 3), **task_options)
        if limit is not None:
            x, labels = x[:limit], labels[:limit]
            info = {k: v[:limit] if isinstance(v, np.ndarray) else v for k, v in info.items()}
        ds = EncodedDataset(x, labels, num_classes=info["num_classes"], name=name,
                            encoding=encoding, source_index=np.arange(len(labels)))
        ds.task_info = info         # readout window and per-sample fields (e.g. delay)
        return ds
    register_dataset(name, build, description=description, encodings=("binary",),
                     default_T=default_T,
                     options={"num_train": num_train, "num_test": num_test, **options},
                     size=_split_option)


_register_task("lif_memory", tasks.memory_task, "cue, variable delay (silence or distractors), "
               "read out after a go signal: memory retention (17 channels, 4 classes)", 32,
               {"num_classes": 4, "group": 4, "cue_steps": 4, "readout": 8, "min_delay": 4,
                "cue_rate": 0.8, "distractor_rate": 0.0})
_register_task("lif_patterns", tasks.pattern_task, "fixed random spike patterns with mild "
               "jitter/deletion/insertion: robustness (16 channels, 4 classes)", 32,
               {"num_classes": 4, "channels": 16, "rate": 0.1, "template_seed": 0,
                "train_jitter": 0.5, "train_delete": 0.1, "train_insert": 0.01})
_register_task("lif_stream", tasks.stream_task, "rate-coded channel groups, short samples to "
               "stream back to back: uninterrupted processing (16 channels, 4 classes)", 16,
               {"num_classes": 4, "group": 4, "rate": 0.3, "background": 0.02})
_register_task("lif_order", tasks.order_task, "two cues of three symbols, class = their "
               "order (12 channels, 6 classes): complex dynamics", 32,
               {"symbols": 3, "group": 4, "cue_steps": 3, "cue_rate": 0.8, "min_gap": 3,
                "background": 0.0})


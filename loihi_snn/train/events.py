"""Event-stream helpers: the event record layout, binning into frames, a
synthetic DVS generator and offline readers for recorded data sets.

Events are numpy structured arrays with the fields ``x``, ``y`` (pixel
column / row), ``t`` (time stamp in microseconds) and ``p`` (polarity:
1 = ON / brighter, 0 = OFF), the convention of the ``tonic`` package.
Sensor sizes are ``(W, H, P)`` tuples, also as in tonic; frames come out
``P x H x W x T`` (time last, the lava-dl SLAYER layout).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "EVENT_DTYPE",
    "RECORDED_LAYOUTS",
    "RecordedSplit",
    "ceil_div",
    "downsample_events",
    "events_to_frames",
    "make_events",
    "moving_dot_events",
    "noise_events",
    "open_recorded_split",
]

#: Structured dtype of the events this package produces (t in microseconds).
EVENT_DTYPE = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", np.int8)])


def make_events(x, y, t, p) -> np.ndarray:
    """Pack 1-D arrays into an :data:`EVENT_DTYPE` structured array.

    Args:
        x, y: pixel column and row (integers, equal length ``n``).
        t: time stamps in microseconds (integers, length ``n``).
        p: polarities, 1 = ON and 0 = OFF (length ``n``).

    Returns:
        structured array of shape ``(n,)`` with fields ``x, y, t, p``.
    """
    x = np.asarray(x)
    ev = np.empty(x.shape, dtype=EVENT_DTYPE)
    ev["x"], ev["y"], ev["t"], ev["p"] = x, y, t, p
    return ev


def events_to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], T: int,
                     duration_us: int | None = None, start_us: int | None = None,
                     clip: bool = False) -> np.ndarray:
    """Bin an event stream into ``T`` equal time bins of event counts.

    The window ``[start_us, start_us + duration_us)`` is cut into ``T`` bins of
    ``duration_us / T`` microseconds; an event at time ``t`` falls into bin
    ``floor((t - start_us) * T / duration_us)``.  Events outside the window
    are dropped.

    Args:
        events: structured array with fields ``x``, ``t``, ``p`` and
            optionally ``y`` (missing ``y`` means a 1-row sensor, e.g. SHD).
        sensor_size: ``(W, H, P)``: width, height and number of polarity
            channels.  With ``P == 1`` every event goes to channel 0 whatever
            its ``p`` (tonic's convention); with ``P == 2`` channel = ``p``.
        T: number of time bins (>= 1).
        duration_us: window length in microseconds; ``None`` means up to and
            including the last event (``max(t) - start_us + 1``).
        start_us: window start in microseconds; ``None`` means 0.
        clip: if True, counts are clipped to 1 (binary spike frames).

    Returns:
        float32 array of shape ``(P, H, W, T)`` holding event counts (or 0/1
        when ``clip``).

    Raises:
        ValueError: on coordinates or polarities outside the sensor, or a
            non-positive ``T`` / ``duration_us``.
    """
    W, H, P = (int(v) for v in sensor_size)
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    start = 0 if start_us is None else int(start_us)
    t = np.asarray(events["t"]).astype(np.int64)
    if duration_us is None:
        duration_us = int(t.max()) - start + 1 if t.size else 1
    duration_us = int(duration_us)
    if duration_us < 1:
        raise ValueError(f"duration_us must be >= 1, got {duration_us}")
    x = np.asarray(events["x"]).astype(np.int64)
    y = (np.asarray(events["y"]).astype(np.int64) if "y" in events.dtype.names
         else np.zeros_like(x))
    c = np.zeros_like(x) if P == 1 else np.asarray(events["p"]).astype(np.int64)
    if x.size and (x.min() < 0 or x.max() >= W or y.min() < 0 or y.max() >= H):
        raise ValueError(f"event coordinates outside the sensor (W={W}, H={H})")
    if c.size and (c.min() < 0 or c.max() >= P):
        raise ValueError(f"event polarities outside 0..{P - 1}")
    rel = t - start
    keep = (rel >= 0) & (rel < duration_us)
    b = rel[keep] * T // duration_us
    flat = ((c[keep] * H + y[keep]) * W + x[keep]) * T + b
    counts = np.bincount(flat, minlength=P * H * W * T).astype(np.float32)
    frames = counts.reshape(P, H, W, T)
    if clip:
        np.minimum(frames, 1.0, out=frames)
    return frames


def downsample_events(events: np.ndarray, factor: int) -> np.ndarray:
    """Spatially downsample events by an integer factor (``x // factor``, ``y // factor``).

    Args:
        events: structured array with ``x`` and optionally ``y`` fields.
        factor: integer >= 1; the sensor of size ``(W, H, P)`` becomes
            ``(ceil(W / factor), ceil(H / factor), P)``.

    Returns:
        a copy of ``events`` with scaled coordinates (same dtype; times unchanged).
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"downsample factor must be >= 1, got {factor}")
    out = events.copy()
    if factor > 1:
        out["x"] = out["x"] // factor
        if "y" in out.dtype.names:
            out["y"] = out["y"] // factor
    return out


def moving_dot_events(num_samples: int, rng: np.random.Generator, *, height: int = 16,
                      width: int = 16, num_classes: int = 4, duration_us: int = 100_000,
                      noise_rate: float = 5.0, substeps: int = 64
                      ) -> tuple[list[np.ndarray], np.ndarray]:
    """Synthetic DVS recordings of a bright dot moving in one of several directions.

    Class ``k`` moves the dot along the angle ``2 * pi * k / num_classes``
    (0 = +x/right, then counter-clockwise in image coordinates with y
    pointing down: with 4 classes 1 = up, 2 = left, 3 = down; 8 classes add the
    diagonals), with +/-0.3 * (pi / num_classes) of jitter.  Per sample the
    dot radius (1.2..2.2 px), travelled distance (0.45..0.85 of the frame
    width) and start offset (+/- 1/6 of the frame) are random.  An ON event
    (p=1) is emitted where a pixel centre enters the dot, an OFF event (p=0)
    where it leaves, at ``substeps`` sub-frames with uniform jitter inside
    each sub-frame; background noise adds ``noise_rate`` events per pixel and
    second at uniformly random places, times and polarities.

    Args:
        num_samples: number of recordings ``n``; labels are balanced (counts
            differ by at most one) and shuffled.
        rng: generator that draws everything (deterministic given its seed).
        height, width: sensor size in pixels.
        num_classes: 4 (axis directions) or 8 (with diagonals).
        duration_us: recording length in microseconds.
        noise_rate: background events per pixel per second (Hz, >= 0).
        substeps: temporal resolution of the motion simulation.

    Returns:
        ``(events, labels)``: a list of ``n`` :data:`EVENT_DTYPE` arrays sorted
        by time, and an int64 array of ``n`` labels in ``0..num_classes-1``.
    """
    if num_classes not in (4, 8):
        raise ValueError(f"num_classes must be 4 or 8, got {num_classes}")
    if noise_rate < 0:
        raise ValueError(f"noise_rate must be >= 0, got {noise_rate}")
    n, H, W, K = int(num_samples), int(height), int(width), int(substeps)
    labels = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    angle = labels * (2 * np.pi / num_classes) + rng.uniform(-0.3, 0.3, n) * np.pi / num_classes
    direction = np.stack([np.cos(angle), -np.sin(angle)], axis=1)  # (dx, dy), y down
    radius = rng.uniform(1.2, 2.2, n)
    travel = rng.uniform(0.45, 0.85, n) * W
    offset = rng.uniform(-1.0, 1.0, (n, 2)) * np.array([W, H]) / 6.0
    centre = np.array([(W - 1) / 2.0, (H - 1) / 2.0]) + offset
    start = centre - direction * travel[:, None] / 2.0
    frac = (np.arange(K) + 0.5) / K
    pos = start[:, None, :] + direction[:, None, :] * travel[:, None, None] * frac[None, :, None]
    gx = np.arange(W, dtype=np.float32)
    gy = np.arange(H, dtype=np.float32)
    dx2 = (gx[None, None, None, :] - pos[:, :, None, None, 0].astype(np.float32)) ** 2
    dy2 = (gy[None, None, :, None] - pos[:, :, None, None, 1].astype(np.float32)) ** 2
    inside = (dx2 + dy2) <= (radius.astype(np.float32) ** 2)[:, None, None, None]
    on = inside[:, 1:] & ~inside[:, :-1]
    off = ~inside[:, 1:] & inside[:, :-1]
    step_us = duration_us / K
    parts = []
    for pol, mask in ((1, on), (0, off)):
        s, k, yy, xx = np.nonzero(mask)
        t = ((k + 1 + rng.random(k.size)) * step_us).astype(np.int64)
        parts.append((s, xx, yy, t, np.full(s.size, pol)))
    n_noise = rng.poisson(noise_rate * H * W * duration_us * 1e-6, n)
    s_noise = np.repeat(np.arange(n), n_noise)
    total = int(n_noise.sum())
    parts.append((s_noise, rng.integers(0, W, total), rng.integers(0, H, total),
                  rng.integers(0, duration_us, total), rng.integers(0, 2, total)))
    s, x, y, t, p = (np.concatenate(cols) for cols in zip(*parts))
    t = np.minimum(t, duration_us - 1)
    order = np.lexsort((t, s))
    ev = make_events(x[order], y[order], t[order], p[order])
    bounds = np.searchsorted(s[order], np.arange(1, n))
    return np.split(ev, bounds), labels


def noise_events(num_samples: int, rng: np.random.Generator, *, height: int = 16,
                 width: int = 16, duration_us: int = 100_000, noise_rate: float = 5.0
                 ) -> list[np.ndarray]:
    """Background-noise-only DVS recordings: what :func:`moving_dot_events` adds to each
    recording, without the dot.

    Per recording a Poisson number of events with mean
    ``noise_rate * height * width * duration_us * 1e-6``, each at a uniformly random
    pixel, time (``0 .. duration_us - 1``) and polarity: the background of
    :func:`moving_dot_events` (same rate units: events per pixel per second, Hz).  Used
    to measure how much a network fires on noise alone.

    Args:
        num_samples: number of recordings ``n``.
        rng: generator that draws everything (deterministic given its seed).
        height, width: sensor size in pixels.
        duration_us: recording length in microseconds.
        noise_rate: background events per pixel per second (Hz, >= 0).

    Returns:
        a list of ``n`` :data:`EVENT_DTYPE` arrays sorted by time.
    """
    if noise_rate < 0:
        raise ValueError(f"noise_rate must be >= 0, got {noise_rate}")
    n, H, W = int(num_samples), int(height), int(width)
    counts = rng.poisson(noise_rate * H * W * duration_us * 1e-6, n)
    out = []
    for c in counts:
        t = np.sort(rng.integers(0, duration_us, c))
        out.append(make_events(rng.integers(0, W, c), rng.integers(0, H, c), t,
                               rng.integers(0, 2, c)))
    return out


# ----------------------------------------------------------------------------
# Recorded data sets read through tonic with downloading disabled.
#
# tonic's dataset classes decide whether the data are present with
# ``_check_exists()``, which wants the downloaded archive (zip / tar.gz / h5.zip)
# next to the extracted files AND a minimum file count (10,000 .bin files for
# N-MNIST, 100 .npy for DVS Gesture), and otherwise call ``download()``.  The
# subclasses below keep tonic's directory walking, file parsing and labels but
# accept the extracted files alone, and turn ``download()`` into an error that
# names the expected layout.
# ----------------------------------------------------------------------------

#: Expected on-disk layout of each recorded data set below ``root``.
RECORDED_LAYOUTS = {
    "nmnist": ("<root>/NMNIST/Train/<digit 0-9>/<id>.bin and <root>/NMNIST/Test/<digit>/<id>.bin "
               "(the extracted N-MNIST archives; 40-bit events: x, y, polarity bit + 23-bit "
               "time stamp in us)"),
    "dvs_gesture": ("<root>/DVSGesture/ibmGestureTrain/user<NN>_<lighting>/<label>.npy and "
                    "<root>/DVSGesture/ibmGestureTest/... (tonic's preprocessed DVS Gesture: "
                    "one int array per file with columns x, y, p, t[ms]; label 0-10 = file name)"),
    "shd": ("<root>/SHD/shd_train.h5 and <root>/SHD/shd_test.h5 (the unzipped Spiking "
            "Heidelberg Digits files: spikes/times [s], spikes/units, labels, extra/keys, "
            "extra/speaker)"),
}

_TONIC_CLASS = {"nmnist": "NMNIST", "dvs_gesture": "DVSGesture", "shd": "SHD"}
_NUM_CLASSES = {"nmnist": 10, "dvs_gesture": 11, "shd": 20}


def _import_tonic():
    try:
        import tonic.datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the recorded event data sets need the 'tonic' package: "
                          "pip install 'loihi-snn[events]' (or pip install 'tonic>=1.4')") from exc
    return tonic


def _offline_class(name: str):
    """Subclass of tonic's dataset class for ``name`` that never downloads."""
    tonic = _import_tonic()
    base = getattr(tonic.datasets, _TONIC_CLASS[name])
    layout = RECORDED_LAYOUTS[name]

    class Offline(base):
        def _check_exists(self) -> bool:
            if name == "shd":
                return os.path.isfile(os.path.join(self.location_on_system, self.data_filename))
            suffix = ".bin" if name == "nmnist" else ".npy"
            folder = Path(self.location_on_system, self.folder_name)
            return folder.is_dir() and any(folder.rglob(f"*{suffix}"))

        def download(self) -> None:
            raise FileNotFoundError(
                f"{name}: no data under {self.location_on_system!s} (downloading is disabled; "
                f"place the files there yourself). Expected layout: {layout}")

    Offline.__name__ = Offline.__qualname__ = base.__name__  # tonic names folders after the class
    return Offline


@dataclass
class RecordedSplit:
    """One split of a recorded event data set, read lazily file by file.

    Attributes:
        name: data set name (``nmnist``, ``dvs_gesture``, ``shd``).
        sensor_size: ``(W, H, P)`` of the sensor (SHD: 700 channels, 1 row, 1 polarity).
        num_classes: number of labels.
        source: the underlying (offline) tonic dataset object.
    """

    name: str
    sensor_size: tuple[int, int, int]
    num_classes: int
    source: object

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[np.ndarray, int]:
        """Return ``(events, label)``; events have fields including x, t, p with t in us."""
        events, label = self.source[index]
        return events, int(label)

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self[i]


def open_recorded_split(name: str, root: str | os.PathLike, train: bool) -> RecordedSplit:
    """Open a recorded data set stored under ``root`` without downloading.

    Args:
        name: ``nmnist``, ``dvs_gesture`` or ``shd``.
        root: directory holding the data set folder (``NMNIST``, ``DVSGesture``
            or ``SHD``); passing that folder itself also works.
        train: the training split if True, else the test split.

    Returns:
        a :class:`RecordedSplit`.

    Raises:
        ValueError: unknown ``name``.
        FileNotFoundError: the files are missing; the message gives the layout.
    """
    if name not in _TONIC_CLASS:
        raise ValueError(f"unknown recorded data set {name!r}; choose one of {sorted(_TONIC_CLASS)}")
    root = Path(root).expanduser()
    folder = _TONIC_CLASS[name]
    if root.name == folder:
        root = root.parent
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: root directory {root} does not exist. "
                                f"Expected layout: {RECORDED_LAYOUTS[name]}")
    cls = _offline_class(name)
    source = cls(str(root), train=train)
    if len(source) == 0:
        raise FileNotFoundError(f"{name}: no samples found under {root / folder}. "
                                f"Expected layout: {RECORDED_LAYOUTS[name]}")
    return RecordedSplit(name, tuple(cls.sensor_size), _NUM_CLASSES[name], source)


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of ``a / b`` (sensor size after downsampling by ``b``)."""
    return -(-int(a) // int(b))

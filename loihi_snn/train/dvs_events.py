"""A DVS-sized event data set generated locally: 11 classes of motion seen by a modelled DVS128.

DVS Gesture's geometry (Amir et al. 2017): a static 128 x 128 two-polarity event camera,
11 classes of motion, about 1,000 training and 250 test recordings of a few seconds.  No
download exists here, so the recordings are rendered: moving, rotating and deforming
textured shapes in front of a static textured background, turned into events by a model of
the DVS pixel (docs/dvs_events.md gives the model, the parameters and their real values):

- each pixel memorises a log-intensity level and emits an ON (OFF) event each time the log
  intensity rises (falls) one contrast threshold above (below) it; the thresholds differ
  from pixel to pixel (Gaussian mismatch, fixed per sensor);
- log intensity is linear in time between rendered frames (``frame_interval_us``), so the
  crossings of one frame interval get their own times inside it (as v2e does);
- after an event a pixel is blind for ``refractory_us`` (crossings meanwhile are lost);
- background activity: Poisson events at ``noise_rate_hz`` per pixel, random polarity;
  ``hot_pixels`` pixels fire at ``hot_pixel_rate_hz`` whatever the scene;
- time stamps are whole milliseconds (``t`` in microseconds, multiples of 1000), the
  precision of tonic's DVS Gesture files.

Recordings are written in tonic's DVS Gesture layout (``<dir>/DVSGesture/ibmGestureTrain/
user<NNN>_synth/<label>.npy``, int32 columns ``x, y, p, t[ms]``), so tonic's own
``tonic.datasets.DVSGesture`` (and :func:`loihi_snn.train.events.open_recorded_split`) read
them, and they come back as the structured arrays (``x``, ``y``, ``t`` [us], ``p``) every
event loader of this package uses.  Real DVS Gesture / N-MNIST recordings take the same
binning path (data sets ``dvs_gesture`` / ``nmnist``).

Everything is deterministic from ``generator_seed``: recording ``i`` of a split depends only
on (seed, split, i), never on how many recordings are asked for, so a ``limit`` generates
only what it uses and a larger request reuses the cached files.  Block ``b`` of
``num_classes`` consecutive recordings holds every class once in a shuffled order (one
"user" of DVS Gesture), so any prefix of a split is balanced to within one recording.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loihi_snn.core.files import atomic_path
from loihi_snn.train.events import ceil_div, downsample_events, events_to_frames, make_events

__all__ = [
    "CLASSES",
    "DATASET_OPTIONS",
    "DVS_SYNTH_VERSION",
    "SensorModel",
    "SensorState",
    "SceneOptions",
    "background_events",
    "bin_recordings",
    "dvs_synth_recordings",
    "make_sensor",
    "read_tonic_file",
    "recording_label",
    "recording_path",
    "render_recording",
    "sensor_events",
    "write_tonic_file",
]

log = logging.getLogger(__name__)

#: bumped whenever the generator's output changes (part of the cache key)
DVS_SYNTH_VERSION = 1

#: class names, in label order
CLASSES = ("right", "left", "up", "down", "rotate_cw", "rotate_ccw", "expand", "contract",
           "circle", "wave", "clap")

TIME_RESOLUTION_US = 1000          # time stamps are whole milliseconds (tonic's DVS Gesture)
_SPLIT_CODE = {"train": 0, "test": 1}
_SHAPES = ("disk", "square", "triangle", "cross", "bar")
_TEXTURES = ("flat", "stripes", "checker")


# ----------------------------------------------------------------------------
# the sensor
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SensorModel:
    """Parameters of the modelled DVS pixel array (docs/dvs_events.md: what each models).

    Attributes:
        width, height: pixels (DVS128: 128 x 128).
        threshold_on, threshold_off: nominal contrast thresholds in log-intensity units
            (0.15 = a 16 % change of intensity).
        threshold_sigma: pixel-to-pixel standard deviation of the thresholds (log units),
            drawn once per sensor; thresholds are kept >= 0.01.
        refractory_us: dead time after each event of a pixel (microseconds).
        noise_rate_hz: background-activity events per pixel per second.
        noise_on_fraction: fraction of background events that are ON.
        hot_pixels: number of hot pixels (fixed per sensor, each with a fixed polarity).
        hot_pixel_rate_hz: event rate of each hot pixel.
    """

    width: int = 128
    height: int = 128
    threshold_on: float = 0.15
    threshold_off: float = 0.15
    threshold_sigma: float = 0.021
    refractory_us: int = 1000
    noise_rate_hz: float = 0.2
    noise_on_fraction: float = 0.5
    hot_pixels: int = 2
    hot_pixel_rate_hz: float = 100.0

    def check(self) -> "SensorModel":
        """Raise ValueError naming the first invalid field; return self."""
        for name in ("width", "height"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        for name in ("threshold_on", "threshold_off"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("threshold_sigma", "noise_rate_hz", "hot_pixel_rate_hz"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0 <= self.noise_on_fraction <= 1:
            raise ValueError(f"noise_on_fraction must lie in [0, 1], got "
                             f"{self.noise_on_fraction!r}")
        for name in ("refractory_us", "hot_pixels"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
        if self.hot_pixels > self.width * self.height:
            raise ValueError(f"hot_pixels ({self.hot_pixels}) exceeds the pixel count")
        return self


@dataclass
class SensorState:
    """One physical sensor drawn from a :class:`SensorModel` (fixed across recordings).

    Attributes:
        model: the parameters.
        c_on, c_off: (H, W) float64 per-pixel thresholds (log units).
        hot_index: flat pixel indices (y * W + x) of the hot pixels.
        hot_polarity: their polarities (0/1).
    """

    model: SensorModel
    c_on: np.ndarray
    c_off: np.ndarray
    hot_index: np.ndarray
    hot_polarity: np.ndarray


def make_sensor(model: SensorModel, rng: np.random.Generator) -> SensorState:
    """Draw a sensor: threshold mismatch maps and the hot pixels."""
    model.check()
    H, W = model.height, model.width
    c_on = model.threshold_on + model.threshold_sigma * rng.standard_normal((H, W))
    c_off = model.threshold_off + model.threshold_sigma * rng.standard_normal((H, W))
    hot = rng.choice(H * W, size=model.hot_pixels, replace=False)
    return SensorState(model, np.maximum(c_on, 0.01), np.maximum(c_off, 0.01),
                       np.sort(hot).astype(np.int64),
                       rng.integers(0, 2, model.hot_pixels).astype(np.int8))


def background_events(sensor: SensorState, duration_us: int, rng: np.random.Generator):
    """Background activity and hot-pixel events of one recording, before the refractory
    filter: ``(flat pixel index, t [us, float], p)`` arrays.

    Background: a Poisson number of events with mean ``noise_rate_hz * H * W * duration``,
    uniform over pixels and time, ON with probability ``noise_on_fraction``.  Hot pixels:
    each a Poisson process at ``hot_pixel_rate_hz`` with its own fixed polarity.
    """
    m = sensor.model
    npx = m.width * m.height
    seconds = duration_us * 1e-6
    n = int(rng.poisson(m.noise_rate_hz * npx * seconds))
    idx = rng.integers(0, npx, n)
    t = rng.random(n) * duration_us
    p = (rng.random(n) < m.noise_on_fraction).astype(np.int8)
    nh = rng.poisson(m.hot_pixel_rate_hz * seconds, sensor.hot_index.size)
    hidx = np.repeat(sensor.hot_index, nh)
    ht = rng.random(hidx.size) * duration_us
    hp = np.repeat(sensor.hot_polarity, nh)
    return (np.concatenate([idx, hidx]), np.concatenate([t, ht]),
            np.concatenate([p, hp]).astype(np.int8))


# ----------------------------------------------------------------------------
# the scene
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SceneOptions:
    """What is rendered in front of the sensor.

    Attributes:
        duration_us: recording length (microseconds).
        frame_interval_us: time between rendered frames; log intensity is linear in
            between.  Objects move at most a few pixels per frame at the default 5 ms.
        distractor_prob: probability that a small, slow, class-independent object also
            crosses the scene.
        num_classes: use the first ``num_classes`` motions of :data:`CLASSES` (2..11).
    """

    duration_us: int = 1_500_000
    frame_interval_us: int = 5000
    distractor_prob: float = 0.3
    num_classes: int = 11

    def check(self) -> "SceneOptions":
        for name in ("duration_us", "frame_interval_us"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.frame_interval_us > self.duration_us:
            raise ValueError("frame_interval_us must not exceed duration_us")
        if not 0 <= self.distractor_prob <= 1:
            raise ValueError(f"distractor_prob must lie in [0, 1], got {self.distractor_prob!r}")
        if not (isinstance(self.num_classes, (int, np.integer))
                and 2 <= self.num_classes <= len(CLASSES)):
            raise ValueError(f"num_classes must be an integer in 2..{len(CLASSES)}, got "
                             f"{self.num_classes!r}")
        return self


@dataclass
class _Object:
    """One rendered object: per-frame pose arrays (K + 1 frames) and its look."""

    cx: np.ndarray
    cy: np.ndarray
    angle: np.ndarray        # radians; increasing = clockwise on screen (y points down)
    radius: np.ndarray       # pixels
    aspect: np.ndarray       # (K + 1, 2): x and y stretch of the shape
    shape: str
    texture: str
    texture_freq: float
    log_contrast: float      # log(object / background level)


def _sdf(shape: str, ux: np.ndarray, uy: np.ndarray) -> np.ndarray:
    """Signed distance-like function in object units (negative inside, 0 on the edge)."""
    if shape == "disk":
        return np.sqrt(ux * ux + uy * uy) - 1.0
    ax, ay = np.abs(ux), np.abs(uy)
    if shape == "square":
        return np.maximum(ax, ay) - 0.8
    if shape == "bar":
        return np.maximum(ax - 1.0, ay - 0.4)
    if shape == "cross":
        return np.minimum(np.maximum(ax - 1.0, ay - 0.33), np.maximum(ax - 0.33, ay - 1.0))
    # triangle: inradius 0.5, one vertex pointing along +x
    d = ux * -1.0 - 0.5
    for ang in (np.pi / 3, -np.pi / 3):
        d = np.maximum(d, ux * np.cos(ang) + uy * np.sin(ang) - 0.5)
    return d


def _texture(obj: _Object, ux: np.ndarray, uy: np.ndarray):
    if obj.texture == "flat":
        return 0.0
    f = obj.texture_freq
    if obj.texture == "stripes":
        return 0.35 * np.sin(f * ux)
    return 0.35 * np.sin(f * ux) * np.sin(f * uy)


def _look(rng: np.random.Generator, rotating: bool) -> dict:
    shape = str(rng.choice(_SHAPES))
    texture = str(rng.choice(_TEXTURES))
    if rotating and shape == "disk" and texture == "flat":
        texture = "stripes"          # a flat disk has nothing that rotates
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return dict(shape=shape, texture=texture, texture_freq=float(rng.uniform(3.0, 7.0)),
                log_contrast=float(sign * rng.uniform(0.6, 1.2)))


def _objects(label: int, rng: np.random.Generator, W: int, H: int, times_s: np.ndarray,
             distractor_prob: float) -> list[_Object]:
    """The objects of one recording of class ``label`` (distractor first, then the actor)."""
    K1 = times_s.size
    D = float(times_s[-1]) if times_s[-1] > 0 else 1.0
    tau = times_s / D
    S = float(min(W, H))
    ones = np.ones(K1)
    c0 = np.array([W / 2.0, H / 2.0]) + rng.uniform(-0.12, 0.12, 2) * S
    name = CLASSES[label]
    out: list[_Object] = []

    if rng.random() < distractor_prob:
        d_ang = rng.uniform(0, 2 * np.pi)
        start = np.array([W / 2.0, H / 2.0]) + rng.uniform(-0.4, 0.4, 2) * S
        travel = rng.uniform(0.1, 0.35) * S
        look = _look(rng, False)
        look["log_contrast"] *= 0.6
        out.append(_Object(cx=start[0] + np.cos(d_ang) * travel * tau,
                           cy=start[1] + np.sin(d_ang) * travel * tau,
                           angle=rng.uniform(0, np.pi) + rng.uniform(-1, 1) * tau,
                           radius=rng.uniform(0.03, 0.05) * S * ones,
                           aspect=np.ones((K1, 2)), **look))

    r0 = rng.uniform(0.07, 0.13) * S
    theta0 = rng.uniform(0, 2 * np.pi)
    wobble_amp = rng.uniform(0.0, 0.12)                 # slow deformation (all classes)
    wobble = 1.0 + wobble_amp * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * times_s
                                       + rng.uniform(0, 2 * np.pi))
    aspect = np.stack([wobble, 2.0 - wobble], axis=1)
    drift = rng.uniform(-0.04, 0.04, 2) * S             # slow drift of the "static" classes
    spin = rng.uniform(-0.4, 0.4)                       # rad/s nuisance spin
    radius = r0 * ones
    angle = theta0 + spin * times_s
    rotating = name.startswith("rotate")

    if name in ("right", "left", "up", "down"):
        base = {"right": 0.0, "down": np.pi / 2, "left": np.pi, "up": -np.pi / 2}[name]
        ang = base + np.deg2rad(rng.uniform(-15, 15))
        travel = rng.uniform(0.35, 0.6) * S
        ease = rng.uniform(0.0, 0.6)
        s = tau + ease * np.sin(2 * np.pi * tau) / (2 * np.pi) - 0.5
        perp = rng.uniform(0, 0.03) * S * np.sin(2 * np.pi * rng.uniform(0.5, 2) * tau
                                                 + rng.uniform(0, 2 * np.pi))
        cx = c0[0] + np.cos(ang) * travel * s - np.sin(ang) * perp
        cy = c0[1] + np.sin(ang) * travel * s + np.cos(ang) * perp
    elif rotating:
        omega = rng.uniform(1.5, 3.5) * (1 if name == "rotate_cw" else -1)
        angle = theta0 + omega * times_s
        cx, cy = c0[0] + drift[0] * tau, c0[1] + drift[1] * tau
        radius = rng.uniform(0.1, 0.16) * S * ones
    elif name in ("expand", "contract"):
        k = rng.uniform(1.8, 2.6)
        small = rng.uniform(0.05, 0.08) * S
        radius = small * k ** (tau if name == "expand" else 1.0 - tau)
        cx, cy = c0[0] + drift[0] * tau, c0[1] + drift[1] * tau
    elif name == "circle":
        rc = rng.uniform(0.12, 0.25) * S
        revs = rng.uniform(0.8, 2.0) * (1 if rng.random() < 0.5 else -1)
        phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * revs * tau
        cx, cy = c0[0] + rc * np.cos(phi), c0[1] + rc * np.sin(phi)
        radius = rng.uniform(0.05, 0.09) * S * ones
    elif name == "wave":
        amp = rng.uniform(0.1, 0.2) * S
        f = rng.uniform(0.8, 2.0)
        tilt = np.deg2rad(rng.uniform(-20, 20))
        x = amp * np.sin(2 * np.pi * f * times_s + rng.uniform(0, 2 * np.pi))
        cx, cy = c0[0] + np.cos(tilt) * x, c0[1] + np.sin(tilt) * x
    else:  # clap: two copies approach until they touch and part again
        r0 = rng.uniform(0.06, 0.1) * S
        radius = r0 * ones
        d_min, d_max = 2.0 * r0, 2.0 * r0 + rng.uniform(0.2, 0.35) * S
        f = rng.uniform(0.8, 2.0)
        sep = d_min + (d_max - d_min) * 0.5 * (1 + np.cos(2 * np.pi * f * times_s
                                                          + rng.uniform(0, 2 * np.pi)))
        tilt = np.deg2rad(rng.uniform(-20, 20))
        look = _look(rng, False)
        for side in (-1.0, 1.0):
            out.append(_Object(cx=c0[0] + side * np.cos(tilt) * sep / 2,
                               cy=c0[1] + side * np.sin(tilt) * sep / 2,
                               angle=angle, radius=radius, aspect=aspect, **look))
        return out
    out.append(_Object(cx=np.asarray(cx, float), cy=np.asarray(cy, float),
                       angle=np.asarray(angle, float), radius=np.asarray(radius, float),
                       aspect=aspect, **_look(rng, rotating)))
    return out


def _background(rng: np.random.Generator, W: int, H: int) -> tuple[np.ndarray, float]:
    """Static textured background log intensity (H, W) and its mean level (log)."""
    level = float(np.log(rng.uniform(0.2, 0.5)))
    coarse = rng.standard_normal((6, 6))
    yi = np.linspace(0, 5, H)
    xi = np.linspace(0, 5, W)
    y0 = np.minimum(yi.astype(int), 4)
    x0 = np.minimum(xi.astype(int), 4)
    fy, fx = (yi - y0)[:, None], (xi - x0)[None, :]
    field = (coarse[y0][:, x0] * (1 - fy) * (1 - fx) + coarse[y0 + 1][:, x0] * fy * (1 - fx)
             + coarse[y0][:, x0 + 1] * (1 - fy) * fx + coarse[y0 + 1][:, x0 + 1] * fy * fx)
    fine = 0.05 * rng.standard_normal((H, W))
    return level + 0.25 * field + fine, level


def _boxes(obj: _Object, W: int, H: int) -> np.ndarray:
    """Integer pixel box ``[x0, x1) x [y0, y1)`` holding the object, per frame: (K + 1, 4)."""
    ext = obj.radius * np.max(obj.aspect, axis=1) * 1.2 + 2.0
    x0, x1 = np.floor(obj.cx - ext), np.ceil(obj.cx + ext) + 1
    y0, y1 = np.floor(obj.cy - ext), np.ceil(obj.cy + ext) + 1
    return np.stack([np.clip(x0, 0, W), np.clip(x1, 0, W), np.clip(y0, 0, H), np.clip(y1, 0, H)],
                    axis=1).astype(np.int64)


def _disjoint(rects: list[list[int]]) -> list[list[int]]:
    """Merge overlapping boxes ``[x0, x1, y0, y1]`` until none overlap; drop empty ones."""
    rects = [r for r in rects if r[0] < r[1] and r[2] < r[3]]
    merged = True
    while merged:
        merged = False
        for i in range(len(rects)):
            for j in range(i + 1, len(rects)):
                a, b = rects[i], rects[j]
                if a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]:
                    rects[i] = [min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]),
                                max(a[3], b[3])]
                    del rects[j]
                    merged = True
                    break
            if merged:
                break
    return rects


class _Pixels:
    """The state of the pixel array during one recording (full-frame arrays)."""

    def __init__(self, sensor: SensorState, L0: np.ndarray):
        self.sensor = sensor
        self.L_prev = L0.copy()                # log intensity at the previous frame
        self.ref = L0.copy()                   # memorised level of each pixel
        self.last_t = np.full(L0.shape, -np.inf)     # time of each pixel's last event (us)
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def update(self, ya: int, yb: int, xa: int, xb: int, L_new: np.ndarray, t0: float,
               dt: float) -> None:
        """Log intensity goes linearly from ``L_prev`` to ``L_new`` over ``(t0, t0 + dt]``
        in the box: emit the threshold crossings, minus those inside a refractory period."""
        sensor, W = self.sensor, self.sensor.model.width
        refr = float(sensor.model.refractory_us)
        box = (slice(ya, yb), slice(xa, xb))
        R = self.ref[box]
        up = L_new - R
        c_on, c_off = sensor.c_on[box], sensor.c_off[box]
        iy, ix = np.nonzero((up >= c_on) | (up <= -c_off))
        lp = self.L_prev[box][iy, ix]
        self.L_prev[box] = L_new
        if iy.size == 0:
            return
        u = up[iy, ix]
        on = u > 0
        c = np.where(on, c_on[iy, ix], c_off[iy, ix])
        n = np.floor(np.abs(u) / c)                       # crossings in this interval
        r_lvl = R[iy, ix]
        dl = np.abs(L_new[iy, ix] - lp)
        first = np.where(on, r_lvl + c - lp, lp - r_lvl + c) / dl     # in (0, 1]
        t1 = t0 + first * dt                      # time of the first crossing
        s = c * dt / dl                           # spacing of the crossings
        gy, gx = iy + ya, ix + xa
        k0 = np.maximum(0.0, np.ceil((self.last_t[gy, gx] + refr - t1) / s))
        step = np.maximum(1.0, np.ceil(refr / s))
        kept = np.maximum(0.0, np.ceil((n - k0) / step)).astype(np.int64)
        self.ref[gy, gx] = r_lvl + np.where(on, n, -n) * c    # every crossing moves it
        sel = kept > 0
        if not sel.any():
            return
        kept, k0, step, t1, s = kept[sel], k0[sel], step[sel], t1[sel], s[sel]
        gy, gx, pol = gy[sel], gx[sel], on[sel]
        self.last_t[gy, gx] = t1 + (k0 + (kept - 1) * step) * s
        rep = np.repeat(np.arange(kept.size), kept)
        j = np.arange(rep.size) - np.repeat(np.cumsum(kept) - kept, kept)
        times = t1[rep] + (k0[rep] + j * step[rep]) * s[rep]
        self.parts.append((gy[rep] * W + gx[rep], times, pol[rep].astype(np.int8)))


def _render(objs: list[_Object], boxes: list[np.ndarray], bright: list[float], k: int,
            I_bg: np.ndarray, xa: int, xb: int, ya: int, yb: int) -> np.ndarray:
    """Intensity of frame ``k`` in the box ``[xa, xb) x [ya, yb)``: the background with the
    objects painted over it in order (anti-aliased edges, textures in object coordinates)."""
    img = I_bg[ya:yb, xa:xb].copy()
    for o, b, lum in zip(objs, boxes, bright):
        oxa, oxb = max(xa, b[k, 0]), min(xb, b[k, 1])       # the part the object covers
        oya, oyb = max(ya, b[k, 2]), min(yb, b[k, 3])
        if oxa >= oxb or oya >= oyb:
            continue
        r = o.radius[k]
        cth, sth = np.cos(o.angle[k]), np.sin(o.angle[k])
        dx = np.arange(oxa, oxb, dtype=np.float64)[None, :] - o.cx[k]
        dy = np.arange(oya, oyb, dtype=np.float64)[:, None] - o.cy[k]
        ux = (cth * dx + sth * dy) * (1.0 / (r * o.aspect[k, 0]))
        uy = (cth * dy - sth * dx) * (1.0 / (r * o.aspect[k, 1]))
        alpha = np.clip(0.5 - _sdf(o.shape, ux, uy) * r, 0.0, 1.0)
        sub = img[oya - ya:oyb - ya, oxa - xa:oxb - xa]
        sub += alpha * (lum * (1.0 + _texture(o, ux, uy)) - sub)
    return img


def render_recording(label: int, rng: np.random.Generator, sensor: SensorState,
                     scene: SceneOptions) -> np.ndarray:
    """One recording of class ``label``: events sorted by time (``EVENT_DTYPE``,
    ``t`` in microseconds, whole milliseconds), sensor model applied.

    The pixels start adapted to the first frame (no burst at the start); frame ``k`` is
    rendered only inside the boxes the objects occupy at frames ``k - 1`` and ``k`` (the
    background is static, nothing else changes)."""
    m = sensor.model
    W, H = m.width, m.height
    dt = int(scene.frame_interval_us)
    K = max(1, int(scene.duration_us) // dt)
    times_s = np.arange(K + 1) * dt * 1e-6
    objs = _objects(int(label), rng, W, H, times_s, scene.distractor_prob)
    L_bg, level = _background(rng, W, H)
    I_bg = np.exp(L_bg)
    boxes = [_boxes(o, W, H) for o in objs]
    bright = [float(np.exp(level + o.log_contrast)) for o in objs]
    pixels = _Pixels(sensor, np.log(_render(objs, boxes, bright, 0, I_bg, 0, W, 0, H)))
    for k in range(1, K + 1):
        rects = _disjoint([[min(b[k - 1, 0], b[k, 0]), max(b[k - 1, 1], b[k, 1]),
                            min(b[k - 1, 2], b[k, 2]), max(b[k - 1, 3], b[k, 3])]
                           for b in boxes])
        for xa, xb, ya, yb in rects:
            img = _render(objs, boxes, bright, k, I_bg, xa, xb, ya, yb)
            pixels.update(ya, yb, xa, xb, np.log(img), (k - 1) * dt, dt)
    return sensor_events(sensor, pixels.parts, int(scene.duration_us), rng)


def sensor_events(sensor: SensorState, parts: list, duration_us: int,
                  rng: np.random.Generator) -> np.ndarray:
    """Merge a recording's signal events with background activity and hot pixels, apply
    the refractory period to the merged stream (an event closer than ``refractory_us`` to
    the pixel's previous event is dropped) and quantise times to whole milliseconds.

    ``parts``: list of ``(flat pixel index, t [us, float], p)`` triples (signal events,
    already refractory-filtered among themselves).  Returns ``EVENT_DTYPE``, time
    sorted (ties: by pixel).
    """
    m = sensor.model
    parts = list(parts) + [background_events(sensor, duration_us, rng)]
    idx = np.concatenate([p[0] for p in parts]).astype(np.int64)
    t = np.concatenate([p[1] for p in parts])
    pol = np.concatenate([p[2] for p in parts]).astype(np.int8)
    tq = (np.floor(t / TIME_RESOLUTION_US) * TIME_RESOLUTION_US).astype(np.int64)
    keep = tq < duration_us
    idx, tq, pol, t = idx[keep], tq[keep], pol[keep], t[keep]
    order = np.lexsort((t, idx))
    idx, tq, pol = idx[order], tq[order], pol[order]
    if m.refractory_us > 0 and idx.size > 1:
        # dead time measured on the quantised stamps: every kept pair of one pixel is
        # >= refractory_us apart (a dropped event still starts a dead time: the rare
        # noise-on-signal collision; signal events are already spaced among themselves)
        close = (idx[1:] == idx[:-1]) & (tq[1:] - tq[:-1] < m.refractory_us)
        ok = np.ones(idx.size, bool)
        ok[1:] = ~close
        idx, tq, pol = idx[ok], tq[ok], pol[ok]
    order = np.lexsort((idx, tq))
    idx, tq, pol = idx[order], tq[order], pol[order]
    return make_events(idx % m.width, idx // m.width, tq, pol)


# ----------------------------------------------------------------------------
# splits, files, cache
# ----------------------------------------------------------------------------

def recording_label(split: str, index: int, seed: int, num_classes: int) -> int:
    """Label of recording ``index``: block ``index // num_classes`` is a seeded permutation
    of the classes."""
    block = int(index) // num_classes
    perm = np.random.default_rng([int(seed), _SPLIT_CODE[split], 1, block]).permutation(
        num_classes)
    return int(perm[int(index) % num_classes])


def recording_path(root: Path, split: str, index: int, seed: int, num_classes: int) -> Path:
    """``<root>/DVSGesture/ibmGesture{Train,Test}/user<block+1:03d>_synth/<label>.npy``."""
    folder = "ibmGestureTrain" if split == "train" else "ibmGestureTest"
    block = int(index) // num_classes
    label = recording_label(split, index, seed, num_classes)
    return Path(root) / "DVSGesture" / folder / f"user{block + 1:03d}_synth" / f"{label}.npy"


def write_tonic_file(path: Path, events: np.ndarray) -> None:
    """Write events as tonic's DVS Gesture stores them: int32 (n, 4) ``x, y, p, t[ms]``
    (atomically; ``t`` must be whole milliseconds)."""
    t = np.asarray(events["t"], np.int64)
    if t.size and np.any(t % 1000):
        raise ValueError("DVS Gesture files hold whole milliseconds")
    arr = np.stack([events["x"], events["y"], events["p"], t // 1000], axis=1).astype(np.int32)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr)


def read_tonic_file(path: Path) -> np.ndarray:
    """Read a DVS Gesture ``.npy`` (columns x, y, p, t[ms]) as ``EVENT_DTYPE`` (t in us)."""
    arr = np.load(path)
    return make_events(arr[:, 0], arr[:, 1], arr[:, 3].astype(np.int64) * 1000, arr[:, 2])


def _cache_root(cache_dir, sensor: SensorModel, scene: SceneOptions, seed: int) -> Path:
    key = {"v": DVS_SYNTH_VERSION, "seed": int(seed), "sensor": asdict(sensor),
           "scene": asdict(scene)}
    text = json.dumps(key, sort_keys=True, default=int)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    root = Path(cache_dir).expanduser() / f"dvs_synth-{digest}"
    meta = root / "generator.json"
    if not meta.is_file():
        with atomic_path(meta) as tmp, open(tmp, "w") as fh:
            fh.write(json.dumps(key, sort_keys=True, indent=1, default=int) + "\n")
    return root


def dvs_synth_recordings(split: str, num: int, *, cache_dir: str | os.PathLike, seed: int = 0,
                         sensor: SensorModel = SensorModel(),
                         scene: SceneOptions = SceneOptions(),
                         progress: bool | None = None) -> tuple[list[np.ndarray], np.ndarray, Path]:
    """Recordings ``0 .. num - 1`` of ``split``, generated or read from the cache.

    The cache is ``<cache_dir>/dvs_synth-<hash of version, seed, sensor, scene>/`` (the
    ``dvs_synth`` data set passes :func:`loihi_snn.train.datasets.default_cache_dir` unless
    told otherwise) in tonic's DVS Gesture layout (:func:`recording_path`), one file per
    recording written atomically, so concurrent processes and interrupted runs are safe;
    ``generator.json`` there records the parameters.

    Returns:
        ``(events, labels, root)``: ``num`` ``EVENT_DTYPE`` arrays, their int64
        labels, and the cache folder (read by tonic's ``DVSGesture`` parser through
        :func:`loihi_snn.train.events.open_recorded_split`).
    """
    if split not in _SPLIT_CODE:
        raise ValueError(f"unknown split {split!r}; choose one of: train, test")
    sensor.check()
    scene.check()
    root = _cache_root(cache_dir, sensor, scene, seed)
    K = int(scene.num_classes)
    labels = np.array([recording_label(split, i, seed, K) for i in range(num)], np.int64)
    paths = [recording_path(root, split, i, seed, K) for i in range(num)]
    missing = [i for i, p in enumerate(paths) if not p.is_file()]
    if missing:
        from tqdm.auto import tqdm
        state = make_sensor(sensor, np.random.default_rng([int(seed), 3]))
        show = len(missing) >= 50 if progress is None else progress
        t0 = time.perf_counter()
        for i in tqdm(missing, desc=f"generating dvs_synth {split}", disable=not show):
            rng = np.random.default_rng([int(seed), _SPLIT_CODE[split], 2, i])
            write_tonic_file(paths[i], render_recording(int(labels[i]), rng, state, scene))
        log.info("dvs_synth %s: generated %d recordings in %.1f s", split, len(missing),
                 time.perf_counter() - t0)
    events = [read_tonic_file(p) for p in paths]
    return events, labels, root


def bin_recordings(events: list[np.ndarray], sensor_size: tuple[int, int, int], T: int,
                   duration_us: int, downsample: int = 1, clip: bool = True,
                   dtype=np.float32) -> np.ndarray:
    """Frames ``(N, P, H', W', T)`` of recordings: coordinates divided by ``downsample``
    (:func:`~loihi_snn.train.events.downsample_events`), ``[0, duration_us)`` cut into ``T``
    bins (:func:`~loihi_snn.train.events.events_to_frames`), counts clipped to 1 when
    ``clip``.  ``dtype`` e.g. ``np.uint8`` for a compact copy (counts saturate at 255)."""
    W, H, P = sensor_size
    small = (ceil_div(W, downsample), ceil_div(H, downsample), P)
    out = np.zeros((len(events), P, small[1], small[0], T), dtype=dtype)
    for i, ev in enumerate(events):
        fr = events_to_frames(downsample_events(ev, downsample), small, T, duration_us, 0,
                              clip=clip)
        if np.dtype(dtype).kind in "iu":
            np.minimum(fr, np.iinfo(dtype).max, out=fr)
        out[i] = fr
    return out


#: options of the ``dvs_synth`` data set (registered in :mod:`loihi_snn.train.datasets`)
DATASET_OPTIONS: dict[str, Any] = {
    "num_train": 1000, "num_test": 250, "downsample": 2, "generator_seed": 0,
    "cache_dir": None, "duration_us": SceneOptions.duration_us,
    "frame_interval_us": SceneOptions.frame_interval_us,
    "distractor_prob": SceneOptions.distractor_prob, "num_classes": SceneOptions.num_classes,
    **asdict(SensorModel()),
}

"""Tests of the data-set registry, the spike encoders and the event helpers.

The recorded-data loaders (N-MNIST, DVS Gesture, SHD) are exercised on tiny
files written here in the real on-disk formats; nothing is downloaded.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from loihi_snn.train import encoders
from loihi_snn.train.datasets import (
    EncodedDataset,
    digits_split_indices,
    get_dataset_spec,
    list_datasets,
    load_dataset,
    mnist1d_arrays,
    register_dataset,
)
from loihi_snn.train.events import (
    EVENT_DTYPE,
    downsample_events,
    events_to_frames,
    make_events,
    moving_dot_events,
)


def summed_counts(inputs: np.ndarray) -> np.ndarray:
    """Features for a linear probe: spike counts summed over time, flattened."""
    return inputs.sum(axis=-1).reshape(len(inputs), -1)


def linear_probe_accuracy(train: EncodedDataset, test: EncodedDataset) -> float:
    clf = LogisticRegression(max_iter=1000).fit(summed_counts(train.inputs), train.labels)
    return float(clf.score(summed_counts(test.inputs), test.labels))


# ---------------------------------------------------------------------------
# registry and errors
# ---------------------------------------------------------------------------

def test_list_datasets_names_and_descriptions():
    listed = list_datasets()
    for name in ("digits", "mnist1d", "events", "nmnist", "dvs_gesture", "shd"):
        assert name in listed
        assert isinstance(listed[name], str) and listed[name] and "\n" not in listed[name]


@pytest.mark.parametrize("kwargs, fragments", [
    ({"name": "cifar"}, ["cifar", "digits", "events", "mnist1d"]),
    ({"name": "digits", "encoding": "poisson"}, ["poisson", "rate", "latency", "direct"]),
    ({"name": "digits", "colour": 1}, ["colour", "layout", "max_rate"]),
    ({"name": "digits", "layout": "square"}, ["square", "flat", "image"]),
    ({"name": "digits", "split": "valid"}, ["valid", "train", "test"]),
    ({"name": "events", "num_classes": 5}, ["num_classes", "4", "8"]),
    ({"name": "digits", "T": 0}, ["T"]),
    ({"name": "digits", "limit": 0}, ["limit"]),
    ({"name": "nmnist"}, ["root", "NMNIST/Train"]),
])
def test_bad_arguments_raise_value_error_listing_choices(kwargs, fragments):
    with pytest.raises(ValueError) as info:
        load_dataset(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_register_custom_dataset_and_duplicate_name():
    def builder(split, T, encoding, seed, limit, scale):
        x = np.full((3, 2, T), scale, dtype=np.float32)
        return EncodedDataset(x, np.array([0, 1, 0]), num_classes=2, name="toy", encoding=encoding)

    register_dataset("toy_test_only", builder, description="toy", encodings=("direct",),
                     default_T=5, options={"scale": 1.0}, replace=True)
    ds = load_dataset("toy_test_only", scale=2.0)
    assert ds.inputs.shape == (3, 2, 5) and np.all(ds.inputs == 2.0)
    assert ds.meta["options"] == {"scale": 2.0}
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("toy_test_only", builder, description="x", encodings=("direct",),
                         default_T=1)


# ---------------------------------------------------------------------------
# encoders
# ---------------------------------------------------------------------------

def test_rate_encoding_mean_matches_probability():
    p = np.linspace(0.0, 1.0, 11)
    T = 20_000
    spikes = encoders.rate_encode(p, T, np.random.default_rng(1), max_rate=0.5)
    assert spikes.shape == (11, T) and spikes.dtype == np.float32
    assert set(np.unique(spikes)) <= {0.0, 1.0}
    # std of a mean of T Bernoulli(q <= 0.5) draws is <= 0.5 / sqrt(T) = 0.0035; allow 5 sigma
    np.testing.assert_allclose(spikes.mean(axis=-1), p * 0.5, atol=0.018)
    assert spikes[0].sum() == 0


def test_latency_encoding_follows_formula():
    p = np.array([0.0, 1 / 16, 0.25, 0.5, 0.7, 1.0])
    T = 16
    spikes = encoders.latency_encode(p, T)
    assert spikes.shape == (6, T)
    assert spikes[0].sum() == 0  # p == 0 never spikes
    for i in range(1, len(p)):
        assert spikes[i].sum() == 1
        assert int(np.argmax(spikes[i])) == round((1 - p[i]) * (T - 1))
    assert spikes[-1, 0] == 1  # brightest spikes first


def test_delta_encoding_hand_made_sequence():
    x = np.array([0.1, 0.3, 0.6, 0.55, -0.1, -0.2])
    out = encoders.delta_encode(x, threshold=0.25)
    assert out.shape == (2, 6)
    np.testing.assert_array_equal(out[0], [0, 1, 1, 0, 0, 0])  # up
    np.testing.assert_array_equal(out[1], [0, 0, 0, 0, 1, 0])  # down (2 levels at once, 1 spike)
    with pytest.raises(ValueError):
        encoders.delta_encode(x, threshold=0)


# ---------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------

def test_digits_shapes_dtypes_and_getitem():
    ds = load_dataset("digits")
    assert ds.T == 16 and ds.encoding == "rate" and ds.num_classes == 10
    assert ds.inputs.shape == (len(ds), 64, 16) and ds.inputs.dtype == np.float32
    assert ds.labels.dtype == np.int64 and ds.labels.shape == (len(ds),)
    assert ds.input_shape == (64,)
    x, y = ds[3]
    assert isinstance(x, torch.Tensor) and x.shape == (64, 16) and x.dtype == torch.float32
    assert isinstance(y, int) and y == ds.labels[3]
    json.dumps(ds.meta)
    assert ds.meta["T"] == 16 and ds.meta["split"] == "train" and ds.meta["input_shape"] == [64]
    img = load_dataset("digits", split="test", T=4, layout="image", limit=7)
    assert img.inputs.shape == (7, 1, 8, 8, 4) and img.input_shape == (1, 8, 8)


def test_digits_split_fixed_stratified_and_disjoint():
    train, test = digits_split_indices("train"), digits_split_indices("test")
    assert len(set(train) & set(test)) == 0
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(1797))
    assert len(test) == pytest.approx(0.2 * 1797, abs=6)
    a = load_dataset("digits", split="test", seed=0, encoding="direct")
    b = load_dataset("digits", split="test", seed=5, encoding="direct")
    np.testing.assert_array_equal(a.source_index, b.source_index)  # seed does not move the split
    np.testing.assert_array_equal(a.source_index, test)
    counts = np.bincount(a.labels, minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # ~20 % of ~180 per class


def test_digits_encodings_semantics():
    from sklearn.datasets import load_digits

    images = load_digits().images.reshape(-1, 64) / 16.0
    direct = load_dataset("digits", split="test", T=5, encoding="direct", limit=50)
    p = images[direct.source_index]
    np.testing.assert_allclose(direct.inputs, np.repeat(p[..., None], 5, axis=-1), rtol=1e-6)

    T = 12
    lat = load_dataset("digits", split="test", T=T, encoding="latency", limit=50)
    assert np.all(lat.inputs.sum(-1) == (p > 0))
    n, i = np.nonzero(p > 0)
    expected = [round((1 - v) * (T - 1)) for v in p[n, i]]
    np.testing.assert_array_equal(lat.inputs[n, i].argmax(-1), expected)

    rate = load_dataset("digits", split="test", T=1000, encoding="rate", limit=20, max_rate=0.8)
    np.testing.assert_allclose(rate.inputs.mean(-1), p[:20] * 0.8, atol=0.08)  # > 5 sigma


def test_digits_determinism_and_seed():
    a = load_dataset("digits", seed=3, limit=100)
    b = load_dataset("digits", seed=3, limit=100)
    c = load_dataset("digits", seed=4, limit=100)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.labels, c.labels)
    assert not np.array_equal(a.inputs, c.inputs)
    # train and test spikes come from different streams even with the same seed
    t = load_dataset("digits", split="test", seed=3, limit=100)
    assert not np.array_equal(a.inputs, t.inputs)


def test_digits_are_learnable_from_spike_counts():
    train = load_dataset("digits", split="train", T=8)
    test = load_dataset("digits", split="test", T=8)
    assert linear_probe_accuracy(train, test) > 0.85  # chance is 0.10


# ---------------------------------------------------------------------------
# mnist1d
# ---------------------------------------------------------------------------

def test_mnist1d_matches_generator_and_is_cached(tmp_path):
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)
    random.seed(123)
    state_before = np.random.get_state()[1].copy(), random.getstate()
    arrays = mnist1d_arrays(num_samples=200, seq_len=40, cache_dir=tmp_path)
    # the generator reseeds the global RNGs; we restore them
    np.testing.assert_array_equal(np.random.get_state()[1], state_before[0])
    assert random.getstate() == state_before[1]
    cached = list(tmp_path.glob("mnist1d-*.npz"))
    assert len(cached) == 1 and not list(tmp_path.glob("*.tmp"))

    args = get_dataset_args()
    args.num_samples = 200
    reference = make_dataset(args)
    np.testing.assert_allclose(arrays["x"], reference["x"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(arrays["y_test"], reference["y_test"])
    assert arrays["x"].shape == (160, 40) and arrays["x_test"].shape == (40, 40)

    mtime = cached[0].stat().st_mtime_ns
    again = mnist1d_arrays(num_samples=200, seq_len=40, cache_dir=tmp_path)
    assert cached[0].stat().st_mtime_ns == mtime  # read back, not regenerated
    np.testing.assert_array_equal(again["x"], arrays["x"])
    other = mnist1d_arrays(num_samples=100, seq_len=40, cache_dir=tmp_path)
    assert other["x"].shape == (80, 40) and len(list(tmp_path.glob("mnist1d-*.npz"))) == 2


def test_mnist1d_direct_and_delta(tmp_path):
    train = load_dataset("mnist1d", encoding="direct", num_samples=200, cache_dir=tmp_path)
    test = load_dataset("mnist1d", split="test", num_samples=200, cache_dir=tmp_path)
    assert train.inputs.shape == (160, 1, 40) and train.input_shape == (1,) and train.T == 40
    assert test.inputs.shape == (40, 1, 40)
    arrays = mnist1d_arrays(num_samples=200, seq_len=40, cache_dir=tmp_path)
    np.testing.assert_array_equal(train.inputs[:, 0, :], arrays["x"])
    assert len(set(train.source_index) & set(test.source_index)) == 0
    train_rows = {r.tobytes() for r in train.inputs}
    assert not any(r.tobytes() in train_rows for r in test.inputs)

    delta = load_dataset("mnist1d", encoding="delta", threshold=0.3, num_samples=200,
                         cache_dir=tmp_path, limit=30)
    assert delta.inputs.shape == (30, 2, 40) and delta.input_shape == (2,)
    np.testing.assert_array_equal(delta.inputs, encoders.delta_encode(arrays["x"][:30], 0.3))
    assert set(np.unique(delta.inputs)) <= {0.0, 1.0} and delta.inputs.sum() > 0
    assert not np.any(delta.inputs[:, 0] * delta.inputs[:, 1])  # never up and down at once

    short = load_dataset("mnist1d", T=24, num_samples=100, cache_dir=tmp_path)
    assert short.inputs.shape == (80, 1, 24)


def test_mnist1d_default_sizes(tmp_path):
    train = load_dataset("mnist1d", cache_dir=tmp_path)
    test = load_dataset("mnist1d", split="test", cache_dir=tmp_path)
    assert train.inputs.shape == (4000, 1, 40) and test.inputs.shape == (1000, 1, 40)
    assert np.bincount(train.labels, minlength=10).min() > 300


# ---------------------------------------------------------------------------
# events: synthetic DVS
# ---------------------------------------------------------------------------

def test_events_to_frames_counts_hand_made():
    ev = make_events(x=[0, 0, 2, 1, 1, 2, 0],
                     y=[0, 0, 1, 2, 2, 0, 0],
                     t=[0, 10, 25, 49, 50, 99, 100],
                     p=[1, 1, 0, 1, 1, 0, 1])
    frames = events_to_frames(ev, sensor_size=(3, 3, 2), T=4, duration_us=100)
    assert frames.shape == (2, 3, 3, 4) and frames.dtype == np.float32
    expected = np.zeros((2, 3, 3, 4), np.float32)
    expected[1, 0, 0, 0] = 2      # t=0 and t=10 -> bin 0 (25 us bins)
    expected[0, 1, 2, 1] = 1      # t=25 -> bin 1
    expected[1, 2, 1, 1] = 1      # t=49 -> bin 1
    expected[1, 2, 1, 2] = 1      # t=50 -> bin 2
    expected[0, 0, 2, 3] = 1      # t=99 -> bin 3; t=100 falls outside the window
    np.testing.assert_array_equal(frames, expected)
    assert events_to_frames(ev, (3, 3, 2), 4, 100, clip=True).max() == 1
    # window start and default duration (through the last event)
    late = events_to_frames(ev, (3, 3, 2), T=1, start_us=50)
    assert late.sum() == 3
    # single-polarity sensors put everything in channel 0; no y field means one row
    shd_like = np.array([(5, 1, 1), (250, 3, 1)], dtype=[("t", int), ("x", int), ("p", int)])
    one = events_to_frames(shd_like, (4, 1, 1), T=2, duration_us=500)
    assert one.shape == (1, 1, 4, 2) and one[0, 0, 1, 0] == 1 and one[0, 0, 3, 1] == 1
    with pytest.raises(ValueError, match="outside the sensor"):
        events_to_frames(ev, (2, 3, 2), T=4, duration_us=100)
    half = downsample_events(ev, 2)
    assert half["x"].max() == 1 and half["y"].max() == 1 and np.array_equal(half["t"], ev["t"])


def test_moving_dot_events_raw_stream():
    start = time.perf_counter()
    events, labels = moving_dot_events(1000, np.random.default_rng(0))
    elapsed = time.perf_counter() - start
    assert elapsed < 4.0, f"generation took {elapsed:.2f} s (about 0.3 s expected)"
    assert len(events) == 1000 and labels.dtype == np.int64
    assert np.array_equal(np.bincount(labels), [250] * 4)
    for ev in events[:50]:
        assert ev.dtype == EVENT_DTYPE and len(ev) > 20
        assert np.all(np.diff(ev["t"]) >= 0)
        assert ev["t"].min() >= 0 and ev["t"].max() < 100_000
        assert ev["x"].min() >= 0 and ev["x"].max() < 16 and ev["y"].max() < 16
        assert set(np.unique(ev["p"])) <= {0, 1}
    quiet, _ = moving_dot_events(20, np.random.default_rng(0), noise_rate=0.0)
    noisy, _ = moving_dot_events(20, np.random.default_rng(0), noise_rate=50.0)
    assert sum(map(len, noisy)) > sum(map(len, quiet)) + 20 * 500


def test_events_dataset_layout_balance_and_determinism():
    ds = load_dataset("events", seed=1)
    assert ds.inputs.shape == (1000, 2, 16, 16, 20) and ds.input_shape == (2, 16, 16)
    assert ds.T == 20 and ds.num_classes == 4 and ds.encoding == "binary"
    assert set(np.unique(ds.inputs)) <= {0.0, 1.0}
    assert np.array_equal(np.bincount(ds.labels), [250] * 4)
    first = ds.raw_events[0]
    np.testing.assert_array_equal(ds.inputs[0], events_to_frames(first, (16, 16, 2), 20, 100_000,
                                                                 clip=True))
    again = load_dataset("events", seed=1, limit=50)
    np.testing.assert_array_equal(again.inputs, ds.inputs[:50])
    other = load_dataset("events", seed=2, limit=50)
    assert not np.array_equal(other.inputs, again.inputs)
    test = load_dataset("events", split="test", seed=1)
    test_counts = np.bincount(test.labels, minlength=4)
    assert len(test) == 250 and test_counts.max() - test_counts.min() <= 1
    train_rows = {r.tobytes() for r in ds.inputs}
    assert not any(r.tobytes() in train_rows for r in test.inputs)
    counts = load_dataset("events", seed=1, encoding="count", limit=50, T=5)
    assert counts.inputs.shape == (50, 2, 16, 16, 5) and counts.inputs.max() > 1
    assert counts.inputs.sum() == sum(len(e) for e in counts.raw_events)
    eight = load_dataset("events", num_classes=8, num_train=80, height=12, width=20)
    assert eight.inputs.shape == (80, 2, 12, 20, 20) and np.array_equal(np.bincount(eight.labels),
                                                                        [10] * 8)


def test_events_are_learnable_from_spike_counts():
    train = load_dataset("events", split="train", seed=0)
    test = load_dataset("events", split="test", seed=0)
    assert linear_probe_accuracy(train, test) > 0.75  # chance is 0.25


# ---------------------------------------------------------------------------
# recorded data sets in their real on-disk formats (tonic, no download)
# ---------------------------------------------------------------------------

def write_nmnist_bin(path: Path, x, y, t_us, p) -> None:
    """N-MNIST's 40-bit events: x, y, then polarity bit + 23-bit time stamp (big-endian)."""
    x, y, t_us, p = (np.asarray(v, dtype=np.uint32) for v in (x, y, t_us, p))
    raw = np.zeros((len(x), 5), dtype=np.uint8)
    raw[:, 0], raw[:, 1] = x, y
    raw[:, 2] = (p << 7) | ((t_us >> 16) & 0x7F)
    raw[:, 3] = (t_us >> 8) & 0xFF
    raw[:, 4] = t_us & 0xFF
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.tofile(path)


@pytest.fixture
def nmnist_root(tmp_path):
    """Tiny N-MNIST: digits 0..2, two files each in Train, one each in Test."""
    for split, per_class in (("Train", 2), ("Test", 1)):
        for digit in range(3):
            for k in range(per_class):
                n = 5 + digit
                write_nmnist_bin(tmp_path / "NMNIST" / split / str(digit) / f"{k:05d}.bin",
                                 x=np.full(n, digit * 10 + k), y=np.arange(n) + 3,
                                 t_us=np.linspace(1_000, 300_000, n).astype(int),
                                 p=np.arange(n) % 2)
    return tmp_path


def test_nmnist_reads_real_binary_format(nmnist_root):
    ds = load_dataset("nmnist", root=nmnist_root, T=10)
    assert len(ds) == 6 and ds.inputs.shape == (6, 2, 34, 34, 10) and ds.num_classes == 10
    assert sorted(ds.labels.tolist()) == [0, 0, 1, 1, 2, 2]
    for frames, label in zip(ds.inputs, ds.labels):
        n = 5 + label
        assert frames.sum() == n
        cols = np.nonzero(frames.sum(axis=(0, 1, 3)))[0]
        assert set(cols.tolist()) <= {label * 10, label * 10 + 1}
        on_rows = np.nonzero(frames[1].sum(axis=(1, 2)))[0]
        np.testing.assert_array_equal(on_rows, np.arange(1, n, 2) + 3)  # odd events are ON
        assert frames[..., 0].sum() == 1 and frames[..., -1].sum() >= 1  # spans the window
    test = load_dataset("nmnist", split="test", root=nmnist_root / "NMNIST", T=4, downsample=2)
    assert test.inputs.shape == (3, 2, 17, 17, 4) and sorted(test.labels) == [0, 1, 2]
    one = load_dataset("nmnist", root=nmnist_root, T=10, limit=2)
    np.testing.assert_array_equal(one.inputs, ds.inputs[:2])


@pytest.fixture
def dvs_gesture_root(tmp_path):
    """Tiny DVS Gesture in tonic's preprocessed layout: columns x, y, p, t[ms]."""
    rng = np.random.default_rng(0)
    for folder, users in (("ibmGestureTrain", (1, 2)), ("ibmGestureTest", (24,))):
        for user in users:
            d = tmp_path / "DVSGesture" / folder / f"user{user:02d}_fluorescent_led"
            d.mkdir(parents=True)
            for label in (0, 4, 10):
                n = 40
                arr = np.stack([rng.integers(0, 128, n), rng.integers(0, 128, n),
                                rng.integers(0, 2, n), np.sort(rng.integers(0, 1500, n))], axis=1)
                np.save(d / f"{label}.npy", arr.astype(np.float64))
    return tmp_path


def test_dvs_gesture_reads_tonic_layout(dvs_gesture_root):
    ds = load_dataset("dvs_gesture", root=dvs_gesture_root, T=8, encoding="count", downsample=4)
    assert ds.inputs.shape == (6, 2, 32, 32, 8) and ds.num_classes == 11
    assert sorted(ds.labels.tolist()) == [0, 0, 4, 4, 10, 10]
    assert np.all(ds.inputs.sum(axis=(1, 2, 3, 4)) == 40)
    test = load_dataset("dvs_gesture", split="test", root=dvs_gesture_root, T=8)
    assert test.inputs.shape == (3, 2, 128, 128, 8)
    # the event window starts at the first event and spans all of them
    assert np.all(test.inputs[..., 0].sum(axis=(1, 2, 3)) >= 1)


@pytest.fixture
def shd_root(tmp_path):
    """Tiny SHD HDF5 files with the real groups: spikes/times [s], spikes/units, labels, extra."""
    rng = np.random.default_rng(0)
    (tmp_path / "SHD").mkdir()
    for split, labels in (("train", [0, 5, 19, 5]), ("test", [7, 3])):
        with h5py.File(tmp_path / "SHD" / f"shd_{split}.h5", "w") as f:
            times = f.create_dataset("spikes/times", (len(labels),),
                                     dtype=h5py.vlen_dtype(np.float32))
            units = f.create_dataset("spikes/units", (len(labels),),
                                     dtype=h5py.vlen_dtype(np.uint16))
            for i, label in enumerate(labels):
                n = 30 + 10 * i
                times[i] = np.sort(rng.uniform(0.0, 0.9, n)).astype(np.float32)
                units[i] = np.full(n, 20 * label + 3, dtype=np.uint16)
            f["labels"] = np.asarray(labels, dtype=np.uint16)
            f["extra/keys"] = np.array([f"digit-{k}".encode() for k in range(20)])
            f["extra/speaker"] = np.zeros(len(labels), dtype=np.uint16)
    return tmp_path


def test_shd_reads_hdf5(shd_root):
    ds = load_dataset("shd", root=shd_root, T=50)
    assert ds.inputs.shape == (4, 700, 50) and ds.input_shape == (700,) and ds.num_classes == 20
    assert sorted(ds.labels.tolist()) == [0, 5, 5, 19]
    for frames, label in zip(ds.inputs, ds.labels):
        active = np.nonzero(frames.sum(-1))[0]
        np.testing.assert_array_equal(active, [20 * label + 3])
    counts = load_dataset("shd", root=shd_root, T=50, encoding="count", downsample=10)
    assert counts.inputs.shape == (4, 70, 50)
    assert sorted(counts.inputs.sum(axis=(1, 2)).tolist()) == [30, 40, 50, 60]
    test = load_dataset("shd", split="test", root=shd_root)
    assert test.inputs.shape == (2, 700, 100) and sorted(test.labels.tolist()) == [3, 7]


@pytest.mark.parametrize("name, layout_hint", [("nmnist", "NMNIST/Train"),
                                               ("dvs_gesture", "ibmGestureTrain"),
                                               ("shd", "shd_train.h5")])
def test_recorded_missing_files_give_layout(tmp_path, name, layout_hint):
    with pytest.raises(FileNotFoundError) as info:
        load_dataset(name, root=tmp_path)
    assert layout_hint in str(info.value) and "download" in str(info.value)
    with pytest.raises(FileNotFoundError, match=layout_hint):
        load_dataset(name, root=tmp_path / "nowhere")


def test_spec_lists_options():
    spec = get_dataset_spec("events")
    assert spec.default_encoding == "binary" and spec.default_T == 20
    assert {"noise_rate", "height", "width", "num_classes"} <= set(spec.options)

"""The locally generated DVS-sized event data set (``dvs_synth``, loihi_snn.train.dvs_events):
determinism, shapes, balance, the pixel model (thresholds, refractory period, noise, hot
pixels), tonic reading what it writes, tonic's binning equal to ours, the cache.

Everything runs on small sensors and short recordings (the full 2 x 128 x 128 set is timed in
docs/dvs_events.md)."""
from __future__ import annotations

import numpy as np
import pytest

from loihi_snn.train import dvs_events as de
from loihi_snn.train.datasets import dataset_size, get_dataset_spec, load_dataset
from loihi_snn.train.events import EVENT_DTYPE, open_recorded_split

SMALL = dict(width=32, height=32, duration_us=300_000)
SENSOR = de.SensorModel(width=32, height=32)
SCENE = de.SceneOptions(duration_us=300_000)


def _recording(label, seed=0, sensor=SENSOR, scene=SCENE):
    state = de.make_sensor(sensor, np.random.default_rng([7, 3]))
    return de.render_recording(label, np.random.default_rng([7, 0, 2, seed]), state, scene)


def _per_pixel_gaps(ev: np.ndarray) -> np.ndarray:
    pix = ev["y"].astype(np.int64) * 10_000 + ev["x"]
    order = np.lexsort((ev["t"], pix))
    pix, t = pix[order], ev["t"][order]
    same = pix[1:] == pix[:-1]
    return (t[1:] - t[:-1])[same]


# --------------------------------------------------------------------------- the pixel model

def test_pixel_model_crossings_times_and_reference():
    """One pixel whose log intensity rises by 0.5 over a 10 ms frame with threshold 0.15:
    three ON events at the linearly interpolated crossing times; the memorised level
    moves by 3 thresholds; a later fall to -0.1 gives three OFF events; with a 4 ms
    refractory period crossings 3 ms apart are thinned (every second one kept)."""
    model = de.SensorModel(width=1, height=1, threshold_sigma=0.0, refractory_us=0,
                           noise_rate_hz=0.0, hot_pixels=0)
    sensor = de.make_sensor(model, np.random.default_rng(0))
    px = de._Pixels(sensor, np.zeros((1, 1)))
    px.update(0, 1, 0, 1, np.full((1, 1), 0.5), 0.0, 10_000.0)
    idx, t, p = px.parts[0]
    np.testing.assert_allclose(t, [3000.0, 6000.0, 9000.0])
    assert list(p) == [1, 1, 1] and list(idx) == [0, 0, 0]
    assert px.ref[0, 0] == pytest.approx(0.45)
    px.update(0, 1, 0, 1, np.full((1, 1), -0.1), 10_000.0, 10_000.0)
    idx, t, p = px.parts[1]
    assert list(p) == [0, 0, 0]          # levels 0.30, 0.15, 0.00 crossed on the way down
    np.testing.assert_allclose(t, 10_000 + np.array([0.2, 0.35, 0.5]) / 0.6 * 10_000)
    assert px.ref[0, 0] == pytest.approx(0.0)

    slow = de.make_sensor(de.SensorModel(width=1, height=1, threshold_sigma=0.0,
                                         refractory_us=4000, noise_rate_hz=0.0, hot_pixels=0),
                          np.random.default_rng(0))
    px = de._Pixels(slow, np.zeros((1, 1)))
    px.update(0, 1, 0, 1, np.full((1, 1), 0.95), 0.0, 19_000.0)   # crossings every 3 ms
    np.testing.assert_allclose(px.parts[0][1], [3000.0, 9000.0, 15000.0])
    assert px.ref[0, 0] == pytest.approx(0.9)                     # all six crossings count
    assert px.last_t[0, 0] == pytest.approx(15000.0)


def test_deterministic_from_seed_and_independent_of_the_request(tmp_path):
    a = _recording(3, seed=1)
    b = _recording(3, seed=1)
    assert a.dtype == EVENT_DTYPE and a.size > 100
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _recording(3, seed=2))
    # recording i is the same whether 5 or 12 recordings are asked for, in any cache
    sensor, scene = SENSOR, SCENE
    ev5, lab5, _ = de.dvs_synth_recordings("train", 5, seed=4, sensor=sensor, scene=scene,
                                           cache_dir=tmp_path / "a")
    ev12, lab12, _ = de.dvs_synth_recordings("train", 12, seed=4, sensor=sensor, scene=scene,
                                             cache_dir=tmp_path / "b")
    np.testing.assert_array_equal(lab12[:5], lab5)
    for x, y in zip(ev5, ev12):
        np.testing.assert_array_equal(x, y)
    ev_other, _, _ = de.dvs_synth_recordings("train", 2, seed=5, sensor=sensor, scene=scene,
                                             cache_dir=tmp_path / "a")
    assert not np.array_equal(ev_other[0], ev5[0])


def test_classes_balanced_and_mixed():
    for split in ("train", "test"):
        labels = np.array([de.recording_label(split, i, 0, 11) for i in range(1000)])
        for n in (11, 20, 250, 1000):
            counts = np.bincount(labels[:n], minlength=11)
            assert counts.max() - counts.min() <= 1, (split, n, counts)
        assert len(set(labels[:11])) == 11 and not np.array_equal(labels[:11], np.arange(11))
    assert [de.recording_label("train", i, 0, 11) for i in range(22)] != \
        [de.recording_label("test", i, 0, 11) for i in range(22)]
    assert sorted({de.recording_label("train", i, 0, 4) for i in range(8)}) == [0, 1, 2, 3]


def test_dataset_shapes_dtypes_and_encodings(tmp_path):
    ds = load_dataset("dvs_synth", "train", T=10, limit=11, downsample=2, cache_dir=tmp_path,
                      **SMALL)
    assert ds.inputs.shape == (11, 2, 16, 16, 10) and ds.inputs.dtype == np.float32
    assert set(np.unique(ds.inputs)) <= {0.0, 1.0} and ds.inputs.sum() > 0
    assert ds.num_classes == 11 and sorted(ds.labels) == list(range(11))
    assert ds.meta["sensor_size"] == [16, 16, 2] and ds.meta["classes"][0] == "right"
    for ev in ds.raw_events:
        assert ev.dtype == EVENT_DTYPE and ev.size > 0
        assert np.all(np.diff(ev["t"]) >= 0)                      # time sorted
        assert ev["t"].min() >= 0 and ev["t"].max() < SMALL["duration_us"]
        assert np.all(ev["t"] % 1000 == 0)                         # whole milliseconds
        assert ev["x"].max() < 32 and ev["y"].max() < 32 and set(np.unique(ev["p"])) == {0, 1}
    counts = load_dataset("dvs_synth", "train", T=10, limit=11, downsample=2,
                          encoding="count", cache_dir=tmp_path, **SMALL)
    assert counts.inputs.max() > 1
    np.testing.assert_array_equal(np.minimum(counts.inputs, 1), ds.inputs)
    full = load_dataset("dvs_synth", "test", T=4, limit=3, downsample=1, cache_dir=tmp_path,
                        **SMALL)
    assert full.inputs.shape == (3, 2, 32, 32, 4)
    assert dataset_size("dvs_synth", "train") == 1000 and dataset_size("dvs_synth", "test") == 250
    spec = get_dataset_spec("dvs_synth")
    assert spec.default_T == 32 and spec.options["width"] == 128 and spec.options["downsample"] == 2


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="threshold_on"):
        load_dataset("dvs_synth", limit=1, threshold_on=0.0, cache_dir=tmp_path, **SMALL)
    with pytest.raises(ValueError, match="num_classes"):
        load_dataset("dvs_synth", limit=1, num_classes=12, cache_dir=tmp_path, **SMALL)
    with pytest.raises(ValueError, match="unknown option"):
        load_dataset("dvs_synth", limit=1, colour=True, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="generator_seed"):
        load_dataset("dvs_synth", limit=1, generator_seed=-1, cache_dir=tmp_path, **SMALL)


# --------------------------------------------------------------------------- statistics

def test_event_statistics_polarity_and_activity():
    """Every class gives both polarities and several times the events of the background
    alone (even on this 32 x 32 sensor over 0.3 s, where the shapes are a few pixels)."""
    background = SENSOR.noise_rate_hz * 32 * 32 * 0.3
    for label in range(11):
        ev = _recording(label, seed=label)
        on = int(ev["p"].sum())
        assert 0.15 < on / ev.size < 0.85, (label, on, ev.size)
        assert ev.size > 4 * background, (de.CLASSES[label], ev.size)


def test_noise_rate_and_hot_pixels_match_the_options():
    """Background activity: the count is Poisson with mean rate x pixels x duration, ON
    with probability noise_on_fraction; hot pixels fire at their rate (minus what the
    refractory period removes) and nowhere else is busier."""
    model = de.SensorModel(width=32, height=32, noise_rate_hz=5.0, noise_on_fraction=0.8,
                           hot_pixels=3, hot_pixel_rate_hz=200.0, refractory_us=1000)
    sensor = de.make_sensor(model, np.random.default_rng(1))
    duration = 2_000_000
    rng = np.random.default_rng(2)
    idx, t, p = de.background_events(sensor, duration, rng)
    noise = ~np.isin(idx, sensor.hot_index)
    mean = 5.0 * 32 * 32 * 2.0
    assert abs(noise.sum() - mean) < 5 * np.sqrt(mean)
    assert abs(p[noise].mean() - 0.8) < 0.02
    assert t.min() >= 0 and t.max() < duration

    # end to end, no motion that could mask the noise: only the background remains
    ev = de.sensor_events(sensor, [], duration, np.random.default_rng(3))
    flat = ev["y"].astype(np.int64) * 32 + ev["x"]
    hot = np.isin(flat, sensor.hot_index)
    assert abs((~hot).sum() - mean) < 5 * np.sqrt(mean)
    per_hot = np.bincount(flat[hot], minlength=32 * 32)[sensor.hot_index]
    # Poisson(400) thinned by a 1 ms dead time (~ a fifth lost at 200 Hz)
    assert np.all((per_hot > 250) & (per_hot < 420)), per_hot
    busiest_other = np.bincount(flat[~hot], minlength=32 * 32).max()
    assert busiest_other < per_hot.min() / 5
    for k, pol in zip(sensor.hot_index, sensor.hot_polarity):   # its own polarity (the
        assert (ev["p"][flat == k] == pol).mean() > 0.95           # background hits it too)

    quiet = de.sensor_events(de.make_sensor(de.SensorModel(width=32, height=32, noise_rate_hz=0.0,
                                                           hot_pixels=0),
                                            np.random.default_rng(1)),
                             [], duration, np.random.default_rng(3))
    assert quiet.size == 0


def test_refractory_period_is_respected_per_pixel():
    busy = de.SceneOptions(duration_us=300_000, distractor_prob=1.0)
    for refractory in (3000, 1000):
        sensor = de.SensorModel(width=32, height=32, refractory_us=refractory,
                                noise_rate_hz=20.0, hot_pixels=2, hot_pixel_rate_hz=800.0)
        for label in (0, 4, 8, 10):
            gaps = _per_pixel_gaps(_recording(label, seed=label, sensor=sensor, scene=busy))
            assert gaps.size > 50 and gaps.min() >= refractory, (refractory, label, gaps.min())
    # without a refractory period the same scenes have closer events at some pixel
    free = de.SensorModel(width=32, height=32, refractory_us=0, noise_rate_hz=20.0,
                          hot_pixels=2, hot_pixel_rate_hz=800.0)
    gaps = np.concatenate([_per_pixel_gaps(_recording(lb, seed=lb, sensor=free, scene=busy))
                           for lb in (0, 4, 8, 10)])
    assert gaps.min() < 1000


# --------------------------------------------------------------------------- tonic, cache

def test_tonic_reads_what_it_writes_and_its_binning_equals_ours(tmp_path):
    """The cache is tonic's DVS Gesture layout: tonic's DVSGesture class (offline, through
    open_recorded_split and the dvs_gesture data set) reads every recording back with our
    label, and tonic's Downsample + ToFrame give our frames."""
    import tonic.transforms as tt

    events, labels, root = de.dvs_synth_recordings("train", 12, seed=0, sensor=SENSOR,
                                                   scene=SCENE, cache_dir=tmp_path)
    split = open_recorded_split("dvs_gesture", root, train=True)
    assert len(split) == 12
    by_path = {str(de.recording_path(root, "train", i, 0, 11)): i for i in range(12)}
    T, duration = 10, SCENE.duration_us
    for k in range(len(split)):
        ev, label = split[k]
        i = by_path[split.source.data[k]]
        assert label == labels[i]
        for f in ("x", "y", "t", "p"):
            np.testing.assert_array_equal(ev[f].astype(np.int64), events[i][f].astype(np.int64))
        ours = de.bin_recordings([events[i]], (32, 32, 2), T, duration, downsample=2,
                                 clip=False)[0]
        small = tt.Downsample(spatial_factor=0.5)(ev)
        theirs = tt.ToFrame(sensor_size=(16, 16, 2), time_window=duration // T, start_time=0,
                            end_time=duration)(small)                       # (T, P, H, W)
        np.testing.assert_array_equal(theirs.transpose(1, 2, 3, 0), ours)
        direct = tt.ToFrame(sensor_size=(16, 16, 2), time_window=duration // T, start_time=0,
                            end_time=duration)(tt.Downsample(spatial_factor=0.5)(events[i]))
        np.testing.assert_array_equal(direct, theirs)        # tonic takes our arrays as they are
    # the recorded data set reads the folder as DVS Gesture (a 128 x 128 sensor: our 32 x 32
    # recordings fill its corner)
    recorded = load_dataset("dvs_gesture", "train", T=T, root=root, downsample=2,
                            duration_us=duration, encoding="count")
    assert recorded.inputs.shape == (12, 2, 64, 64, T)
    assert recorded.inputs[:, :, 16:].sum() == 0 and recorded.inputs[:, :, :, 16:].sum() == 0
    assert recorded.inputs.sum() > 0.9 * sum(e.size for e in events)
    assert sorted(recorded.labels) == sorted(labels)


def test_cache_hit_returns_identical_data_without_generating(tmp_path, monkeypatch):
    first = load_dataset("dvs_synth", "test", T=6, limit=5, cache_dir=tmp_path, **SMALL)
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("dvs_synth-")]
    assert (folder / "generator.json").is_file()
    assert len(list((folder / "DVSGesture" / "ibmGestureTest").rglob("*.npy"))) == 5

    def fail(*a, **k):
        raise AssertionError("generated again")

    monkeypatch.setattr(de, "render_recording", fail)
    again = load_dataset("dvs_synth", "test", T=6, limit=5, cache_dir=tmp_path, **SMALL)
    np.testing.assert_array_equal(again.inputs, first.inputs)
    np.testing.assert_array_equal(again.labels, first.labels)
    for a, b in zip(again.raw_events, first.raw_events):
        np.testing.assert_array_equal(a, b)
    # another parameter is another cache entry (so it generates)
    with pytest.raises(AssertionError, match="generated again"):
        load_dataset("dvs_synth", "test", T=6, limit=5, cache_dir=tmp_path,
                     refractory_us=2000, **SMALL)

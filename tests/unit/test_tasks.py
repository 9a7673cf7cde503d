"""Generated tasks of the LIF-variants study (loihi_snn.train.tasks) and their registry entries."""
from __future__ import annotations

import numpy as np
import pytest

from loihi_snn.train.datasets import load_dataset
from loihi_snn.train.tasks import memory_task, order_task, perturb, stream

TASKS = ["lif_memory", "lif_patterns", "lif_stream", "lif_order"]


@pytest.mark.parametrize("name", TASKS)
def test_registered_tasks_are_seeded_binary_spikes(name):
    a = load_dataset(name, "train", seed=3, limit=40)
    b = load_dataset(name, "train", seed=3, limit=40)
    c = load_dataset(name, "test", seed=3, limit=40)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)          # train and test streams differ
    assert set(np.unique(a.inputs)) <= {0.0, 1.0} and a.inputs.sum() > 0
    assert a.inputs.ndim == 3 and len(a) == 40
    assert 1 <= a.task_info["readout"] <= a.T
    assert set(a.labels) <= set(range(a.num_classes))


def test_memory_cue_before_delay_go_at_the_end():
    rng = np.random.default_rng(0)
    x, y, info = memory_task(200, 32, rng, cue_rate=1.0)
    T, C = 32, x.shape[1]
    go = x[:, C - 1]
    assert (go[:, T - 8:] == 1).all() and (go[:, :T - 8] == 0).all()
    for i in range(len(y)):
        cue_end = T - 8 - info["delay"][i]
        active = np.nonzero(x[i, :C - 1].sum(1))[0]
        np.testing.assert_array_equal(active, np.arange(y[i] * 4, y[i] * 4 + 4))
        assert x[i, :C - 1, cue_end:].sum() == 0
        assert x[i, y[i] * 4:y[i] * 4 + 4, cue_end - 4:cue_end].all()
    assert info["delay"].min() >= 4 and info["delay"].max() <= T - 8 - 4
    xd, _, _ = memory_task(50, 32, np.random.default_rng(0), distractor_rate=0.2)
    assert xd[:, :-1, -12:-8].sum() > 0                     # distractors during the delay


def test_order_needs_the_order():
    """Classes (a, b) and (b, a) use the same channels: counts per channel cannot tell them."""
    x, y, info = order_task(300, 32, np.random.default_rng(1), cue_rate=1.0)
    assert info["num_classes"] == 6
    pairs = [(a, b) for a in range(3) for b in range(3) if a != b]
    for i in range(len(y)):
        a, b = pairs[y[i]]
        first = [np.nonzero(x[i, k * 4:(k + 1) * 4].sum(0))[0].min() for k in (a, b)]
        assert first[0] < first[1]
        assert x[i].sum() == 2 * 3 * 4


def test_perturbations():
    rng = np.random.default_rng(0)
    x = (rng.random((20, 8, 30)) < 0.2).astype(np.float32)
    np.testing.assert_array_equal(perturb(x, "delete", 0.0, rng), x)
    assert perturb(x, "delete", 1.0, rng).sum() == 0
    d = perturb(x, "delete", 0.5, rng)
    assert (d <= x).all() and 0.4 < d.sum() / x.sum() < 0.6
    ins = perturb(x, "insert", 0.1, rng)
    assert (ins >= x).all() and ins.sum() > x.sum()
    j = perturb(x, "jitter", 1.0, rng)
    np.testing.assert_array_equal(j.sum(-1) > 0, x.sum(-1) > 0)   # spikes stay on their channel
    assert not np.array_equal(j, x) and j.sum() <= x.sum()
    g = perturb(x, "gaussian", 0.5, rng)
    assert np.array_equal(g, np.round(g)) and not np.array_equal(g, x)
    with pytest.raises(ValueError, match="noise"):
        perturb(x, "shuffle", 0.1, rng)
    with pytest.raises(ValueError, match="delete level"):
        perturb(x, "delete", 1.5, rng)


def test_stream_puts_samples_back_to_back():
    x = np.arange(3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    s = stream(x)
    assert s.shape == (1, 2, 12)
    for i in range(3):
        np.testing.assert_array_equal(s[0, :, i * 4:(i + 1) * 4], x[i])

"""Runs are always stopped: no child processes or shared memory are left behind."""
from __future__ import annotations

import multiprocessing
import os

import numpy as np

import loihi_snn


def _shm():
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def test_successful_run_leaves_nothing(shared_netx):
    before = _shm()
    x = (np.random.default_rng(0).random((200, 20)) < 0.2).astype(np.int32)
    y = loihi_snn.run(shared_netx / "oxford" / "network.net", x)
    assert y.shape == (200, 20)
    assert multiprocessing.active_children() == []
    assert _shm() - before == set()

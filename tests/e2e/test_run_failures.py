"""A failing or hung Lava run ends in a clean RunError and leaves nothing behind.

Upstream Lava hangs forever when a process model raises inside ``run_spk`` (the
processes downstream wait for spikes that never come; ``stop()`` hangs too).  Here
``source -> Failing -> sink`` with a model that raises (or hangs, or dies) at step 3
must give a one-line RunError quickly -- with the model's message for a failure, a
"timed out" message with the step count for a hang -- and afterwards:

- ``multiprocessing.active_children() == []``;
- no OS process of the run is left (every Lava process of a run is in the process
  group of its runner; /proc is scanned for that group and for our descendants);
- no new /dev/shm segment is left that no live process maps (segments of other runs
  on the same machine, mapped by their live processes, are not ours).

The test-only process lives in tests/lava_failing/ because Lava scans every .py
file in a process's directory for models.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import RunError
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.runtime import guard

from lava_failing.failing import Failing

GENEROUS = 60.0          # seconds a failure may take to surface on 2 slow, busy cores


# ----------------------------------------------------------------------------- helpers

def _stat(pid: str):
    with open(f"/proc/{pid}/stat", "rb") as f:
        rest = f.read().decode("ascii", "replace").rsplit(")", 1)[1].split()
    return int(rest[1]), int(rest[2])          # ppid, pgrp


def _processes():
    out = {}
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                out[int(e)] = _stat(e)
            except (OSError, IndexError, ValueError):
                pass
    return out


def leftover_processes() -> list:
    """Our descendants plus every process in the last runner's process group."""
    procs = _processes()
    children: dict = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [os.getpid()]
    while todo:
        for c in children.get(todo.pop(), []):
            found.add(c)
            todo.append(c)
    if guard.last_runner_pid is not None:
        found |= {pid for pid, (_, pgrp) in procs.items() if pgrp == guard.last_runner_pid}
    return sorted(found)


def shm_segments() -> set:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _mapped_segments() -> set:
    mapped = set()
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/maps") as f:
                for line in f:
                    if "/dev/shm/" in line:
                        mapped.add(line.rsplit("/dev/shm/", 1)[1].split()[0])
        except OSError:
            pass
    return mapped


def assert_clean(shm_before: set, timeout: float = 10.0, procs_before: frozenset = frozenset()) -> None:
    """No new child process, no process of the run, no leaked shared memory.

    ``procs_before`` are processes that already existed before the test (e.g. helpers an
    earlier test of the same session started); only processes beyond them count."""
    end = time.monotonic() + timeout
    while True:
        left = [p for p in leftover_processes() if p not in procs_before]
        leaked = (shm_segments() - shm_before) - _mapped_segments()
        if not left and not leaked:
            break
        if time.monotonic() > end:
            break
        time.sleep(0.2)
    assert multiprocessing.active_children() == []
    assert left == [], f"processes left behind: {left}"
    assert leaked == set(), f"shared memory left behind: {sorted(leaked)}"


@pytest.fixture
def clean():
    """Snapshot /dev/shm before a test; check that the test left nothing behind."""
    before = shm_segments()
    procs_before = frozenset(leftover_processes())
    yield before
    assert_clean(before, procs_before=procs_before)


@pytest.fixture(scope="module")
def oxford_spec(shared_netx):
    return read_netx(shared_netx / "oxford" / "network.net")


class FailingNet:
    """Duck-typed like a loaded Network: ``source -> Failing -> sink`` inside run().

    ``spec`` is the oxford network's (input (200,)), so run()'s input checks apply.
    """

    def __init__(self, spec, **failing) -> None:
        n = int(np.prod(spec.input_shape))
        self.proc = Failing(n=n, **failing)
        self.spec = spec
        self.inp, self.out = self.proc.a_in, self.proc.s_out
        self.input_shape = self.output_shape = (n,)
        self.filename = "failing-net"
        self.precision = "fixed"
        self.out_layer = None


def _spikes(n: int, steps: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, steps)) < 0.2).astype(np.int32)


# ----------------------------------------------------------------------------- failing models

def test_model_raising_at_step_3_gives_run_error(oxford_spec, clean):
    """The upstream hang: source -> Failing (raises at step 3) -> sink, no timeout."""
    net = FailingNet(oxford_spec, fail_at=3, mode="raise", message="deliberate failure")
    t0 = time.monotonic()
    with pytest.raises(RunError) as info:
        loihi_snn.run(net, _spikes(200, 20))
    elapsed = time.monotonic() - t0
    text = str(info.value)
    assert elapsed < GENEROUS, f"took {elapsed:.1f} s"
    assert "\n" not in text
    assert "failing-net" in text
    assert "ValueError: deliberate failure at step 3" in text
    assert "PyFailingModelFixed" in text and "failing.py" in text and "run_spk" in text
    assert info.value.timed_out is False
    assert info.value.total_steps == 20


def test_model_raising_with_timeout_reports_the_failure_not_a_timeout(oxford_spec, clean):
    net = FailingNet(oxford_spec, fail_at=3, mode="raise", message="bad weights")
    with pytest.raises(RunError) as info:
        loihi_snn.run(net, _spikes(200, 40), timeout=GENEROUS)
    text = str(info.value)
    assert "bad weights at step 3" in text and "timed out" not in text
    assert info.value.timed_out is False
    # with a timeout the run goes in 20 chunks of 2 steps: the first one completed
    assert info.value.steps_completed == 2 and "2 of 40 steps completed" in text


def test_hung_model_times_out(oxford_spec, clean):
    net = FailingNet(oxford_spec, fail_at=3, mode="hang")
    t0 = time.monotonic()
    with pytest.raises(RunError) as info:
        loihi_snn.run(net, _spikes(200, 40), timeout=4.0)
    elapsed = time.monotonic() - t0
    text = str(info.value)
    assert info.value.timed_out is True
    assert "timed out after 4 s" in text and "2 of 40 steps completed" in text, text
    assert "\n" not in text
    assert 4.0 <= elapsed < 4.0 + guard.CLEANUP_GRACE_S, f"took {elapsed:.1f} s"


def test_model_process_dying_gives_run_error(oxford_spec, clean):
    net = FailingNet(oxford_spec, fail_at=3, mode="exit")
    with pytest.raises(RunError) as info:
        loihi_snn.run(net, _spikes(200, 20), timeout=GENEROUS)
    text = str(info.value)
    assert "PyFailingModelFixed" in text and "exit code 3" in text, text
    assert info.value.timed_out is False


def test_failing_model_on_the_float_backend(oxford_spec, clean):
    net = FailingNet(oxford_spec, fail_at=2, mode="raise", message="float failure")
    net.precision = "float"
    with pytest.raises(RunError) as info:
        loihi_snn.run(net, _spikes(200, 10), backend="lava-float")
    assert "PyFailingModelFloat" in str(info.value) and "float failure at step 2" in str(info.value)


def test_ctrl_c_stops_the_run_cleanly(oxford_spec, clean):
    """SIGINT during a hung run: KeyboardInterrupt in the caller, the run cleaned up."""
    net = FailingNet(oxford_spec, fail_at=3, mode="hang")
    # Python's own Ctrl-C handler, whatever an earlier test of the session installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            loihi_snn.run(net, _spikes(200, 20), timeout=GENEROUS)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


# ----------------------------------------------------------------------------- real networks

def test_long_run_of_a_real_network_times_out(shared_netx, clean):
    """oxford for 20,000 steps (minutes at ~100 steps/s) with a 3 s limit."""
    x = _spikes(200, 50)
    t0 = time.monotonic()
    with pytest.raises(RunError) as info:
        loihi_snn.run(shared_netx / "oxford" / "network.net", x, steps=20_000, timeout=3.0)
    text = str(info.value)
    assert info.value.timed_out is True and info.value.total_steps == 20_000
    assert "timed out after 3 s" in text and "of 20000 steps completed" in text
    assert info.value.steps_completed % 1000 == 0          # 20 chunks of 1000 steps
    assert time.monotonic() - t0 < 3.0 + guard.CLEANUP_GRACE_S + 10


def test_timeout_does_not_change_the_result(shared_netx, clean):
    """A run that finishes in time gives the same spikes with and without a timeout."""
    path = shared_netx / "tinynet" / "tiny.net"
    x = (np.random.default_rng(3).random((3, 16, 16, 20)) < 0.5).astype(np.int32)
    plain = loihi_snn.run(path, x)
    limited = loihi_snn.run(path, x, timeout=300.0)       # 20 chunks of one step
    assert plain.shape == (36, 1, 1, 20) and plain.sum() > 20
    np.testing.assert_array_equal(plain, limited)


def test_run_many_times_out(shared_netx, clean):
    from loihi_snn.sim.runtime.stream import run_many
    X = (np.random.default_rng(1).random((2000, 200, 20)) < 0.2).astype(np.int32)
    with pytest.raises(RunError) as info:
        run_many(shared_netx / "oxford" / "network.net", X, timeout=3.0)
    assert info.value.timed_out is True and "timed out after 3 s" in str(info.value)


def test_cli_run_timeout(shared_netx, tmp_path, capsys, clean):
    from loihi_snn.app.cli import main
    x = tmp_path / "x.npy"
    np.save(x, _spikes(200, 10))
    out = tmp_path / "y.npy"
    code = main(["run", str(shared_netx / "oxford" / "network.net"), "--input", str(x),
                 "--steps", "20000", "--timeout", "3", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    # a long run prints plain progress lines when stderr is not a terminal; the failure
    # itself is one line, the last
    errors = [line for line in err if line.startswith("error: ")]
    assert errors == [err[-1]] and "timed out after 3 s" in err[-1], err
    assert all(line.startswith("lava network.net: ") for line in err[:-1]), err
    assert not out.exists()


def test_bad_timeout_value(shared_netx):
    with pytest.raises(ValueError):
        loihi_snn.run(shared_netx / "oxford" / "network.net", _spikes(200, 5), timeout=0)
    assert multiprocessing.active_children() == []


def test_supervised_run_ends_early_once_the_status_reaches_its_target(clean):
    """The cutoff run's stopping rule: a status read after every chunk ends the run."""
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.sim.runtime.run import run_config
    source = Source(data=np.ones((3, 50), dtype=np.int32))
    sink = Sink(shape=(3,), buffer=50)
    source.s_out.connect(sink.a_in)
    seen = []
    calls = {"n": 0}

    def status():
        calls["n"] += 1                 # runs in the runner process: its own counter
        return calls["n"]

    data, steps = guard.run_supervised(source, sink.data.get, [10] * 5, run_config("lava-fixed"),
                                       status=status, target=2, on_status=seen.append,
                                       return_steps=True)
    assert steps == 20 and seen == [1, 2]
    assert np.asarray(data)[:, :20].sum() == 3 * 20 and np.asarray(data)[:, 20:].sum() == 0

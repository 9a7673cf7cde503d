"""The run plan: a file is read once per call, and backends and neuron families are
records added by one module each (issue 30).

- every public runner opens a ``.net`` path exactly once (``run``, ``run_many``,
  ``run_cutoff`` on each backend), counted at the one HDF5 entry point
  (:func:`loihi_snn.core.hdf5.open_hdf5`);
- ``tests/helpers/int64_backend.py`` adds a backend with no edit elsewhere: the API,
  ``BACKENDS`` and the CLI take it, and its spikes equal every other backend's;
- ``tests/helpers/alias_family.py`` adds a neuron family with no edit elsewhere: a file
  using it runs on the emulator, lava-fixed and lava-fused as the same CUBA file does.
"""
from __future__ import annotations

import numpy as np
import pytest

import loihi_snn
from loihi_snn import families
from loihi_snn.core import hdf5
from loihi_snn.sim.runtime import backends

from helpers import REPO_ROOT
from helpers.alias_family import TYPE, register_alias_family
from helpers.int64_backend import NAME, register_int64_backend
from helpers.netx_files import CUBA, write_netx

NET = str(REPO_ROOT / "netx_models" / "digits_cuba" / "digits_cuba.net")


def _inputs(n=3, T=12):
    return (np.random.default_rng(4).random((n, 64, T)) < 0.3).astype(np.int8)


@pytest.fixture
def opens(monkeypatch):
    calls = []
    real = hdf5.open_hdf5

    def counting(path, *args, **kwargs):
        calls.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(hdf5, "open_hdf5", counting)
    return calls


@pytest.mark.parametrize("backend", ["emulator", "lava-fixed", "lava-fused", "lava-float"])
def test_run_opens_the_file_once(opens, backend):
    loihi_snn.run(NET, _inputs()[0], backend=backend)
    assert opens == [NET], opens


@pytest.mark.parametrize("backend", ["emulator", "lava-fixed", "lava-fused"])
def test_run_many_opens_the_file_once(opens, backend):
    loihi_snn.run_many(NET, _inputs(), backend=backend, progress=False)
    assert opens == [NET], opens


@pytest.mark.parametrize("backend", ["emulator", "lava-fixed"])
def test_run_cutoff_opens_the_file_once(opens, backend):
    r = loihi_snn.run_cutoff(NET, _inputs(), beta=np.full(12, 2), backend=backend,
                             progress=False)
    assert len(r.predictions) == 3
    assert opens == [NET], opens


def test_emulator_cutoff_equals_the_lava_controller():
    X = _inputs(6, 16)
    beta = np.array([9, 9, 9, 6, 5, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1])
    lava = loihi_snn.run_cutoff(NET, X, beta=beta, backend="lava-fixed", progress=False)
    emu = loihi_snn.run_cutoff(NET, X, beta=beta, backend="emulator")
    assert lava.steps.min() < 16                    # the cutoff decided some samples early
    np.testing.assert_array_equal(emu.predictions, lava.predictions)
    np.testing.assert_array_equal(emu.steps, lava.steps)


def test_a_backend_is_one_module(tmp_path, capsys):
    from loihi_snn.app.cli import main
    register_int64_backend()
    try:
        assert NAME in loihi_snn.sim.runtime.run.BACKENDS and NAME in backends.names()
        X = _inputs()
        one = loihi_snn.run(NET, X[0], backend=NAME)
        np.testing.assert_array_equal(one, loihi_snn.run(NET, X[0], backend="lava-fixed"))
        np.testing.assert_array_equal(loihi_snn.run_many(NET, X, backend=NAME),
                                      loihi_snn.emulate(NET, X))
        with pytest.raises(loihi_snn.BackendError, match="no cutoff stream"):
            loihi_snn.run_cutoff(NET, X, backend=NAME)
        np.save(tmp_path / "x.npy", X[0])
        assert main(["run", NET, "--input", str(tmp_path / "x.npy"), "--backend", NAME,
                     "--out", str(tmp_path / "y.npy")]) == 0, capsys.readouterr().err
        np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), one)
    finally:
        backends.unregister(NAME)
    assert NAME not in backends.names()
    with pytest.raises(loihi_snn.BackendError, match="unknown backend"):
        loihi_snn.run(NET, _inputs()[0], backend=NAME)


def test_a_neuron_family_is_one_module(tmp_path):
    register_alias_family()
    try:
        rng = np.random.default_rng(2)
        w = (rng.integers(-40, 90, size=(10, 20)) * 2).astype(np.float32)
        w2 = (rng.integers(-40, 90, size=(4, 10)) * 2).astype(np.float32)

        def net(name, ntype):
            neuron = dict(CUBA, type=ntype.encode())
            return str(write_netx(tmp_path / name, [
                {"type": "input", "shape": [20]},
                {"type": "dense", "shape": [10], "weight": w, "neuron": neuron},
                {"type": "dense", "shape": [4], "weight": w2, "neuron": neuron}]))

        mine, cuba = net("mine.net", TYPE), net("cuba.net", "CUBA")
        X = (rng.random((3, 20, 24)) < 0.4).astype(np.int8)
        want = loihi_snn.emulate(cuba, X)
        assert want.sum() > 0
        np.testing.assert_array_equal(loihi_snn.emulate(mine, X), want)
        for backend in ("lava-fixed", "lava-fused"):
            np.testing.assert_array_equal(loihi_snn.run(mine, X[0], backend=backend), want[0])
        np.testing.assert_array_equal(loihi_snn.run_many(mine, X, backend="lava-fixed",
                                                         progress=False), want)
    finally:
        families.unregister(TYPE)


# ------------------------------------------------------------------ sharding (workers)
@pytest.mark.parametrize("backend", ["lava-fixed", "lava-fused"])
def test_run_many_sharded_over_workers_equals_one_run(backend):
    X = _inputs(5, 12)
    one = loihi_snn.run_many(NET, X, backend=backend, progress=False)
    two = loihi_snn.run_many(NET, X, backend=backend, progress=False, workers=2)
    np.testing.assert_array_equal(two, one)
    np.testing.assert_array_equal(one, loihi_snn.emulate(NET, X))


def test_run_cutoff_sharded_over_workers_makes_the_same_decisions():
    X = _inputs(5, 16)
    beta = np.array([9, 9, 9, 6, 5, 4, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1])
    one = loihi_snn.run_cutoff(NET, X, beta=beta, progress=False)
    three = loihi_snn.run_cutoff(NET, X, beta=beta, progress=False, workers=3)
    np.testing.assert_array_equal(three.predictions, one.predictions)
    np.testing.assert_array_equal(three.steps, one.steps)


def test_workers_is_checked():
    with pytest.raises(loihi_snn.OptionError, match="workers"):
        loihi_snn.run_many(NET, _inputs(), workers=0)


def test_eval_cli_with_workers_equals_one_run(capsys):
    import json
    from loihi_snn.app.cli import main
    net = str(REPO_ROOT / "netx_models" / "digits_lif" / "digits_lif.net")
    results = []
    for workers in ("1", "2"):
        assert main(["eval", net, "--limit", "12", "--json", "--workers", workers]) == 0
        results.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert results[0]["accuracy"] == results[1]["accuracy"]
    assert results[0]["mean_steps"] == results[1]["mean_steps"]
    assert main(["eval", net, "--limit", "2", "--workers", "zero"]) == 2
    assert "--workers" in capsys.readouterr().err

"""Loihi 2 targeting from the outside: ``info --loihi2`` and the loihi2/auto backends.

No Loihi 2 and no lava-loihi here: the ``loihi2`` backend must fail with a clear
BackendError, ``auto`` must fall back to the bit-accurate CPU simulation.  The limit
checks themselves: unit/test_hardware.py.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import loihi_snn
from loihi_snn.core.errors import BackendError
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.lava.hardware import hardware_run_config

from helpers import NETWORKS, dense_netx


# ----------------------------------------------------------------------------- info --loihi2

@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_info_loihi2_on_shared_networks(shared_netx, capsys, name):
    from loihi_snn.app.cli import main
    path = shared_netx / NETWORKS[name]
    assert main(["info", str(path), "--loihi2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(l for l in lines if l.lstrip().startswith("#"))
    for col in ("neurons", "synapses", "cores", "wbits", "msgbits", "maxdelay"):
        assert col in header
    n_layers = len(read_netx(path).layers)
    start = lines.index(header) + 2
    rows = lines[start:start + n_layers]
    assert [int(r.split()[0]) for r in rows] == list(range(n_layers))
    assert "Loihi 2 check: OK, no limit exceeded" in out
    assert main(["info", str(path), "--loihi2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["loihi2"]["violations"] == [] and data["loihi2"]["fits"] is True
    assert len(data["loihi2"]["layers"]) == n_layers
    assert data["loihi2"]["lava_loihi_installed"] is False


def test_info_loihi2_lists_violations(tmp_path, capsys):
    from loihi_snn.app.cli import main
    path = dense_netx(tmp_path / "net.net", np.array([[255, -3, 7], [1, 2, 3]]),
                      neuron={"vDecay": 4096}, bias=np.array([4095, 0]))
    assert main(["info", str(path), "--loihi2"]) == 0        # listed, not an error exit
    out = capsys.readouterr().out
    assert "DOES NOT FIT" in out and "2 error(s)" in out
    assert "ERROR: layer 1: weight:" in out
    assert "ERROR: layer 1: neuron/vDecay:" in out
    assert main(["info", str(path), "--loihi2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)["loihi2"]
    assert data["fits"] is False and data["errors"] == 2
    assert {v["field"] for v in data["violations"]} == {"weight", "neuron/vDecay"}
    assert all(v["severity"] == "error" and v["layer"] == 1 for v in data["violations"])
    # a bias beyond lava's 13-bit LIF mantissa is refused at load (lava-fixed would wrap
    # it and differ from the other backends), so it never reaches the resource report
    path = dense_netx(tmp_path / "bias.net", np.array([[2, 4, 6]]), bias=np.array([5000]))
    assert main(["info", str(path), "--loihi2"]) == 2
    assert "layer 1: field 'bias'" in capsys.readouterr().err


def test_info_without_loihi2_is_unchanged(shared_netx, capsys):
    from loihi_snn.app.cli import main
    assert main(["info", str(shared_netx / "oxford" / "network.net")]) == 0
    out = capsys.readouterr().out
    assert "Loihi 2" not in out and "synapses" in out



# ----------------------------------------------------------------------------- backends

def test_loihi2_backend_gives_a_clear_error(shared_netx, capsys):
    from loihi_snn.app.cli import main
    from loihi_snn.sim.runtime.run import BACKENDS, run_config
    assert "loihi2" in BACKENDS and "auto" in BACKENDS
    for call in (hardware_run_config, lambda: run_config("loihi2"),
                 lambda: loihi_snn.run(shared_netx / "oxford" / "network.net",
                                       np.zeros((200, 5), np.int32), backend="loihi2")):
        with pytest.raises(BackendError) as info:
            call()
        text = str(info.value)
        assert "lava-loihi" in text and "lava-fixed" in text and "\n" not in text
    x = Path(os.environ.get("TMPDIR", "/tmp")) / f"loihi_snn_hw_{os.getpid()}.npy"
    np.save(x, np.zeros((200, 5), np.int32))
    try:
        code = main(["run", str(shared_netx / "oxford" / "network.net"), "--input", str(x),
                     "--backend", "loihi2", "--out", str(x) + ".out.npy"])
    finally:
        x.unlink()
    assert code == 2 and "lava-loihi" in capsys.readouterr().err


def test_auto_backend_falls_back_to_lava_fixed_and_runs(shared_netx):
    import multiprocessing
    from loihi_snn.sim.runtime.run import resolve_backend, run_config
    assert resolve_backend("auto") == "lava-fixed"
    assert type(run_config("auto")).__name__ == "Loihi2SimCfg"
    path = shared_netx / "tinynet" / "tiny.net"
    x = (np.random.default_rng(5).random((3, 16, 16, 12)) < 0.5).astype(np.int32)
    auto = loihi_snn.run(path, x, backend="auto")
    fixed = loihi_snn.run(path, x, backend="lava-fixed")
    assert auto.shape == (36, 1, 1, 12) and auto.sum() > 0
    np.testing.assert_array_equal(auto, fixed)
    assert multiprocessing.active_children() == []

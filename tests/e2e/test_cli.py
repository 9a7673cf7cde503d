"""The ``loihi-snn`` command: help, ``info`` (table and JSON) and ``run``.

User errors (a missing or malformed file, a wrong input shape) must exit with
status 2 and print exactly one line ``error: ...`` on stderr, never a traceback.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from loihi_snn.app.cli import main

from helpers import assert_one_error_line, cli


# expected (type, shape) per layer, file order
EXPECTED = {
    "oxford": ("oxford/network.net", (200,), (200,),
               [("dense", (256,)), ("dense", (200,))]),
    "tinynet": ("tinynet/tiny.net", (3, 16, 16), (36, 1, 1),
                [("input", (3, 16, 16)), ("conv", (24, 6, 6)), ("conv", (36, 1, 1))]),
    "pilotnet": ("pilotnet_sdnn/network.net", (3, 33, 100), (1,),
                 [("input", (3, 33, 100)), ("conv", (24, 16, 49)), ("conv", (36, 7, 24)),
                  ("conv", (64, 4, 22)), ("conv", (64, 2, 20)), ("flatten", (2560,)),
                  ("dense", (100,)), ("dense", (50,)), ("dense", (10,)), ("dense", (1,))]),
}
NEURONS = {
    "oxford": ["CUBA", "CUBA"],
    "tinynet": ["LOIHI", "LOIHI", "LOIHI"],
    "pilotnet": ["SDNN"] * 5 + [None] + ["SDNN"] * 4,
}


@pytest.fixture
def net_path(shared_netx):
    return lambda name: shared_netx / EXPECTED[name][0]


# ----------------------------------------------------------------------------- --help

def test_top_level_help():
    proc = cli("--help")
    assert proc.returncode == 0, proc.stderr
    for word in ("info", "run", "--help", "loihi-snn"):
        assert word in proc.stdout, word


def test_no_command_is_a_usage_error():
    proc = cli()
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "usage" in proc.stderr.lower()


@pytest.mark.parametrize("command, options", [
    ("info", ["--json", "net"]),
    ("run", ["--input", "--steps", "--backend", "--out", "net", "lava-fixed", "lava-float",
             "last"]),
])
def test_subcommand_help(capsys, command, options):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: loihi-snn {command}")
    for opt in options:
        assert opt in out, f"{opt!r} missing from '{command} --help'"


# ----------------------------------------------------------------------------- info

_ROW = re.compile(r"^\s*(\d+)\s+([a-z_]+)\s+(\([\d, ]*\))\s")


def parse_table(text: str):
    rows = []
    for line in text.splitlines():
        m = _ROW.match(line)
        if m:
            rows.append((int(m.group(1)), m.group(2), eval(m.group(3))))  # noqa: S307
    return rows


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_info_table(capsys, net_path, name):
    path = net_path(name)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    _, in_shape, out_shape, layers = EXPECTED[name]
    first = out.splitlines()[0]
    assert str(path) in first
    assert f"input {in_shape}" in first and f"output {out_shape}" in first, first
    assert f"{len(layers)} layers" in first
    rows = parse_table(out)
    assert [r[0] for r in rows] == list(range(len(layers)))
    assert [(r[1], r[2]) for r in rows] == layers
    for neuron, line in zip(NEURONS[name], [l for l in out.splitlines() if _ROW.match(l)]):
        if neuron is not None:
            assert f"{neuron}(" in line, line
    assert re.search(r"^total: \d+ neurons, \d+ synapses$", out, re.M), out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_info_json(capsys, net_path, name):
    path = net_path(name)
    assert main(["info", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    _, in_shape, out_shape, layers = EXPECTED[name]
    assert {"file", "input_shape", "output_shape", "layers"} <= set(data)
    assert data["file"] == str(path)
    assert tuple(data["input_shape"]) == in_shape
    assert tuple(data["output_shape"]) == out_shape
    assert len(data["layers"]) == len(layers)
    for i, (row, (ltype, shape), neuron) in enumerate(zip(data["layers"], layers,
                                                           NEURONS[name])):
        assert row["index"] == i
        assert row["type"] == ltype
        assert tuple(row["shape"]) == shape
        if neuron is None:
            assert not row["neuron"]
        else:
            assert row["neuron"]["type"] == neuron


def test_info_json_oxford_details(capsys, net_path):
    assert main(["info", "--json", str(net_path("oxford"))]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["neuron_types"] == ["CUBA"]
    l0, l1 = data["layers"]
    assert l0["input_shape"] == [200] and l0["shape"] == [256]
    assert l1["input_shape"] == [256] and l1["shape"] == [200]
    assert l0["neuron"]["vDecay"] == 415 and l0["neuron"]["vThMant"] == 6
    assert l1["neuron"]["vDecay"] == 409 and l1["neuron"]["iDecay"] == 4096


def test_info_json_pilotnet_details(capsys, net_path):
    assert main(["info", "--json", str(net_path("pilotnet"))]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["neuron_types"] == ["SDNN"]
    types = [l["type"] for l in data["layers"]]
    assert types.count("flatten") == 1 and types.index("flatten") == 5
    assert data["layers"][3]["stride"] == [2, 1] and data["layers"][3]["padding"] == [1, 0]
    assert data["layers"][9]["neuron"]["sigma_output"] is True


def test_info_json_subprocess_is_pure_json(net_path):
    """stdout of 'info --json' is exactly one JSON document (nothing else printed)."""
    proc = cli("info", "--json", net_path("oxford"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [l["shape"] for l in data["layers"]] == [[256], [200]]
    assert proc.stderr == ""


def _bad_files(tmp_path: Path, shared_netx: Path):
    missing = tmp_path / "missing.net"
    text = tmp_path / "text.net"
    text.write_text("not hdf5\n")
    nan = tmp_path / "nan.net"
    shutil.copyfile(shared_netx / "oxford" / "network.net", nan)
    os.chmod(nan, 0o644)
    with h5py.File(nan, "r+") as f:
        w = f["layer/1/weight"][()]
        w[0, 0] = np.nan
        del f["layer/1/weight"]
        f["layer/1/weight"] = w
    return {"missing": (missing, ()), "text": (text, ("HDF5",)),
            "nan": (nan, ("layer 1", "'weight'", "NaN")), "dir": (tmp_path, ("directory",))}


@pytest.mark.parametrize("kind", ["missing", "text", "nan", "dir"])
def test_info_bad_file_one_error_line(tmp_path, shared_netx, kind):
    path, words = _bad_files(tmp_path, shared_netx)[kind]
    proc = cli("info", path)
    line = assert_one_error_line(proc, str(path), *words)
    assert proc.stdout == ""
    assert line


def test_info_bad_file_in_process(tmp_path, capsys):
    path = tmp_path / "missing.net"
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(path) in lines[0]


# ----------------------------------------------------------------------------- run

def test_run_oxford_writes_output(tmp_path, net_path):
    """A real (tiny) Lava run: 30 steps of random spikes into the 200-input oxford net."""
    rng = np.random.default_rng(1)
    x = (rng.random((200, 30)) < 0.3).astype(np.int8)
    xin, yout = tmp_path / "x.npy", tmp_path / "out" / "y.npy"
    np.save(xin, x)
    proc = cli("run", net_path("oxford"), "--input", xin, "--out", yout, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    y = np.load(yout)
    assert y.shape == (200, 30)
    assert set(np.unique(y)) <= {0, 1}
    assert str(yout) in proc.stdout
    assert "(200, 30)" in proc.stdout


def test_run_wrong_shape_input(tmp_path, net_path):
    xin, yout = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xin, np.zeros((199, 10), dtype=np.int8))
    proc = cli("run", net_path("oxford"), "--input", xin, "--out", yout)
    assert_one_error_line(proc, "(199,)", "(200,)")
    assert not yout.exists()


def test_run_wrong_shape_input_in_process(tmp_path, capsys, net_path):
    """Time-first input (T, N) is rejected with one line naming both shapes."""
    xin, yout = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xin, np.zeros((30, 200), dtype=np.int8))
    assert main(["run", str(net_path("oxford")), "--input", str(xin), "--out", str(yout)]) == 2
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.startswith("error: ")]
    assert len(lines) == 1 and "(30,)" in lines[0] and "(200,)" in lines[0], err
    assert not yout.exists()


def test_run_missing_input_file(tmp_path, net_path):
    xin, yout = tmp_path / "nothere.npy", tmp_path / "y.npy"
    proc = cli("run", net_path("oxford"), "--input", xin, "--out", yout)
    assert_one_error_line(proc, str(xin))
    assert not yout.exists()


def test_run_input_not_npy(tmp_path, net_path):
    xin, yout = tmp_path / "x.npy", tmp_path / "y.npy"
    xin.write_text("1 0 1\n")
    proc = cli("run", net_path("oxford"), "--input", xin, "--out", yout)
    assert_one_error_line(proc, str(xin))
    assert not yout.exists()


def test_run_missing_network(tmp_path):
    xin, yout = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(xin, np.zeros((200, 5), dtype=np.int8))
    net = tmp_path / "nothere.net"
    proc = cli("run", net, "--input", xin, "--out", yout)
    assert_one_error_line(proc, str(net))
    assert not yout.exists()


def test_run_unknown_backend_is_a_usage_error(tmp_path, net_path):
    xin = tmp_path / "x.npy"
    np.save(xin, np.zeros((200, 5), dtype=np.int8))
    proc = cli("run", net_path("oxford"), "--input", xin, "--out", tmp_path / "y.npy",
               "--backend", "loihi3")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "lava-fixed" in proc.stderr and "lava-float" in proc.stderr


def test_run_requires_input_and_out(net_path):
    proc = cli("run", net_path("oxford"))
    assert proc.returncode == 2
    assert "--input" in proc.stderr and "--out" in proc.stderr
    assert "Traceback" not in proc.stderr

"""Hostile inputs, options, output paths, checkpoints and oversized files (issue 20).

Each case ends either in one ``error: ...`` line with exit status 2 -- before any Lava
process starts, leaving no process and no /dev/shm segment behind (the ``clean``
fixture of test_run_failures) -- or, for the few accepted oddities (bool input,
integer-valued floats), in the same output on every backend.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

import loihi_snn
from loihi_snn.app.cli import main
from loihi_snn.core.errors import BackendError, NetxFormatError, OptionError, OutputError
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.lava.loader import LAVA_MAX_LAYERS

from helpers import CUBA, REPO_ROOT, assert_one_error_line, cli, write_netx
from test_run_failures import assert_clean, leftover_processes, shm_segments

BACKENDS = ("lava-fixed", "lava-fused", "emulator")


@pytest.fixture
def clean():
    before = shm_segments()
    procs_before = frozenset(leftover_processes())
    yield before
    assert_clean(before, procs_before=procs_before)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """input (6,) -> dense (8,) CUBA; its graded input limit is 2**18 // 64 // 1080."""
    path = tmp_path_factory.mktemp("hostile") / "net.net"
    w = np.random.default_rng(0).integers(-128, 128, (8, 6)) * 2
    write_netx(path, [{"type": "input", "shape": [6]},
                      {"type": "dense", "shape": [8], "weight": w,
                       "neuron": dict(CUBA, vThMant=1000)}])
    return path


def _run(capsys, *argv) -> str:
    """``loihi-snn run ...`` in process; returns its one stderr line (exit status 2)."""
    assert main(["run", *map(str, argv)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


BAD_INPUTS = {
    "complex": (np.ones((6, 12), complex), "complex"),
    "strings": (np.full((6, 12), "a"), "strings"),
    "bytes": (np.full((6, 12), b"a"), "bytes"),
    "datetime": (np.full((6, 12), np.datetime64("2020-01-01")), "dates"),
    "timedelta": (np.full((6, 12), np.timedelta64(1, "s")), "time differences"),
    "structured": (np.zeros((6, 12), dtype=[("a", "i4"), ("b", "f4")]), "structured"),
    "fraction": (np.full((6, 12), 0.5), "integer input"),
    "nan": (np.full((6, 12), np.nan), "NaN"),
    "inf": (np.full((6, 12), np.inf), "NaN or infinite"),
    "1-D": (np.ones(6), "time as its last axis"),
    "empty": (np.ones((6, 0)), "empty"),
    "too-graded": (np.full((6, 12), 1 << 20), "|x| <= 242"),
    "payload": (np.full((6, 12), 1 << 30, dtype=np.int64), "24 signed bits"),
    "uint64": (np.full((6, 12), 2**64 - 1, dtype=np.uint64), "24 signed bits"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line_on_every_backend(net, tmp_path, capsys, clean, case):
    x, words = BAD_INPUTS[case]
    np.save(tmp_path / "x.npy", x)
    for backend in BACKENDS:
        line = _run(capsys, net, "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy",
                    "--backend", backend)
        assert words in line, backend
        assert not (tmp_path / "y.npy").exists()


def test_bool_and_integer_floats_run_like_integers(net):
    x = np.random.default_rng(1).random((6, 12)) < 0.4
    ref = loihi_snn.run(net, x.astype(np.int64), backend="emulator")
    for backend, variant in zip(BACKENDS, (x, x.astype(np.float32), x.astype(np.uint8))):
        y = loihi_snn.run(net, variant, backend=backend)
        assert y.dtype == ref.dtype == np.int32, (backend, y.dtype)
        np.testing.assert_array_equal(y, ref)


def test_graded_input_to_a_network_loaded_for_spikes_is_refused(net, clean):
    """A Network loaded with input_message_bits=0 would count every graded value as one
    spike, unlike the path (and every other backend): one line, before Lava starts;
    loaded for graded input it equals the path's run."""
    from loihi_snn.core.errors import ShapeError
    x = np.random.default_rng(2).integers(-200, 200, (6, 12))
    with pytest.raises(ShapeError, match="input_message_bits=24") as exc:
        loihi_snn.run(loihi_snn.load(str(net)), x)
    assert "\n" not in str(exc.value) and str(net) in str(exc.value)
    graded = loihi_snn.run(loihi_snn.load(str(net), input_message_bits=24), x)
    assert graded.sum() > 0
    np.testing.assert_array_equal(graded, loihi_snn.run(net, x))
    np.testing.assert_array_equal(graded, loihi_snn.run(net, x, backend="emulator"))


BAD_OPTIONS = [
    (("--steps", "1e8"), "GiB"), (("--steps", "1e12"), "GiB"), (("--steps", "0"), ">= 1"),
    (("--steps", "-3"), ">= 1"), (("--steps", "2.5"), "positive integer"),
    (("--steps", "abc"), "positive integer"), (("--steps", "nan"), "positive integer"),
    (("--timeout", "0"), "positive number"), (("--timeout", "-1"), "positive number"),
    (("--timeout", "nan"), "positive number"), (("--timeout", "inf"), "positive number"),
    (("--timeout", "soon"), "positive number"),
]


@pytest.mark.parametrize("option,words", BAD_OPTIONS, ids=[" ".join(o) for o, _ in BAD_OPTIONS])
def test_bad_option_is_one_line_before_the_run(net, tmp_path, capsys, clean, option, words):
    np.save(tmp_path / "x.npy", np.zeros((6, 12), np.int8))
    line = _run(capsys, net, "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy",
                *option)
    assert words in line


def test_out_checks(net, tmp_path, capsys, clean):
    np.save(tmp_path / "x.npy", np.zeros((6, 12), np.int8))
    (tmp_path / "adir").mkdir()
    assert "is a folder" in _run(capsys, net, "--input", tmp_path / "x.npy",
                                 "--out", tmp_path / "adir")
    (tmp_path / "afile").write_text("x")
    assert "is a file, not a folder" in _run(capsys, net, "--input", tmp_path / "x.npy",
                                              "--out", tmp_path / "afile" / "y.npy")
    if os.path.isdir("/proc"):       # a place no one (not even root) can create files in
        assert "cannot write in /proc" in _run(capsys, net, "--input", tmp_path / "x.npy",
                                                "--out", "/proc/loihi-snn-y.npy")
    # no extension: the name written is the name reported
    assert main(["run", str(net), "--input", str(tmp_path / "x.npy"), "--backend",
                 "emulator", "--out", str(tmp_path / "yo" / "noext")]) == 0
    out = capsys.readouterr().out
    assert f"written to {tmp_path / 'yo' / 'noext.npy'}" in out
    assert (tmp_path / "yo" / "noext.npy").exists()


def test_auto_backend_names_the_backend_used(net, tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((6, 12), np.int8))
    assert main(["run", str(net), "--input", str(tmp_path / "x.npy"), "--backend", "auto",
                 "--out", str(tmp_path / "y.npy")]) == 0
    out = capsys.readouterr().out
    assert " on auto" not in out and (" on lava-fixed" in out or " on loihi2" in out)


def _limited(size: int):
    """preexec_fn: files may grow to ``size`` bytes (a full disk, as seen by write())."""
    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    return limit


def _cli_limited(size: int, *args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=str(REPO_ROOT),
                          env=env, preexec_fn=_limited(size))


def test_full_disk_keeps_the_old_output(net, tmp_path):
    x = (np.random.default_rng(2).random((6, 400)) < 0.4).astype(np.int8)
    np.save(tmp_path / "x.npy", x)
    old = np.arange(5)
    np.save(tmp_path / "y.npy", old)
    proc = _cli_limited(1024, "run", net, "--input", tmp_path / "x.npy", "--backend",
                        "emulator", "--out", tmp_path / "y.npy")
    assert_one_error_line(proc, "cannot write the output", "unchanged")
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npy", "y.npy"]


# ----------------------------------------------------------------------------- checkpoints

def _checkpoint(path, **fields):
    torch.save({"format": "loihi_snn.checkpoint/1", **fields}, path)
    return path


BAD_CHECKPOINTS = {
    "no-config": (dict(data={}, state_dict={}), "field 'config' is missing"),
    "no-data": (dict(config={}, state_dict={}), "field 'data' is missing"),
    "empty-state": (dict(config={}, data={"input_shape": [2], "num_classes": 2, "T": 3},
                         state_dict={}), "'state_dict' is empty"),
    "wrong-state": (dict(config={"preset": "digits"},
                         data={"input_shape": [64], "num_classes": 10, "T": 16},
                         state_dict={"x": torch.zeros(2)}), "does not fit the model"),
    "state-not-dict": (dict(config={}, data={}, state_dict=[1, 2]), "'state_dict' is list"),
}


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoint_is_one_line(tmp_path, capsys, case):
    fields, words = BAD_CHECKPOINTS[case]
    ckpt = _checkpoint(tmp_path / "c.pt", **fields)
    assert main(["export", str(ckpt), "--out", str(tmp_path / "n.net")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not (tmp_path / "n.net").exists()


@pytest.mark.parametrize("content", [b"", b"hello" * 10, b"PK\x03\x04broken"],
                         ids=["empty", "garbage", "broken-zip"])
def test_unreadable_checkpoint_names_the_problem(tmp_path, capsys, content):
    (tmp_path / "c.pt").write_bytes(content)
    assert main(["export", str(tmp_path / "c.pt"), "--out", str(tmp_path / "n.net")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a loihi-snn checkpoint (" in err and "()" not in err and "(101)" not in err


def test_train_out_existing_file_is_refused_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert main(["train", "--preset", "digits", "--out", str(tmp_path / "afile")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_export_out_folder_is_refused(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path / "c.pt", config={}, data={}, state_dict={})
    (tmp_path / "adir").mkdir()
    assert main(["export", str(ckpt), "--out", str(tmp_path / "adir")]) == 2
    assert "is a folder" in capsys.readouterr().err


# ----------------------------------------------------------------------------- size caps

def test_too_many_layers_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "deep.net"
    with h5py.File(path, "w") as f:
        for i in range(1001):
            f.create_group(f"layer/{i}")
    with pytest.raises(NetxFormatError, match=r"field 'layer'.*1001 layers.*LOIHI_SNN_MAX_LAYERS"):
        read_netx(path)
    monkeypatch.setenv("LOIHI_SNN_MAX_LAYERS", "2000")     # the documented override
    with pytest.raises(NetxFormatError, match=r"layer 0: field 'type'"):
        read_netx(path)


def test_compressed_giant_weight_is_refused_before_reading(tmp_path):
    path = tmp_path / "bomb.net"
    with h5py.File(path, "w") as f:
        f.create_dataset("layer/0/shape", data=[128])
        f.create_dataset("layer/0/type", data=np.array([b"dense"], dtype="S10"))
        f.create_dataset("layer/0/weight", shape=(8_000_000, 128), dtype=np.int8,
                         compression="gzip", fillvalue=0)
    assert path.stat().st_size < 1 << 20
    with pytest.raises(NetxFormatError, match=r"layer 0: field 'weight'.*GiB.*LOIHI_SNN_MAX_READ_BYTES"):
        read_netx(path)


def test_neuron_cap_and_override(tmp_path, monkeypatch, net):
    monkeypatch.setenv("LOIHI_SNN_MAX_NEURONS", "10")
    with pytest.raises(NetxFormatError, match=r"layer 1: field 'shape'.*LOIHI_SNN_MAX_NEURONS"):
        read_netx(net)
    monkeypatch.setenv("LOIHI_SNN_MAX_NEURONS", "ten")
    with pytest.raises(OptionError, match="LOIHI_SNN_MAX_NEURONS"):
        read_netx(net)


def test_per_layer_lava_refuses_deep_networks_and_names_the_others(tmp_path, clean):
    n = LAVA_MAX_LAYERS + 1
    layers = [{"type": "input", "shape": [4]}] + [
        {"type": "dense", "shape": [4], "weight": np.eye(4, dtype=int) * 100,
         "neuron": dict(CUBA, vThMant=10)} for _ in range(n)]
    path = write_netx(tmp_path / "deep.net", layers)
    x = (np.random.default_rng(3).random((4, 8)) < 0.5).astype(np.int8)
    with pytest.raises(BackendError, match=r"lava-fused.*emulator.*LOIHI_SNN_LAVA_MAX_LAYERS"):
        loihi_snn.run(path, x, backend="lava-fixed")
    np.testing.assert_array_equal(loihi_snn.run(path, x, backend="lava-fused"),
                                  loihi_snn.run(path, x, backend="emulator"))


def test_cli_bad_input_subprocess_is_one_line(net, tmp_path):
    np.save(tmp_path / "x.npy", np.ones((6, 12), complex))
    proc = cli("run", net, "--input", tmp_path / "x.npy", "--out", tmp_path / "y.npy",
               "--backend", "lava-fused")
    assert_one_error_line(proc, "complex")
    assert "Exception ignored" not in proc.stderr


def test_unknown_preset_is_one_short_line(tmp_path, capsys):
    assert main(["train", "--preset", "nope", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "unknown preset 'nope'" in err and "digits" in err and len(err) < 400


def test_export_to_a_full_disk_is_one_line_and_keeps_the_old_file(tmp_path):
    """A NetX write on a full disk ended in a segfault after an h5py traceback: the HDF5
    image is now built in memory and written with one plain write."""
    (tmp_path / "n.net").write_text("old")
    code = ("import sys\n"
            "from helpers import export_slayer, net_dense\n"
            "from loihi_snn.core.errors import OutputError\n"
            "try:\n"
            f"    export_slayer(net_dense, 3, {str(tmp_path / 'n.net')!r})\n"
            "except OutputError as exc:\n"
            "    print('error:', exc, file=sys.stderr); sys.exit(2)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests"),
                                                       os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path), env=env, preexec_fn=_limited(2048))
    # (lava-dl's import may print a CUDA notice first: only the error line is ours)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "cannot write the network" in last
    assert (tmp_path / "n.net").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n.net"]

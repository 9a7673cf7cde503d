"""Bad CLI arguments and new-user frictions (issue 29): one ``error:`` line, exit status 2,
nothing written.

``import`` / ``export-nir --out`` to a folder, a read-only place or a device;
``run --out /dev/null``; ``eval --input-scale`` that is not positive; malformed
environment variables; ``import`` of a graph that does not record its reset mode
without ``--reset``; ``--labels``; and what ``info`` / ``eval`` / ``train --help`` print.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from loihi_snn.app.cli import main

from helpers import CUBA, REPO_ROOT, assert_one_error_line, cli, write_netx

nir = pytest.importorskip("nir")
from helpers.nir_graphs import DT, chain_graph, if_node  # noqa: E402

MODELS = REPO_ROOT / "netx_models"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_args")
    net = d / "net.net"
    w = np.random.default_rng(0).integers(-128, 128, (8, 6)) * 2
    write_netx(net, [{"type": "input", "shape": [6]},
                     {"type": "dense", "shape": [8], "weight": w,
                      "neuron": dict(CUBA, vThMant=1000)}])
    np.save(d / "x.npy", (np.random.default_rng(1).random((6, 12)) < 0.4).astype(np.int8))
    exported = d / "exported.nir"              # written by export-nir: records its reset
    assert main(["export-nir", str(net), "--out", str(exported)]) == 0
    # a graph as snnTorch / Norse write it: no reset mode anywhere
    rng = np.random.default_rng(2)
    w1 = (rng.integers(-3, 4, (5, 4)) * 2).astype(np.float64)
    graph = chain_graph({"fc": nir.Affine(weight=w1, bias=np.zeros(5)),
                         "lif": if_node((5,), 4.0)}, (4,), (5,))
    bare = d / "bare.nir"
    nir.write(str(bare), graph)
    X = (rng.random((10, 4, 8)) < 0.5).astype(np.int8)
    np.save(d / "check.npy", X)
    return {"dir": d, "net": net, "exported": exported, "bare": bare, "X": X}


def _one_line(capsys, *argv) -> str:
    """``loihi-snn ARGV`` in process: exit status 2 and exactly one ``error:`` line."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def _listing(d):
    return sorted(p.name for p in d.iterdir())


# ----------------------------------------------------------------------------- --out checks

@pytest.mark.parametrize("where,words", [("folder", "is a folder"), ("proc", "cannot write in"),
                                         ("device", "is a device")])
def test_import_and_export_nir_check_out_first(files, tmp_path, capsys, where, words):
    """import / export-nir --out used to end in a traceback for a folder or a read-only
    place; now the destination is checked before the graph is read (as run and export)."""
    out = {"folder": tmp_path, "proc": "/proc/loihi-snn-x.net", "device": "/dev/null"}[where]
    if where == "proc" and not os.path.isdir("/proc"):
        pytest.skip("no /proc")
    before = _listing(tmp_path)
    assert words in _one_line(capsys, "import", files["exported"], "--out", out)
    assert words in _one_line(capsys, "export-nir", files["net"], "--out", out)
    assert _listing(tmp_path) == before


def test_run_out_dev_null_is_refused_and_writes_nothing(files, capsys):
    existed = os.path.exists("/dev/null.npy")
    line = _one_line(capsys, "run", files["net"], "--input", files["dir"] / "x.npy",
                     "--backend", "emulator", "--out", "/dev/null")
    assert "/dev/null: is a device" in line
    assert os.path.exists("/dev/null.npy") == existed


def test_cli_out_folder_subprocess_is_one_line(files, tmp_path):
    proc = cli("export-nir", files["net"], "--out", tmp_path)
    assert_one_error_line(proc, "is a folder")
    assert _listing(tmp_path) == []


# ----------------------------------------------------------------------------- eval options

@pytest.mark.parametrize("scale", ["-1", "0", "nan", "inf"])
def test_eval_input_scale_must_be_positive(capsys, scale):
    line = _one_line(capsys, "eval", MODELS / "digits_lif" / "digits_lif.net",
                     "--backend", "emulator", "--input-scale", scale)
    assert "--input-scale must be a positive number" in line


def test_eval_speed_is_sample_steps_on_every_backend(capsys):
    net = MODELS / "digits_lif" / "digits_lif.net"
    assert main(["eval", str(net), "--backend", "emulator", "--limit", "20"]) == 0
    out = capsys.readouterr().out
    assert "sample-steps/s" in out


# ----------------------------------------------------------------------------- env variables

@pytest.mark.parametrize("var,argv", [
    ("LOIHI_SNN_MAX_RUN_BYTES", ("run", "{net}", "--input", "{x}", "--backend", "emulator",
                                 "--out", "{out}")),
    ("LOIHI_SNN_MAX_LAYERS", ("info", "{net}")),
    ("LOIHI_SNN_MAX_READ_BYTES", ("export-nir", "{net}", "--out", "{nir}")),
])
def test_malformed_env_var_is_one_line_naming_it(files, tmp_path, var, argv):
    subs = {"net": files["net"], "x": files["dir"] / "x.npy", "out": tmp_path / "y.npy",
            "nir": tmp_path / "m.nir"}
    env = dict(os.environ, **{var: "abc"},
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "loihi_snn.app.cli",
                           *[a.format(**subs) for a in argv]], capture_output=True, text=True,
                          timeout=300, cwd=str(REPO_ROOT), env=env)
    line = assert_one_error_line(proc, f"{var}='abc'", "integer")
    assert "corrupt" not in line
    assert _listing(tmp_path) == []


# ----------------------------------------------------------------------------- import --reset

def test_import_asks_for_the_reset_a_graph_does_not_record(files, tmp_path, capsys):
    """A snnTorch/Norse graph records no reset mode: import used to take hard silently and
    --check, run under the same reset, agreed 1.0000 with itself.  Now one line asks for
    --reset; a file export-nir wrote needs nothing."""
    out = tmp_path / "n.net"
    line = _one_line(capsys, "import", files["bare"], "--out", out, "--check",
                     files["dir"] / "check.npy")
    assert "--reset soft" in line and "--reset hard" in line and "subtract" in line
    assert not out.exists()
    assert main(["import", str(files["bare"]), "--out", str(out), "--reset", "soft"]) == 0
    assert "reset soft" in capsys.readouterr().out and out.exists()
    out.unlink()
    assert main(["import", str(files["exported"]), "--out", str(out)]) == 0
    assert "reset hard" in capsys.readouterr().out


def test_import_check_labels_reports_accuracy(files, tmp_path, capsys):
    X = files["X"]
    labels = np.arange(len(X)) % 5
    np.save(tmp_path / "labels.npy", labels)
    out = tmp_path / "n.net"
    assert main(["import", str(files["bare"]), "--out", str(out), "--reset", "hard",
                 "--check", str(files["dir"] / "check.npy"),
                 "--labels", str(tmp_path / "labels.npy")]) == 0
    text = capsys.readouterr().out
    line = next(l for l in text.splitlines() if l.startswith("accuracy against"))
    assert "float NIR reference" in line and "fixed point" in line
    # the same numbers as check_import's predictions
    from loihi_snn.nir import check_import, normalise
    r = check_import(normalise(str(files["bare"])), str(out), X, dt=DT, reset="hard")
    want = np.mean(np.asarray(r["fixed_predictions"]) == labels)
    assert f"fixed point {want:.4f}" in line


def test_import_labels_errors(files, tmp_path, capsys):
    out = tmp_path / "n.net"
    np.save(tmp_path / "short.npy", np.zeros(3, int))
    line = _one_line(capsys, "import", files["bare"], "--out", out, "--reset", "hard",
                     "--labels", tmp_path / "short.npy")
    assert "--labels needs --check" in line
    line = _one_line(capsys, "import", files["bare"], "--out", out, "--reset", "hard",
                     "--check", files["dir"] / "check.npy", "--labels", tmp_path / "short.npy")
    assert "short.npy" in line and "(10,)" in line
    assert not out.exists()


@pytest.mark.parametrize("option,value,words", [("--dt", "0", "dt must be"),
                                                ("--dt", "nan", "dt must be"),
                                                ("--weight-bits", "1", "weight_bits")])
def test_import_options_are_checked_first(files, tmp_path, capsys, option, value, words):
    out = tmp_path / "n.net"
    assert words in _one_line(capsys, "import", files["bare"], "--out", out, "--reset", "hard",
                              option, value)
    assert not out.exists()


# ----------------------------------------------------------------------------- what is printed

def test_info_shows_the_asa_gate_and_a_plain_layer_start(capsys):
    assert main(["info", str(MODELS / "events_asa" / "events_asa.net")]) == 0
    out = capsys.readouterr().out
    assert "asa=adaptive(4 of 8 channels important, sigmoid shift 8)" in out
    assert "layer start: step_1 -- every layer starts at step 1" in out
    assert main(["info", "--json", str(MODELS / "events_asa" / "events_asa.net")]) == 0
    import json
    rows = json.loads(capsys.readouterr().out)["layers"]
    assert rows[1]["asa"] == {"split": "adaptive", "channels": 8, "important": 4,
                              "sigmoid_shift": 8}


def test_train_help_names_the_epoch_select_keeps(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "'select'" in text and "'last': the final epoch" in text
    assert "keep the best epoch (by validation accuracy)" not in text


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(files, capsys):
    """A stream of samples (eval, run_many, run_cutoff) showed progress only as a bar on a
    terminal; in a log (stderr not a terminal) it now prints plain lines: at the start,
    every few seconds, at the end.  A single run stays quiet unless asked."""
    import loihi_snn
    X = (np.random.default_rng(3).random((3, 6, 40)) < 0.3).astype(np.int8)
    Y = loihi_snn.run_many(str(files["net"]), X, backend="lava-fused")
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("lava net.net: 0/3 samples (0%), 0 s"), lines
    assert lines[-1].startswith("lava net.net: 3/3 samples (100%)"), lines
    assert Y.shape == (3, 8, 40)
    loihi_snn.run_many(str(files["net"]), X, backend="lava-fused", progress=False)
    assert capsys.readouterr().err == ""
    x = np.tile(X[0], 20)                       # 800 steps: a bar on a terminal only
    loihi_snn.run(str(files["net"]), x, backend="lava-fused")
    assert capsys.readouterr().err == ""
    loihi_snn.run(str(files["net"]), x, backend="lava-fused", progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("lava net.net: 0/800 steps") and "800/800" in lines[-1], lines


def test_progress_lines_end_without_a_last_line_when_the_run_fails(capsys):
    from loihi_snn.core.progress import Progress
    bar = Progress(10, "sample", "x")
    with pytest.raises(RuntimeError):
        try:
            bar.update(4)
            raise RuntimeError("failed")
        finally:
            bar.close()
    assert capsys.readouterr().err.strip().splitlines() == ["x: 0/10 samples (0%), 0 s"]

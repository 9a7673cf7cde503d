"""No hang, ever: every backend finishes (or fails in one line) whatever the caller did.

Users' processes are not pinned to one torch thread: they train, call the emulator or
any torch op (which starts torch's OpenMP thread pool), then run on Lava, whose process
models are forked.  These tests run exactly that in FRESH interpreters
(``tests/e2e/no_hang_script.py``): with torch's default threads and with 2 threads set
explicitly (so a 1-core CI box checks it too), after a torch conv and after training,
every backend in sequence on one network of each layer and neuron family.  Before the
fix (:mod:`loihi_snn.core.forksafe`) every conv network hung on ``lava-fused``.

A deliberately stalled model (the test-only ``SLEEPY`` family, tests/lava_failing) ends
in one line within the stall deadline on every Lava backend, from the API and the CLI,
with no process or shared memory left behind.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from helpers import REPO_ROOT, SHARED_NETX
from helpers.netx_files import CUBA, pool_netx, write_netx

SCRIPT = REPO_ROOT / "tests" / "e2e" / "no_hang_script.py"
MODELS = REPO_ROOT / "netx_models"
STALL_S = 20        # the stall deadline these runs get: a hang fails the test, fast
WALL_S = 420        # the whole subprocess: a hang that escaped every deadline


def _env(**extra) -> dict:
    """A user's environment: no thread pinning, the repository importable."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "LOIHI_SNN_TORCH_THREADS")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "tests"),
                                           str(REPO_ROOT / "tests" / "lava_failing")]),
               LOIHI_SNN_STALL_TIMEOUT=str(STALL_S))
    env.update(extra)
    return env


def _model(name: str) -> str:
    return str(MODELS / name / f"{name}.net")


def _written_nets(tmp_path) -> dict:
    """Families without a shipped model: a sum pool and an average output layer."""
    rng = np.random.default_rng(3)
    pool = pool_netx(tmp_path / "pool.net", C=2, H=8, W=8, k=2, weight=60.0)
    w = (rng.integers(-60, 120, size=(12, 16)) * 2).astype(np.float32)
    avg = write_netx(tmp_path / "avg.net", [
        {"type": "input", "shape": [16]},
        {"type": "dense", "shape": [12], "weight": w, "neuron": CUBA},
        {"type": "average", "shape": [4]}])
    return {"pool": str(pool), "average": str(avg)}


ALL_CALLS = ["emulator", "lava-fused", "lava-fixed", "run_many", "run_cutoff"]


def _cases(tmp_path, names) -> list:
    nets = {
        "dense CUBA (digits_cuba)": _model("digits_cuba"),
        "dense LIF (digits_lif)": _model("digits_lif"),
        "ternary (digits_ternary)": _model("digits_ternary"),
        "dense_rec (mnist1d_rlif)": _model("mnist1d_rlif"),
        "conv (mnist1d_conv)": _model("mnist1d_conv"),
        "conv + ASA (events_asa)": _model("events_asa"),
        "conv LOIHI (lava-dl tinynet)": str(SHARED_NETX / "tinynet" / "tiny.net"),
        **_written_nets(tmp_path),
    }
    return [[n, p, ALL_CALLS] for n, p in nets.items() if any(k in n for k in names)]


def _run_script(tmp_path, threads: int, warm: str, cases: list, **env) -> dict:
    plan = tmp_path / f"plan_{threads}_{warm}.json"
    plan.write_text(json.dumps({"warm": warm, "cases": cases,
                                "train_dir": str(tmp_path / f"train_{threads}")}))
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, str(SCRIPT), str(threads), str(plan)],
                              capture_output=True, text=True, timeout=WALL_S,
                              env=_env(**env), cwd=REPO_ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"a run hung: no answer after {WALL_S} s (threads={threads}, warm={warm})")
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    report["wall"] = time.monotonic() - t0
    return report


def _check(report: dict, cases: list) -> None:
    assert set(report["cases"]) == {c[0] for c in cases}
    for name, rows in report["cases"].items():
        for call, row in rows.items():
            assert row["equal"], f"{name}: {call} differs from the emulator ({report})"
        assert rows["emulator"]["nonzero"] > 0 or "pool" in name or "average" in name, \
            f"{name}: silent output, the comparison proves little ({rows})"


@pytest.mark.slow
def test_every_family_every_backend_with_torch_default_threads(tmp_path):
    """The reproducer of the issue, generalised: torch's default threads, a torch conv
    first, then emulator -> lava-fused -> lava-fixed -> run_many -> run_cutoff on one
    network of each family; identical spikes everywhere."""
    cases = _cases(tmp_path, ["digits_cuba", "digits_ternary", "mnist1d_rlif",
                              "mnist1d_conv", "events_asa", "tinynet", "pool", "average"])
    report = _run_script(tmp_path, 0, "conv", cases)
    _check(report, cases)


@pytest.mark.slow
def test_conv_families_with_two_threads_set_explicitly(tmp_path):
    """Two threads set explicitly, so that a 1-core machine (default: one thread, no
    pool) checks the conv families too; LIF neurons on a dense net beside them."""
    cases = _cases(tmp_path, ["digits_lif", "mnist1d_conv", "events_asa", "tinynet", "pool"])
    report = _run_script(tmp_path, 2, "conv", cases)
    assert report["threads"] == 2
    _check(report, cases)


@pytest.mark.slow
def test_training_then_running_on_lava_fused(tmp_path):
    """Training on 2 threads (LOIHI_SNN_TORCH_THREADS=2), then the ASA conv network on
    every backend, lava-fused first."""
    cases = [["conv + ASA (events_asa)", _model("events_asa"),
              ["lava-fused", "run_many", "emulator", "lava-fixed"]]]
    report = _run_script(tmp_path, 2, "train", cases, LOIHI_SNN_TORCH_THREADS="2")
    _check(report, cases)


@pytest.mark.slow
def test_cli_eval_calibrates_on_the_emulator_then_runs_lava_fused(tmp_path):
    """The CLI path that hung: ``eval --epsilon`` calibrates the cutoff with the emulator
    (torch conv, default threads), then streams the split through lava-fused."""
    proc = subprocess.run(
        [sys.executable, "-m", "loihi_snn", "eval", _model("events_asa"), "--backend",
         "lava-fused", "--epsilon", "0.05", "--limit", "12", "--calibration-limit", "24",
         "--json"], capture_output=True, text=True, timeout=WALL_S, env=_env(), cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["samples"] == 12 and 0 <= result["accuracy"] <= 1


# ------------------------------------------------------------------ the stall deadline
STALLED = textwrap.dedent("""
    import json, multiprocessing, os, sys, time
    import numpy as np
    from sleepy import register_sleepy
    register_sleepy()
    import loihi_snn
    from loihi_snn.app.cli import main
    path, mode, backend = sys.argv[1], sys.argv[2], sys.argv[3]
    shm0 = set(os.listdir("/dev/shm"))
    x = np.ones((8, 12), np.int8)
    t0 = time.monotonic()
    if mode == "api":
        try:
            loihi_snn.run(path, x, backend=backend, stall_timeout=3)
            out = {"error": None}
        except loihi_snn.RunError as exc:
            out = {"error": str(exc), "stalled": getattr(exc, "stalled", None),
                   "type": type(exc).__name__}
    else:
        np.save(sys.argv[4], x)
        code = main(["run", path, "--input", sys.argv[4], "--backend", backend,
                     "--stall-timeout", "3", "--out", sys.argv[5]])
        out = {"code": code}
    out["seconds"] = time.monotonic() - t0
    time.sleep(0.5)
    out["children"] = len(multiprocessing.active_children())
    out["shm_left"] = sorted(set(os.listdir("/dev/shm")) - shm0)
    print(json.dumps(out))
""")


def _sleepy_net(tmp_path):
    w = np.full((4, 8), 2.0, np.float32)
    return write_netx(tmp_path / "sleepy.net", [
        {"type": "input", "shape": [8]},
        {"type": "dense", "shape": [4], "weight": w, "neuron": {"type": b"SLEEPY"}}])


@pytest.mark.parametrize("backend", ["lava-fixed", "lava-fused"])
def test_stalled_model_ends_in_one_line_within_the_deadline(tmp_path, backend):
    path = _sleepy_net(tmp_path)
    proc = subprocess.run([sys.executable, "-c", STALLED, str(path), "api", backend],
                          capture_output=True, text=True, timeout=180, env=_env(),
                          cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["type"] == "RunError" and out["stalled"] is True, out
    msg = out["error"]
    assert "\n" not in msg and f"backend '{backend}'" in msg and "sleepy.net" in msg, msg
    assert "stalled" in msg and "stall_timeout=3 s" in msg and "LOIHI_SNN_STALL_TIMEOUT" in msg
    # what stalled: the model processes are named (the fused run is one process)
    assert ("PyFailingModelFixed" if backend == "lava-fixed" else "PyFusedRunModelAsync") \
        in msg, msg
    # within the deadline: 3 s without CPU, plus start-up and clean-up
    assert out["seconds"] < 3 + 40, out
    assert out["children"] == 0 and out["shm_left"] == [], out


def test_stalled_model_from_the_cli_exits_2_with_one_line(tmp_path):
    path = _sleepy_net(tmp_path)
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    proc = subprocess.run([sys.executable, "-c", STALLED, str(path), "cli", "lava-fused",
                           str(x), str(y)], capture_output=True, text=True, timeout=180,
                          env=_env(), cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["code"] == 2, (out, proc.stderr)
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: ") and "stalled" in err[0], err
    assert not y.exists(), "nothing may be written"
    assert out["children"] == 0 and out["shm_left"] == [], out


def test_stall_timeout_values_are_checked():
    import loihi_snn
    from loihi_snn.core.errors import OptionError
    from loihi_snn.sim.runtime.guard import STALL_TIMEOUT_S, resolve_stall_timeout

    assert resolve_stall_timeout(None) in (STALL_TIMEOUT_S, float(os.environ.get(
        "LOIHI_SNN_STALL_TIMEOUT", STALL_TIMEOUT_S)))
    assert resolve_stall_timeout(2.5) == 2.5
    for bad in (0, -1, float("nan"), float("inf"), "abc", True):
        with pytest.raises(OptionError, match="stall_timeout"):
            resolve_stall_timeout(bad)
    with pytest.raises(OptionError, match="stall_timeout"):
        loihi_snn.run(_model("digits_cuba"), np.zeros((64, 4), np.int8), stall_timeout=-2)


def test_stall_timeout_env_var_is_checked(monkeypatch):
    from loihi_snn.core.errors import OptionError
    from loihi_snn.sim.runtime.guard import resolve_stall_timeout

    monkeypatch.setenv("LOIHI_SNN_STALL_TIMEOUT", "7")
    assert resolve_stall_timeout() == 7.0
    monkeypatch.setenv("LOIHI_SNN_STALL_TIMEOUT", "abc")
    with pytest.raises(OptionError, match="LOIHI_SNN_STALL_TIMEOUT='abc'"):
        resolve_stall_timeout()


SPINNING = textwrap.dedent("""
    import json, multiprocessing, sys, time
    import numpy as np
    from failing import Failing
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from loihi_snn.sim.runtime import guard
    guard.STALL_START_S, guard.STALL_STEP_S = 0.0, 0.2   # a short allowance for the test
    src = Source(data=np.ones((4, 10), np.int32))
    f = Failing(n=4, fail_at=2, mode="spin", hang_s=600)
    snk = Sink(shape=(4,), buffer=10)
    src.s_out.connect(f.a_in)
    f.s_out.connect(snk.a_in)
    t0 = time.monotonic()
    try:
        guard.run_supervised(src, snk.data.get, [10], Loihi2SimCfg(select_tag="fixed_pt"),
                             stall_timeout=5, what="spin.net", backend="lava-fixed")
        out = {"error": None}
    except Exception as exc:
        out = {"error": str(exc), "stalled": getattr(exc, "stalled", None)}
    out["seconds"] = time.monotonic() - t0
    time.sleep(0.5)
    out["children"] = len(multiprocessing.active_children())
    print(json.dumps(out))
""")


def test_busy_model_that_never_finishes_a_step_ends_past_its_allowance():
    """A model that computes but never finishes its step uses the CPU, so only the
    per-chunk allowance (stall_timeout + a per-step time) can end it."""
    proc = subprocess.run([sys.executable, "-c", SPINNING], capture_output=True, text=True,
                          timeout=180, env=_env(), cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["stalled"] is True, out
    assert "did not finish within 7 s" in out["error"] and "PyFailingModelFixed" in out["error"]
    assert 7 <= out["seconds"] < 7 + 40 and out["children"] == 0, out

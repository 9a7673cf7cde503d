"""loihi-snn without Lava and lava-dl (issue 32): what works, and one line for what does not.

Every test runs its commands in a fresh interpreter where ``import lava`` fails (a
meta-path blocker), so the same tests check the Lava-free path in the Python 3.10 venv,
where Lava is installed, and in the modern venv (newest CPython, numpy 2, current torch),
where it is not:

- ``info`` (and ``--loihi2``) on every shipped model, ``eval`` / ``run`` / ``run_many`` /
  ``run_cutoff`` / ``emulate``, ``export-nir``, ``import --check`` and the demo's
  deployment half run, and import no Lava module;
- ``backend="auto"`` picks the emulator and gives the same spikes as ``emulator``;
- a Lava backend (``lava-fixed``, ``lava-float``, ``lava-fused``, ``loihi2``), ``load`` and
  ``train`` end in one line saying what is missing and how to get it, exit status 2;
- a network trained in snnTorch in this venv reaches the emulator through NIR.

In the 3.10 venv, the Lava-free commands are also run with Lava installed, to check that
they do not import it.  These tests name Lava backends without running them: marked
``lava_free`` so the conftest's ``lava`` marker leaves them in the modern venv's run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO_ROOT

pytestmark = pytest.mark.lava_free

MODELS = sorted(p for p in (REPO_ROOT / "netx_models").glob("*/*.net")
                if p.parent.name != "demo" and p.stem == p.parent.name)
DIGITS = REPO_ROOT / "netx_models" / "digits_lif" / "digits_lif.net"

#: makes ``import lava`` (and every ``lava.*``) fail, as where Lava is not installed
NO_LAVA = '''
import importlib.abc, sys
class _NoLava(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "lava" or name.startswith("lava."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _NoLava())
'''

#: runs each argv of sys.argv[1] (JSON) through the CLI's main, then ``python_code``;
#: prints one JSON line: each command's status, stdout, stderr, and the Lava modules loaded
DRIVER = '''
import contextlib, io, json, sys
from loihi_snn.app.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    results.append({"argv": argv, "rc": rc, "out": out.getvalue(), "err": err.getvalue()})
extra = {}
exec(sys.argv[2], {"extra": extra})
print(json.dumps({"results": results, "extra": extra,
                  "lava": sorted(m for m in sys.modules if m == "lava" or m.startswith("lava."))}))
'''


def _run(commands, code="", *, block=True, timeout=600):
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", (NO_LAVA if block else "") + DRIVER,
                           json.dumps([[str(a) for a in c] for c in commands]), code],
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT),
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _one_line(result, *words):
    assert result["rc"] == 2, result
    lines = result["err"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["err"]
    assert "Traceback" not in result["err"] + result["out"]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("nolava")
    X = (np.random.default_rng(0).random((6, 64, 16)) < 0.3).astype(np.int64)
    np.save(d / "x.npy", X[0])
    np.save(d / "X.npy", X)
    return d, X


def test_lava_free_commands_run_and_import_no_lava(files):
    """info (--loihi2) on every shipped model, eval, run, export-nir, import --check: exit 0
    with Lava blocked, and no Lava module loaded."""
    d, X = files
    commands = [["info", "--loihi2", m] for m in MODELS] + [
        ["info", "--json", DIGITS],
        ["eval", DIGITS, "--limit", "30", "--backend", "emulator"],
        ["eval", DIGITS, "--limit", "30", "--backend", "auto", "--cutoff", "--json"],
        ["run", DIGITS, "--input", d / "x.npy", "--out", d / "y_auto.npy", "--backend", "auto"],
        ["run", DIGITS, "--input", d / "x.npy", "--out", d / "y_emu.npy", "--backend", "emulator"],
        ["export-nir", DIGITS, "--out", d / "digits.nir"],
        ["import", d / "digits.nir", "--out", d / "back.net", "--check", d / "X.npy"],
    ]
    r = _run(commands)
    for res in r["results"]:
        assert res["rc"] == 0, res
    assert r["lava"] == []
    assert "Loihi 2 check" in r["results"][0]["out"]
    ev = json.loads(r["results"][len(MODELS) + 2]["out"])
    assert ev["backend"] == "emulator" and ev["cutoff"] is True and ev["samples"] == 30
    assert "ran 16 steps on emulator" in r["results"][len(MODELS) + 3]["out"]
    assert np.array_equal(np.load(d / "y_auto.npy"), np.load(d / "y_emu.npy"))
    assert "prediction agreement (float NIR reference vs fixed point) 1.0000" in \
        r["results"][-1]["out"]


def test_lava_free_commands_do_not_import_lava_where_it_is_installed(files):
    """Same commands, nothing blocked: still no Lava module (in the 3.10 venv, where Lava
    is installed, this is the check that nothing imports it unasked)."""
    d, _ = files
    r = _run([["info", "--loihi2", DIGITS],
              ["eval", DIGITS, "--limit", "20", "--backend", "emulator"],
              ["run", DIGITS, "--input", d / "x.npy", "--out", d / "y2.npy",
               "--backend", "emulator"],
              ["export-nir", DIGITS, "--out", d / "d2.nir"],
              ["import", d / "d2.nir", "--out", d / "b2.net", "--check", d / "X.npy"]],
             "import loihi_snn, numpy as np\n"
             f"X = np.load({str(d / 'X.npy')!r})\n"
             f"loihi_snn.emulate({str(DIGITS)!r}, X)\n"
             f"loihi_snn.emulate({str(DIGITS)!r}, X, device='cpu')\n"
             f"loihi_snn.run_many({str(DIGITS)!r}, X, backend='emulator')\n"
             f"loihi_snn.read_netx({str(DIGITS)!r})\n", block=False)
    assert [res["rc"] for res in r["results"]] == [0] * 5, r["results"]
    assert r["lava"] == []


def test_api_auto_is_the_emulator_and_lava_parts_are_one_line(files):
    d, X = files
    code = f'''
import numpy as np, loihi_snn
from loihi_snn.core.errors import BackendError
from loihi_snn.sim.runtime.cutoff_run import stored_beta
from loihi_snn.sim.runtime.run import resolve_backend
X = np.load({str(d / "X.npy")!r}); path = {str(DIGITS)!r}
ref = loihi_snn.emulate(path, X)
extra["resolved"] = resolve_backend("auto")
extra["run"] = bool(np.array_equal(loihi_snn.run(path, X[0], backend="auto"), ref[0]))
extra["run_many"] = bool(np.array_equal(loihi_snn.run_many(path, X, backend="auto"), ref))
r = loihi_snn.run_cutoff(path, X, backend="auto")
p, s = loihi_snn.offline_cutoff(ref, stored_beta(loihi_snn.read_netx(path), 16))
extra["run_cutoff"] = bool(np.array_equal(r.predictions, p) and np.array_equal(r.steps, s))
errors = {{}}
for backend in ("lava-fixed", "lava-float", "lava-fused", "loihi2"):
    try:
        loihi_snn.run(path, X[0], backend=backend)
    except BackendError as exc:
        errors[backend] = str(exc)
for name, call in (("load", lambda: loihi_snn.load(path)),
                   ("run_many", lambda: loihi_snn.run_many(path, X, backend="lava-fixed")),
                   ("run_cutoff", lambda: loihi_snn.run_cutoff(path, X, backend="lava-fixed")),
                   ("blocks", lambda: loihi_snn.blocks.Dense)):
    try:
        call()
    except BackendError as exc:
        errors[name] = str(exc)
extra["errors"] = errors
'''
    r = _run([], code)
    e = r["extra"]
    assert e["resolved"] == "emulator"
    assert e["run"] and e["run_many"] and e["run_cutoff"]
    assert set(e["errors"]) == {"lava-fixed", "lava-float", "lava-fused", "loihi2", "load",
                                "run_many", "run_cutoff", "blocks"}, e["errors"]
    for name, msg in e["errors"].items():
        assert "\n" not in msg and "pip install 'loihi-snn[lava]'" in msg, (name, msg)
        assert ("needs Lava (lava-nc" in msg) or ("needs lava-dl" in msg), (name, msg)
    assert "backend 'lava-fused' needs Lava" in e["errors"]["lava-fused"]
    assert "use backend 'emulator'" in e["errors"]["lava-fixed"]
    assert "lava-dl" in e["errors"]["blocks"]


def test_cli_lava_backends_and_train_without_lava_are_one_line_exit_2(files, tmp_path):
    d, _ = files
    commands = [["run", DIGITS, "--input", d / "x.npy", "--out", tmp_path / f"{b}.npy",
                 "--backend", b] for b in ("lava-fixed", "lava-float", "lava-fused", "loihi2")]
    commands += [["eval", DIGITS, "--limit", "5"],                       # default lava-fixed
                 ["train", "--preset", "digits_lif", "--out", tmp_path / "train"]]
    r = _run(commands)
    for res, b in zip(r["results"][:4], ("lava-fixed", "lava-float", "lava-fused", "loihi2")):
        _one_line(res, f"backend '{b}' needs Lava", "pip install 'loihi-snn[lava]'",
                  "Python 3.10", "backend 'emulator'")
    _one_line(r["results"][4], "backend 'lava-fixed' needs Lava")
    _one_line(r["results"][5], "SLAYER training needs lava-dl", "pip install 'loihi-snn[lava]'",
              "snnTorch or Norse", "loihi-snn import")
    assert sorted(os.listdir(tmp_path)) == []         # nothing written, no run output
    assert r["lava"] == []


def test_demo_deployment_half_on_a_shipped_model(tmp_path):
    """``python -m loihi_snn.app.demo --net`` on digits_lif: the emulator's predictions on
    the model card's reference digits are Lava's."""
    out = tmp_path / "demo"
    code = (f"from loihi_snn.app.demo import deploy\n"
            f"extra['rc'] = deploy({str(DIGITS)!r}, {str(out)!r}, limit=60)\n")
    r = _run([], code)
    assert r["extra"]["rc"] == 0 and r["lava"] == []
    report = json.loads((out / "report.json").read_text())
    card = json.loads((DIGITS.parent / "model_card.json").read_text())["reference_subset"]
    expected = np.mean(np.array(card["lava_predictions"][:60]) == np.array(card["labels"][:60]))
    assert report["backend"] == "emulator"
    assert report["full_T"]["samples"] == 60
    assert report["full_T"]["accuracy"] == pytest.approx(expected)
    assert report["cutoff"]["cutoff"] is True
    assert report["cutoff"]["mean_steps"] < report["full_T"]["mean_steps"] == 16


def test_snntorch_network_trained_here_reaches_the_emulator_through_nir(tmp_path):
    """Train a small snnTorch network in this venv (a few Adam steps), export it to NIR,
    ``loihi-snn import --check`` it and run it on backend auto, all without Lava."""
    pytest.importorskip("snntorch")
    pytest.importorskip("nir")
    code = f'''
import numpy as np, torch, snntorch as snn, nir
from snntorch.export_nir import export_to_nir
torch.manual_seed(0); torch.set_num_threads(1)
rng = np.random.default_rng(0)
labels = rng.integers(0, 3, 96)
X = (rng.random((96, 12, 20)) < np.where(np.arange(12)[None, :, None] // 4 == labels[:, None, None], 0.6, 0.1)).astype(np.float32)
def vec(n, v): return torch.full((n,), float(v))
net = torch.nn.Sequential(torch.nn.Linear(12, 16),
    snn.Leaky(beta=vec(16, 0.9), threshold=vec(16, 1.0), init_hidden=True, reset_mechanism="subtract"),
    torch.nn.Linear(16, 3),
    snn.Leaky(beta=vec(3, 0.9), threshold=vec(3, 1.0), init_hidden=True, reset_mechanism="subtract", output=True))
opt = torch.optim.Adam(net.parameters(), lr=0.02)
for epoch in range(15):
    for m in net.modules():
        if isinstance(m, snn.SpikingNeuron): m.reset_mem()
    counts = 0
    for t in range(X.shape[-1]):
        spk, _ = net(torch.from_numpy(X[..., t]))
        counts = counts + spk
    loss = torch.nn.functional.cross_entropy(counts, torch.from_numpy(labels))
    opt.zero_grad(); loss.backward(); opt.step()
extra["train_accuracy"] = float((counts.argmax(1).numpy() == labels).mean())
nir.write({str(tmp_path / "m.nir")!r}, export_to_nir(net.eval(), torch.zeros(12)))
np.save({str(tmp_path / "x.npy")!r}, X[:16].astype(np.int64))
np.save({str(tmp_path / "labels.npy")!r}, labels[:16])
np.save({str(tmp_path / "x0.npy")!r}, X[0].astype(np.int64))
'''
    r = _run([], code)
    r = _run([["import", tmp_path / "m.nir", "--out", tmp_path / "m.net", "--reset", "soft",
               "--check", tmp_path / "x.npy", "--labels", tmp_path / "labels.npy"],
              ["info", "--loihi2", tmp_path / "m.net"],
              ["run", tmp_path / "m.net", "--input", tmp_path / "x0.npy", "--out",
               tmp_path / "y.npy", "--backend", "auto"]])
    assert [res["rc"] for res in r["results"]] == [0, 0, 0], r["results"]
    assert "prediction agreement" in r["results"][0]["out"]
    assert "on emulator" in r["results"][2]["out"] and r["lava"] == []

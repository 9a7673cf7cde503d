"""Every study (studies/<name>.py) answers --help, runs end to end at ``--size small`` in a
fresh process (``python -m studies.<name>``, as the README says), writes its result file
with the provenance record of the current schema, and the README lists every study."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import REPO_ROOT as ROOT
from loihi_snn.core import provenance

STUDIES = sorted(p.stem for p in (ROOT / "studies").glob("*.py")
                 if p.stem not in ("__init__", "harness"))


def _env(tmp=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


def _run(args, tmp_path, timeout=900):
    proc = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          timeout=timeout, env=_env(tmp_path), cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return proc.stdout.strip().splitlines()


def _check_provenance(prov: dict, name: str) -> None:
    assert provenance.is_current(prov), prov
    assert prov["command"].startswith(f"python -m studies.{name} ")
    assert prov["git"]["repository"] == str(ROOT.resolve())
    assert prov["git"]["inside_repository"] is True        # the studies are repository code
    assert prov["machine"]["logical_cores"] >= 1 and prov["written"]


def test_studies_are_the_ones_the_readme_lists():
    text = (ROOT / "README.md").read_text()
    start = text.index("Studies (")
    paragraph = text[start:text.find("\n\n", start)]
    listed = [n for n in re.findall(r"`studies/(\w+)\.py`", paragraph) if n != "harness"]
    assert sorted(listed) == STUDIES
    for result in re.findall(r"`(results/[\w./]+)`", paragraph):
        assert (ROOT / result).is_file(), result
    assert len(STUDIES) == 13


@pytest.mark.parametrize("name", STUDIES)
def test_study_help(name, tmp_path):
    out = "\n".join(_run([f"studies.{name}", "--help"], tmp_path, timeout=120))
    assert "--out" in out and "--size" in out


def test_the_package_never_imports_studies():
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "loihi_snn").rglob("*.py")
            if re.search(r"^\s*(from|import)\s+studies\b", p.read_text(), re.M)]
    assert hits == []


def _result(path: Path) -> dict:
    doc = json.loads(path.read_text())
    assert path.with_suffix(".md").stat().st_size > 0
    return doc


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
@pytest.mark.parametrize("task", ["digits", "events"])
def test_cutoff_small(tmp_path, task):
    name = "cutoff" if task == "digits" else f"cutoff_{task}"
    lines = _run(["studies.cutoff", "--size", "small", "--task", task, "--out", str(tmp_path)],
                 tmp_path)
    assert lines[-1].startswith("cutoff: OK")
    r = _result(tmp_path / name / f"{name}.json")
    assert r["data"]["task"] == task
    rows = r["data"]["rows"]
    assert r["status"] == "complete" and [x["kind"] for x in rows] == ["tune", "tune", "seed"]
    assert sorted(r["data"]["tuning"]) == ["16", "4"]                 # every T tuned
    seed = rows[-1]
    assert set(seed["trained"]) == {"4", "16"} and seed["lava"]["equals_offline_rule"]
    assert 1 <= seed["mean_steps"] <= 16 and seed["cutoff_synops"] <= seed["synops_full_T"]
    assert (tmp_path / name / f"{name}.png").is_file()
    _check_provenance(r["provenance"], "cutoff")


def test_study_tasks_build_their_networks():
    """Every task of the cutoff and ternary studies (harness.TASKS; the MNIST-1D ones are
    too slow to train here, events runs end to end above) gives a valid config whose
    network takes the task's input and has one output per class; ternary's wide arm
    doubles every hidden layer; the full-size grids hold the task's learning rates."""
    import torch

    from loihi_snn.train.data import load_data
    from loihi_snn.train.models import build_model
    from studies import cutoff as C
    from studies import harness
    from studies import ternary as TR
    for task in harness.TASKS:
        for size in ("small", "full"):
            cfg = C.base_config(16, dict(C.SIZES[size], name=size), task)
            assert cfg.T == 16 and cfg.select == "last" and cfg.val_fraction == 0.1
        assert harness.task_grid(task, C.GRID)["lr"] == harness.TASKS[task]["lr"]
        small = dict(C.SIZES["small"], name="small")
        cfg = C.base_config(4, small, task)
        data = load_data(cfg)
        model = build_model(cfg.architecture, cfg.neuron, data.input_shape, data.num_classes)
        x = torch.from_numpy(data.train.inputs[:2]).float()
        assert model(x).shape == (2, data.num_classes, 4), task
        tsize = dict(TR.SIZES["small"], name="small", task=task)
        plain, wide = TR.base_config("binary", 4, tsize), TR.base_config("binary_wide", 4, tsize)
        assert plain.dataset == cfg.dataset and wide.neuron == plain.neuron
        outs = [(a.get("out"), b.get("out")) for a, b in zip(plain.architecture,
                                                             wide.architecture)]
        assert all(w == 2 * p for p, w in outs if p) and any(p for p, _ in outs), (task, outs)
        assert TR.base_config("authors", 4, tsize).neuron["surrogate"] == "ste"


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_ternary_small(tmp_path):
    lines = _run(["studies.ternary", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1].startswith("ternary: OK")
    r = _result(tmp_path / "ternary" / "ternary.json")
    rows = r["data"]["rows"]
    assert r["status"] == "complete" and len(rows) == 12          # 6 arms: tuned, then trained
    assert sorted(r["data"]["tuning"]) == sorted(f"{a}_T4" for a in r["data"]["arms"])
    for tuning in r["data"]["tuning"].values():                    # the grid and its choice
        assert tuning["choice"] == tuning["points"][0]["params"] and tuning["trainings"] == 1
    assert set(r["data"]["summary"]) == {"T4"} and len(r["data"]["summary"]["T4"]["arms"]) == 6
    assert (tmp_path / "ternary" / "ternary.png").is_file()
    _check_provenance(r["provenance"], "ternary")


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_rcs_small(tmp_path):
    """Both models (RCS weight 0 and 0.03) measured, Lava equal to the offline rule."""
    lines = _run(["studies.rcs", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1].startswith("rcs: OK")
    r = _result(tmp_path / "rcs" / "rcs.json")
    assert r["status"] == "complete"
    _check_provenance(r["provenance"], "rcs")
    data = r["data"]
    assert [s["weight"] for s in data["summary"]] == [0.0, 0.03] and len(data["rows"]) == 2
    for row in data["rows"]:
        assert row["lava"]["equals_offline_rule"]
        assert 1.0 <= row["mean_steps"] <= 16 and 0.0 <= row["cutoff_accuracy"] <= 1.0
        assert len(row["test_sweep"]) >= 2 and len(row["cs_per_layer"]) == 3
    assert "| RCS weight |" in (tmp_path / "rcs" / "rcs.md").read_text()


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_rcs_digits_small(tmp_path):
    """Three arms (no RCS, hidden layer only, every layer), each tuned then trained."""
    lines = _run(["studies.rcs_digits", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1].startswith("rcs_digits: OK")
    r = _result(tmp_path / "rcs_digits" / "rcs_digits.json")
    assert r["status"] == "complete"
    _check_provenance(r["provenance"], "rcs_digits")
    data = r["data"]
    assert sorted(data["tuning"]) == ["all_0.03", "hidden_0.03", "none"]
    evals = [x for x in data["rows"] if x["kind"] == "eval"]
    assert [(x["weight"], x["hidden_only"]) for x in evals] == [(0.0, True), (0.03, True),
                                                                (0.03, False)]
    assert all(x["lava"]["equals_offline_rule"] for x in evals)


@pytest.mark.slow
@pytest.mark.lava          # trains (and checks on Lava)
def test_lif_leak_small(tmp_path):
    """Two decays, each tuned then trained; Lava equal on the checked sample."""
    lines = _run(["studies.lif_leak", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1] == "lif_leak: OK"
    r = _result(tmp_path / "lif_leak" / "lif_leak.json")
    _check_provenance(r["provenance"], "lif_leak")
    assert sorted(r["data"]["tuning"]) == ["d0-soft-ff", "d0.1-soft-ff"]
    assert [x["decay"] for x in r["data"]["rows"] if x["kind"] == "eval"] == [0.0, 0.1]
    assert "long_delay_vs_no_leak" in r["data"]["summary"]["soft-ff"]["0.1"]


def test_reanalysis_small(tmp_path):
    """No training: paired intervals from the committed LIF-variant and ASA 2x2 rows."""
    lines = _run(["studies.reanalysis", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1] == "reanalysis: OK"
    r = _result(tmp_path / "reanalysis" / "reanalysis.json")
    _check_provenance(r["provenance"], "reanalysis")
    d = r["data"]
    assert set(d["lif"]) == {"lif_memory", "lif_patterns", "lif_stream", "lif_order"}
    assert d["lif"]["lif_patterns"]["leak_drop_pooled"]["n"] == 3
    assert set(d["asa_2x2"]) == {"0.5", "0.953", "interaction"}
    assert "asa" not in d       # the superseded first ASA design is not read


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_lif_variants_small(tmp_path):
    out = tmp_path / "lif_variants"
    lines = _run(["studies.lif_variants", "--size", "small", "--out", str(out)], tmp_path)
    assert lines[-1].startswith("lif variants: OK")
    r = _result(out / "lif_variants.json")
    assert r["complete"] and len(r["rows"]) == 16 and (out / "lif_variants.png").is_file()
    _check_provenance(r["provenance"], "lif_variants")
    # the tables rebuild from the JSON alone: the committed result (provenance record) and
    # a file of the layout before the provenance record (the distractor follow-up)
    for src, command in [("lif_variants.json", "python -m studies.lif_variants --size full"),
                         ("distractors/lif_variants.json",
                          "python tutorials/02_lif_variants.py --size full")]:
        rebuilt = tmp_path / "rebuilt" / src.replace("/", "_")
        _run(["studies.lif_variants", "--from-json",
              str(ROOT / "results" / "lif_variants" / src), "--out", str(rebuilt)], tmp_path)
        md = (rebuilt / "lif_variants.md").read_text()
        assert f"- command: `{command}" in md, md[:400]


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_asa_small(tmp_path):
    out = tmp_path / "asa"
    lines = _run(["studies.asa", "--size", "small", "--out", str(out)], tmp_path)
    assert lines[-1] == "asa: OK"
    r = _result(out / "asa.json")
    assert r["complete"] and len(r["rows"]) == 4
    assert all(row["lava_identical_output"] for row in r["rows"])
    _check_provenance(r["provenance"], "asa")
    # combining runs (e.g. one per noise rate) keeps every part's provenance record
    combined = tmp_path / "combined"
    _run(["studies.asa", "--combine", str(out), "--out", str(combined)], tmp_path)
    c = json.loads((combined / "asa.json").read_text())
    assert provenance.is_current(c["provenance"]) and len(c["provenance"]["parts"]) == 1
    assert c["rows"] == r["rows"]


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_asa_small_tuned_on_the_larger_task(tmp_path):
    """--task dot16 --tune: every arm tuned by the one protocol before its seeds train on
    the whole training split; the rows carry the chosen recipe, the report the tuning
    records and paired intervals."""
    out = tmp_path / "asa"
    lines = _run(["studies.asa", "--size", "small", "--task", "dot16", "--tune",
                  "--tune-splits", "1", "--arms", "gain,adaptive", "--map-bias", "0",
                  "--out", str(out)], tmp_path)
    assert lines[-1] == "asa: OK"
    r = _result(out / "asa.json")
    assert r["complete"] and r["task"] == "dot16"
    assert (r["data"]["height"], r["data"]["num_classes"], r["data"]["T"]) == (16, 8, 32)
    assert sorted(r["tuning"]) == ["adaptive@30", "gain@30"]
    for row in r["rows"]:
        choice = r["tuning"][f"{row['arm']}@30"]["choice"]
        assert (row["lr"], row["tau_grad"]) == (choice["lr"], choice["tau_grad"])
        assert row["validation_accuracy"] is None and row["lava_identical_output"]
    md = (out / "asa.md").read_text()
    assert "## Tuning" in md and "accuracy 95 % CI" in md and "(8 directions)" in md


def test_asa_tuning_grid_is_checked():
    from studies import asa
    assert asa.parse_grid("lr=0.003,0.01;tau_grad=0.25") == {"lr": [0.003, 0.01],
                                                             "tau_grad": [0.25]}
    for bad in ("momentum=0.9", "lr=fast", "lr=", ""):
        with pytest.raises(ValueError):
            asa.parse_grid(bad)


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_training_small(tmp_path):
    _run(["studies.training", "digits", "--size", "small", "--only", "hard reset",
          "--out", str(tmp_path)], tmp_path)
    r = _result(tmp_path / "training_digits" / "training_digits.json")
    assert r["status"] == "complete" and len(r["data"]["arms"]) == 1
    arm = r["data"]["arms"][0]
    assert arm["name"] == "new default with hard reset" and len(arm["revision"]) == 40
    _check_provenance(r["provenance"], "training")


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (and checks on Lava)
def test_nir_study_small(tmp_path):
    pytest.importorskip("snntorch", reason="snntorch (dev / nir extra) is not installed")
    pytest.importorskip("norse", reason="norse (dev / nir extra) is not installed")
    out = tmp_path / "nir"
    lines = _run(["studies.nir_study", "--size", "small", "--out", str(out)], tmp_path)
    assert lines[-1].startswith("digits_cuba: re-imported into snnTorch")
    r = _result(out / "nir_study.json")
    assert [x["network"] for x in r["imports"]] == ["snntorch_dense_leaky"]
    assert r["imports"][0]["lava_equals_emulator_spike_for_spike"]
    assert [x["network"] for x in r["exports"]] == ["digits_cuba"]
    _check_provenance(r["provenance"], "nir_study")
    assert (out / "models" / "snntorch_dense_leaky_seed0.nir").is_file()


@pytest.mark.slow
@pytest.mark.lava          # trains with SLAYER (ours) and with snnTorch and Norse
def test_peers_small(tmp_path):
    """Three arms (ours, snnTorch, Norse), each tuned by the one protocol, then one seed."""
    pytest.importorskip("snntorch", reason="snntorch (dev / nir extra) is not installed")
    pytest.importorskip("norse", reason="norse (dev / nir extra) is not installed")
    lines = _run(["studies.peers", "--size", "small", "--out", str(tmp_path)], tmp_path)
    assert lines[-1] == "peers: OK"
    r = _result(tmp_path / "peers" / "peers.json")
    _check_provenance(r["provenance"], "peers")
    rows = r["data"]["rows"]
    assert r["status"] == "complete" and [(x["kind"], x["arm"]) for x in rows] == [
        ("tune", "ours"), ("eval", "ours"), ("tune", "snntorch"), ("eval", "snntorch"),
        ("tune", "norse"), ("eval", "norse")]
    for tuning in r["data"]["tuning"].values():                    # the grid and its choice
        assert tuning["choice"] == {"lr": 0.005, "width": 0.1} and tuning["trainings"] == 1
    assert rows[1]["emulator_equals_torch"] is True
    assert (tmp_path / "peers" / "peers.png").is_file()


@pytest.mark.slow
@pytest.mark.lava          # trains (and checks attacked samples on Lava)
def test_lif_adversarial_small(tmp_path):
    """Three variants (one recurrent), each tuned then trained and attacked (random, FGSM,
    PGD); leak and recurrence compared paired per seed."""
    lines = _run(["studies.lif_adversarial", "--size", "small", "--out", str(tmp_path)],
                 tmp_path)
    assert lines[-1].startswith("lif_adversarial: OK")
    r = _result(tmp_path / "lif_adversarial" / "lif_adversarial.json")
    _check_provenance(r["provenance"], "lif_adversarial")
    assert r["status"] == "complete"
    assert sorted(r["data"]["tuning"]) == ["d0-soft-ff", "d0.1-soft-ff", "d0.1-soft-rec"]
    evals = [x for x in r["data"]["rows"] if x["kind"] == "eval"]
    assert [(x["decay"], x["recurrent"]) for x in evals] == [(0.0, False), (0.1, False),
                                                             (0.1, True)]
    for x in evals:
        assert sorted(x["attacks"]) == ["fgsm 0.02", "pgd 0.02", "random 0.02"]
        assert x["lava"]["equal"] == x["lava"]["samples"] == 1
    assert "pgd 0.02" in r["data"]["summary"]["leak_minus_no_leak"]["soft-ff"]
    assert "pgd 0.02" in r["data"]["summary"]["recurrent_minus_ff"]["d0.1-soft"]
    assert (tmp_path / "lif_adversarial" / "lif_adversarial.png").is_file()


@pytest.mark.lava  # builds a SLAYER network through the study (lava-dl)
def test_lif_adversarial_attacks_keep_the_budget():
    """Every attack moves exactly k entries per sample by +-1 (integers stay integers)."""
    import numpy as np
    import torch

    from studies import lif_adversarial as A
    torch.manual_seed(0)
    size = dict(A.SIZES["small"])
    model = A.build(0.1, "soft", size, (16,), 4)
    x = (np.random.default_rng(0).random((3, 16, 20)) < 0.2).astype(np.float32)
    labels = np.array([0, 1, 2])
    k = round(0.05 * 16 * 20)
    for kind in A.ATTACKS:
        xa = A.attack(model, x, labels, 20, kind, 0.05, np.random.default_rng(1))
        d = (xa - x).reshape(3, -1)
        assert np.all(np.isin(d, [-1.0, 0.0, 1.0])) and list((d != 0).sum(1)) == [k] * 3, kind

"""The one provenance record (loihi_snn.core.provenance): what it holds, that a dirty
work tree and code from outside the repository are said so, that older result files
still read, and that no committed result came from a dirty tree, from code outside the
repository or read runs from outside it (older files stay only in the LEGACY list, with
the reason)."""
from __future__ import annotations

import json
import subprocess

import pytest

from helpers import REPO_ROOT as ROOT
from loihi_snn.core import provenance as P


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd,
                   check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A one-commit git work tree holding code.py."""
    root = tmp_path / "repo"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "code.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("ignored/\n")
    _git(root, "add", "code.py", ".gitignore")
    _git(root, "commit", "-q", "-m", "one")
    return root


def test_record_holds_machine_revision_load_date():
    r = P.record("python -m studies.example --size small")
    assert r["schema"] == P.SCHEMA and r["command"] == "python -m studies.example --size small"
    m = r["machine"]
    assert {"cpu_model", "logical_cores", "usable_cores", "memory_bytes", "platform", "python",
            "gpus", "device", "torch_threads", "versions"} <= set(m)
    assert m["logical_cores"] >= 1 and m["memory_bytes"] > 0 and isinstance(m["gpus"], list)
    assert set(P.PACKAGES) <= set(m["versions"]) and m["versions"]["lava-nc"] == "0.10.0"
    g = r["git"]
    assert g["repository"] == str(ROOT.resolve()) and len(g["revision"]) == 40
    assert g["inside_repository"] is True           # loihi_snn is this checkout's
    assert isinstance(g["dirty"], bool) and g["clean"] == (not g["dirty"])
    assert len(r["load_average"]) == 3 and r["date"].endswith("+00:00")
    json.dumps(r)                                   # serialisable as it is
    lines = P.markdown_lines(r)
    assert lines[0] == "- command: `python -m studies.example --size small`"
    assert g["revision"][:12] in lines[1]


def test_clean_tree_has_no_problems(repo):
    g = P.git_state([str(repo / "code.py")], root=str(repo))
    assert g["clean"] and g["dirty"] is False and g["inside_repository"]
    assert P.problems({"schema": P.SCHEMA, "git": g}) == []


def test_dirty_tree_is_said(repo):
    (repo / "code.py").write_text("x = 2\n")
    (repo / "new_module.py").write_text("y = 1\n")        # untracked code counts
    (repo / "output.json").write_text("{}\n")             # untracked outputs do not
    g = P.git_state([str(repo / "code.py")], root=str(repo))
    assert g["dirty"] is True and not g["clean"]
    assert g["dirty_paths"] == ["code.py", "new_module.py"] and g["dirty_count"] == 2
    [problem] = P.problems({"schema": P.SCHEMA, "git": g})
    assert "uncommitted changes" in problem and "code.py" in problem
    assert "uncommitted changes in 2 paths" in P.markdown_lines({"schema": P.SCHEMA,
                                                                 "git": g})[1]


def test_code_outside_the_repository_is_said(repo, tmp_path):
    elsewhere = tmp_path / "script.py"
    elsewhere.write_text("pass\n")
    (repo / "ignored").mkdir()
    hidden = repo / "ignored" / "tool.py"             # inside the folder, but git-ignored
    hidden.write_text("pass\n")
    g = P.git_state([str(repo / "code.py"), str(elsewhere), str(hidden)], root=str(repo))
    assert g["inside_repository"] is False and not g["clean"] and g["dirty"] is False
    assert g["outside_paths"] == [str(elsewhere.resolve()), str(hidden.resolve())]
    [problem] = P.problems({"schema": P.SCHEMA, "git": g})
    assert problem.startswith("written by code outside the repository") and "script.py" in problem
    assert "outside the repository" in P.markdown_lines({"schema": P.SCHEMA, "git": g})[1]


def test_package_installed_outside_any_repository(tmp_path, monkeypatch):
    site = tmp_path / "site-packages" / "loihi_snn"
    site.mkdir(parents=True)
    monkeypatch.setattr(P, "_PACKAGE_DIR", str(site))
    assert P.repository_root() is None
    g = P.git_state([str(site)])
    assert g["revision"] is None and g["inside_repository"] is False and not g["clean"]
    assert len(P.problems({"schema": P.SCHEMA, "git": g})) == 3


def test_older_records_read_alike():
    results = {"command": "c", "date": "d",
               "git": {"revision": "a" * 40, "dirty": True, "dirty_paths": ["x.py"]},
               "machine": {"cores": 2, "cpu_model": "cpu", "loadavg": [1.0, 2.0, 3.0],
                           "platform": "p", "python": "3.10"}}
    nir_study = {"command": "c", "machine": {"git_revision": "abc (uncommitted changes)",
                                             "cores": 2, "cpu": "x86", "load_average": [1, 2, 3],
                                             "date": "d", "versions": {"nir": "1.0.8"}}}
    flat_asa = {"command": "c", "git_revision": "abc", "machine": "x86, 2 cores",
                "load_average_start": [1, 2, 3], "date": "d"}
    flat_lif = {"command": "c", "git": "abc", "machine": "x86, 2 cores",
                "load_before": "1.00 2.00 3.00", "date": "d"}
    card = {"command": "c", "created": "d",
            "machine": {"cpu": "AMD", "logical_cores": 2, "platform": "p", "python": "3.10"},
            "software": {"lava-nc": "0.10.0"}}
    for doc, dirty in ((results, True), (nir_study, True), (flat_asa, False), (flat_lif, None),
                       (card, None)):
        p = P.result_provenance(doc)
        assert p["schema"].startswith("legacy:") and p["command"] == "c"
        assert p["git"]["dirty"] is dirty, doc
        assert p["machine"]["cpu_model"] and P.problems(p)
        assert P.markdown_lines(p)[0] == "- command: `c`" and P.normalise(p) == p
        assert P.markdown_lines(p) == P.markdown_lines(doc)
    assert P.result_provenance({"provenance": results})["machine"]["logical_cores"] == 2
    assert P.result_provenance(flat_lif)["load_average"] == [1.0, 2.0, 3.0]


def test_combine_keeps_the_parts_and_the_worst_state(repo):
    clean = {"schema": P.SCHEMA, "command": "a", "date": "2025-01-01",
             "git": P.git_state([str(repo / "code.py")], root=str(repo))}
    legacy = {"command": "b", "git_revision": "abc (with uncommitted changes)",
              "date": "2025-01-02", "machine": "x86"}
    c = P.combine([clean, legacy], "merge")
    assert c["schema"] == P.SCHEMA and c["parts"] == [clean, legacy]
    assert c["git"]["dirty"] is True and not c["git"]["clean"]
    assert c["date"] == "2025-01-01 .. 2025-01-02" and P.problems(c)
    assert P.combine([clean], "one")["git"]["clean"]


def _committed_results():
    try:
        out = subprocess.run(["git", "ls-files", "results"], cwd=str(ROOT), capture_output=True,
                             text=True, timeout=30, check=True).stdout.split()
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git not available")
    return [ROOT / f for f in out if f.endswith(".json") and not f.endswith("README_NUMBERS.json")]


#: committed result files whose provenance does not name clean, committed code inside the
#: repository, each with why it stays for now.  The list only shrinks: a file re-run from a
#: clean tree must leave it (test_legacy_list_only_names_files_with_problems), and no new
#: file may join it without a reason written here.
LEGACY = {
    "results/asa/asa.json": "ASA study before issue 35 (uncommitted tree; models read from "
                            "/work/helpers); not re-run (the 2x2 design is results/asa/gain2x2)",
    "results/asa/parts/noise_5/asa.json": "part of results/asa/asa.json (same reason)",
    "results/asa/parts/noise_20/asa.json": "part of results/asa/asa.json (same reason)",
    "results/asa/parts/noise_50/asa.json": "part of results/asa/asa.json (same reason)",
    "results/asa/parts/noise_5_seeds_3_4/asa.json": "part of results/asa/asa.json",
    "results/asa/parts/noise_20_seeds_3_4/asa.json": "part of results/asa/asa.json",
    "results/asa/parts/noise_50_seeds_3_4/asa.json": "part of results/asa/asa.json",
    "results/asa/epochs24_noise20/asa.json": "24-epoch ASA follow-up: flat provenance "
                                             "(inside the repository not recorded), models "
                                             "read from /work/helpers; not re-run",
    "results/asa/epochs24_noise20/parts/seed_0/asa.json": "part of epochs24_noise20",
    "results/asa/epochs24_noise20/parts/seed_1/asa.json": "part of epochs24_noise20",
    "results/asa/epochs24_noise20/parts/seed_2/asa.json": "part of epochs24_noise20",
    "results/lif_variants/distractors/lif_variants.json": "LIF variants distractor follow-up "
                                                          "(flat provenance); not re-run",
    "results/nir/nir_study.json": "NIR study (older record without a revision); its "
                                  "figures are not quoted in the README until it is re-run",
    "results/rcs/first_recipe/rcs.json": "the confounded first RCS recipe, kept for the "
                                         "diagnosis (uncommitted tree)",
    "results/rcs_weak/rcs_weak.json": "superseded: the confounded first RCS recipe "
                                      "(results/rcs_weak/README.md); kept as a record",
    "results/ternary/v1_equal_surrogate/ternary.json": "superseded ternary design (one "
                                                       "untuned surrogate for every arm; "
                                                       "uncommitted tree)",
    "results/ternary_digits_tuned/ternary_digits_tuned.json": "superseded ternary arm (binary-"
                                                              "tuned neuron; uncommitted tree)",
    "results/ternary_events_tuned/ternary_events_tuned.json": "superseded ternary arm on events "
                                                              "(uncommitted tree); the events "
                                                              "task is not re-run",
    "results/training_digits/training_digits.json": "digits recipe ladder (uncommitted tree)",
}

#: absolute paths a command may name without reading code or data from outside the
#: repository: scratch folders for outputs and work
_SCRATCH = ("/tmp/", "/dev/null")


def outside_paths_in_command(prov: dict, root=ROOT) -> list:
    """Absolute paths in the recorded command that lie neither in the repository that
    ran (``git.repository``) nor in this checkout nor in a scratch folder: a result
    that read runs or code from elsewhere (e.g. another agent's folder)."""
    import re
    command = str(prov.get("command") or "")
    repos = [str(root.resolve())] + [r for r in [(prov.get("git") or {}).get("repository")] if r]
    out = []
    for path in re.findall(r"(?<![\w.])/[\w.+-]+(?:/[\w.+-]+)+", command):
        if path.startswith(_SCRATCH) or any(path == r or path.startswith(r + "/")
                                            for r in repos):
            continue
        out.append(path)
    return out


def result_file_problems(path) -> list:
    """Why one result file does not name clean, committed code inside the repository:
    :func:`loihi_snn.core.provenance.problems` (dirty tree, code outside the repository,
    no revision, or an older record that did not say) plus absolute paths outside the
    repository in its command."""
    doc = json.loads(path.read_text())
    prov = P.result_provenance(doc)
    out = list(P.problems(prov))
    outside = outside_paths_in_command(prov)
    if outside:
        out.append("its command reads from outside the repository: " + ", ".join(outside[:3]))
    return out


def test_no_committed_result_comes_from_a_dirty_tree_or_outside_code():
    """Every committed result file under results/ was written from a clean work tree, by
    code inside the repository, reading nothing from outside it -- or is listed in
    :data:`LEGACY` with the reason."""
    files = _committed_results()
    assert files
    offenders = {str(p.relative_to(ROOT)): result_file_problems(p) for p in files}
    assert {k: v for k, v in offenders.items() if v and k not in LEGACY} == {}


def test_legacy_list_only_names_files_with_problems():
    """A LEGACY entry whose file is gone or is now clean must leave the list (so it only
    shrinks), and every reason is written out."""
    committed = {str(p.relative_to(ROOT)) for p in _committed_results()}
    for path, reason in LEGACY.items():
        assert path in committed, f"{path}: listed as legacy but not a committed result"
        assert result_file_problems(ROOT / path), f"{path}: clean now; remove it from LEGACY"
        assert len(reason) > 10, path


def _inputs(node) -> list:
    """The repository paths a result says it read (``data.inputs``, ``data.inputs_2x2``)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [p for v in node.values() for p in _inputs(v)]
    if isinstance(node, (list, tuple)):
        return [p for v in node for p in _inputs(v)]
    return []


def test_the_readme_quotes_no_legacy_result():
    """Every figure the README quotes (results/README_NUMBERS.json) comes from a file written
    from clean committed code inside the repository: none from a :data:`LEGACY` file, and
    none from a result that re-analyses one (the files named in its ``data.inputs``)."""
    figures = json.loads((ROOT / "results" / "README_NUMBERS.json").read_text())["figures"]
    sources_of = {}                 # result file -> itself and the files it re-analyses
    for name in {f["file"] for f in figures}:
        sources_of[name] = [name]
        if name.startswith("results/") and name.endswith(".json"):
            data = json.loads((ROOT / name).read_text()).get("data") or {}
            sources_of[name] += [p for k, v in data.items() if k.startswith("inputs")
                                 for p in _inputs(v)]
    bad = {}
    for f in figures:
        if not f.get("readme"):
            continue
        for src in sources_of[f["file"]]:
            if src in LEGACY:
                bad.setdefault(src, []).append(f"{f['figure']} ({f['file']})")
    assert bad == {}, "README figures from legacy results: " + json.dumps(bad)[:2000]


def test_the_problems_catch_dirty_trees_outside_code_and_outside_inputs(repo, tmp_path):
    clean = {"schema": P.SCHEMA, "command": "python -m studies.cutoff --out /tmp/x",
             "git": P.git_state([str(repo / "code.py")], root=str(repo))}
    path = tmp_path / "r.json"
    path.write_text(json.dumps({"provenance": clean}))
    assert result_file_problems(path) == []
    reads = dict(clean, command="python tools/x.py --collect a=/work/helpers/lead/runs/a")
    path.write_text(json.dumps({"provenance": reads}))
    [problem] = result_file_problems(path)
    assert "outside the repository: /work/helpers/lead/runs/a" in problem
    (repo / "code.py").write_text("x = 3\n")
    dirty = dict(clean, git=P.git_state([str(repo / "code.py")], root=str(repo)))
    path.write_text(json.dumps({"provenance": dirty}))
    assert any("uncommitted" in p for p in result_file_problems(path))
    legacy = {"command": "c", "git_revision": "abc", "machine": "x86", "date": "d"}
    path.write_text(json.dumps(legacy))
    assert any("inside the repository" in p for p in result_file_problems(path))


def test_every_committed_result_has_a_readable_provenance():
    for path in _committed_results():
        prov = P.result_provenance(json.loads(path.read_text()))
        assert prov["command"], path
        assert P.markdown_lines(prov)


def test_committed_model_cards_render_with_their_provenance():
    from loihi_snn.train import cards
    for card_path in sorted((ROOT / "netx_models").glob("*/model_card.json")):
        card = json.loads(card_path.read_text())
        md = cards.render_markdown(card)
        cpu = cards.card_provenance(card)["machine"]["cpu_model"]     # either card version
        assert "## Provenance" in md and cpu and cpu in md, card_path

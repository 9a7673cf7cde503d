"""Every figure the README quotes stands in a committed result file.

``results/README_NUMBERS.json`` lists the quoted figures::

    {"figures": [
        {"figure": "0.947",                               # the text as the README shows it
         "file": "results/ternary/ternary.json",          # repository-relative result file
         "key": "data.summary.T16.arms.ternary_alpha.accuracy.mean",
         "format": ".3f",                                 # optional: format(value, spec)
         "scale": 1,                                      # optional: value * scale first
         "match": "equal",                                # or "contains": figure in str(value)
         "readme": true,                                  # optional: the README must show it
         "what": "digits T=16 ternary (learned amplitude) accuracy"}]}

``key`` is a dot path into the JSON (list items by index, e.g. ``tables.0.rows.2.4``).
With ``format`` the value (times ``scale``) is formatted and must equal ``figure``;
without it ``str(value)`` must equal (``match: "equal"``) or contain (``"contains"``)
the figure.  ``readme: true`` also requires the figure to appear in README.md, so a
number cannot silently change on one side only.
"""
from __future__ import annotations

import json
import subprocess

import pytest

from helpers import REPO_ROOT as ROOT

LIST = ROOT / "results" / "README_NUMBERS.json"


def _entries():
    return json.loads(LIST.read_text())["figures"] if LIST.is_file() else []


def _lookup(doc, key: str):
    node = doc
    for part in key.split("."):
        if isinstance(node, list):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"{key!r}: no {part!r}")
    return node


def _rendered(entry, value) -> str:
    if "format" in entry:
        return format(float(value) * float(entry.get("scale", 1)), entry["format"])
    return str(value)


def test_list_is_well_formed():
    entries = _entries()
    assert entries, f"{LIST} lists no figures"
    allowed = {"figure", "file", "key", "format", "scale", "match", "readme", "what"}
    for e in entries:
        assert {"figure", "file", "key"} <= set(e) <= allowed, e
        assert e.get("match", "equal") in ("equal", "contains"), e
        assert not e["file"].startswith("/") and ".." not in e["file"], e


ENTRIES = _entries()


@pytest.mark.parametrize("entry", ENTRIES, ids=[f"{e['figure']}@{e['file']}:{e['key']}"
                                                for e in ENTRIES])
def test_figure_stands_in_its_result_file(entry):
    path = ROOT / entry["file"]
    assert path.is_file(), f"{entry['file']}: result file missing"
    value = _lookup(json.loads(path.read_text()), entry["key"])
    shown = _rendered(entry, value)
    if entry.get("match", "equal") == "contains":
        assert entry["figure"] in shown, (entry, shown)
    else:
        assert shown == entry["figure"], (entry, shown)
    if entry.get("readme"):
        assert entry["figure"] in (ROOT / "README.md").read_text(), \
            f"README.md does not show {entry['figure']!r} ({entry.get('what', entry['key'])})"


def test_result_files_are_committed():
    """Each listed file is tracked by git (when the checkout is a git work tree)."""
    files = sorted({e["file"] for e in _entries()})
    try:
        proc = subprocess.run(["git", "ls-files", "--", *files], cwd=str(ROOT),
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("git not available")
    if proc.returncode != 0:
        pytest.skip("not a git work tree")
    tracked = set(proc.stdout.split())
    assert [f for f in files if f not in tracked] == []

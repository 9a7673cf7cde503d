"""Every tutorial runs end to end at ``--size small`` in a fresh process (as a user would).

The tutorials are short walk-throughs; the studies behind the README's figures are
``studies/`` (tests/e2e/test_studies.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from helpers import REPO_ROOT as ROOT

TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))


# the last line a tutorial prints when its check passed (tutorials not listed: exit status 0)
FINAL_LINE = {"01_quickstart": "quickstart: OK", "02_lif_variants": "lif variants: OK",
              "03_ternary": "ternary: OK", "04_asa": "asa: OK", "05_cutoff": "cutoff: OK",
              "06_deploy_slayer_network": "parity: OK",
              "08_rcs": "rcs: OK", "09_nir": "nir: OK"}


def _env(tmp=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if tmp is not None:
        env["TMPDIR"] = str(tmp)       # tutorials write to a temporary directory by default
    return env


def _readme_tutorial_paragraph() -> str:
    """README's paragraph that lists the tutorials ('Tutorials (each runs in CI ...')."""
    text = (ROOT / "README.md").read_text()
    start = text.index("Tutorials (each runs in CI")
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else None]


def test_readme_lists_exactly_the_tutorials_ci_runs():
    """The README's tutorial list names every tutorial file and no other, each result file
    it cites exists, and every tutorial is a case of test_tutorial_small (the CI run) with
    a check of the line it ends on where it prints one."""
    paragraph = _readme_tutorial_paragraph()
    listed = re.findall(r"`(\d\d_\w+\.py)`", paragraph)
    assert len(listed) == len(set(listed)), listed
    assert sorted(listed) == [t.name for t in TUTORIALS]
    for result in re.findall(r"`(results/[\w./]+)`", paragraph):
        assert (ROOT / result).is_file() or (ROOT / "tutorials" / result).is_file(), result
    small = next(m for m in test_tutorial_small.pytestmark if m.name == "parametrize")
    assert list(small.args[1]) == TUTORIALS and len(TUTORIALS) >= 8
    assert set(FINAL_LINE) <= {t.stem for t in TUTORIALS}


def _help(script) -> str:
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True,
                          text=True, timeout=60, env=_env(), cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("script", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_help(script):
    out = _help(script)
    assert "--size" in out and "small" in out and "full" in out


@pytest.mark.slow
@pytest.mark.lava          # the tutorials train with SLAYER and check on Lava
@pytest.mark.parametrize("script", TUTORIALS, ids=[t.stem for t in TUTORIALS])
def test_tutorial_small(script, tmp_path):
    cmd = [sys.executable, str(script), "--size", "small"]
    if "--out" in _help(script):          # keep results out of the checkout
        cmd += ["--out", str(tmp_path / "out")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_env(tmp_path),
                          cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    if script.stem in FINAL_LINE:
        last = proc.stdout.strip().splitlines()[-1]
        assert last.startswith(FINAL_LINE[script.stem]), proc.stdout[-2000:]

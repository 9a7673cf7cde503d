"""Running the ``loihi-snn`` CLI in a fresh interpreter and checking its error lines."""
from __future__ import annotations

import os
import subprocess
import sys

from helpers.paths import REPO_ROOT


def cli(*args, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m loihi_snn.app.cli ARGS`` in a fresh interpreter (cwd: repo root)."""
    env = dict(os.environ,
               PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "loihi_snn.app.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO_ROOT),
                          env=env)


def assert_one_error_line(proc: subprocess.CompletedProcess, *words: str) -> str:
    """Exit status 2, stderr is exactly one line 'error: ...', no traceback."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    lines = proc.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    assert lines[0].startswith("error: "), lines[0]
    for w in words:
        assert w in lines[0], f"{w!r} not in {lines[0]!r}"
    return lines[0]

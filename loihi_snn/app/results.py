"""Write a study's or a benchmark's result as ``results/<name>/<name>.json`` + ``.md``.

Every number the README quotes must stand in such a file, next to how it was made: the
provenance record of :mod:`loihi_snn.core.provenance` (command, git revision, whether
the work tree was clean and the code ran from inside it, machine, load average, UTC
date).  Usage::

    from loihi_snn.app.results import Table, write_result

    table = Table("accuracy per arm", ["arm", "accuracy", "± std"],
                  [["binary", 0.93, 0.01], ["ternary", 0.95, 0.01]])
    json_path, md_path = write_result(
        "ternary",                                   # -> results/ternary/ternary.{json,md}
        title="Binary vs ternary spikes",
        tables=[table],
        data={"summary": {...}, "rows": [...]},      # anything JSON-serialisable
        text=["Verdict: ...", "Method: ..."],        # Markdown paragraphs, before the tables
        status="partial")                            # "complete" (default) once done

Call it again as results come in: each call rewrites both files atomically (a reader
never sees a half-written file).  For a long run take ``started = provenance()`` at the
start and pass ``started=started`` to every call, so the revision is the one that ran.

The JSON holds ``{"name", "title", "status", "provenance": {<the record of
loihi_snn.core.provenance>, written, load_average_at_write}, "text", "tables": [{title,
columns, rows, note}], "data"}``; the Markdown shows the same provenance, the text and
the tables.  (Files written before that record existed hold ``git: {revision, dirty,
dirty_paths}, machine: {cores, cpu_model, loadavg, ...}, loadavg_at_write``;
:func:`loihi_snn.core.provenance.normalise` reads both.)  A figure quoted
elsewhere is looked up by a JSON key path into this file (see
``tests/unit/test_readme_numbers.py``).

``results_dir`` defaults to ``<repository root>/results`` (the git work tree that
holds the current directory, else the current directory).
"""
from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from loihi_snn.core import provenance as _provenance
from loihi_snn.core.files import atomic_write_text

__all__ = ["Table", "mean_ci", "provenance", "results_root", "write_result"]

# two-sided 95 % quantiles of Student's t, df = 1 .. 30 (beyond: the normal 1.96)
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def mean_ci(values: Sequence[float]) -> Dict[str, Any]:
    """Mean, sample std and the 95 % t-interval of the mean of ``values`` (e.g. per-seed
    paired differences).

    Returns ``{"n", "mean", "std", "ci95": [low, high]}``; with one value std is 0 and
    the interval is ``[nan, nan]``; non-finite values are left out (``n`` counts the rest).
    """
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(vals)
    if n == 0:
        return {"n": 0, "mean": float("nan"), "std": float("nan"),
                "ci95": [float("nan"), float("nan")]}
    mean = sum(vals) / n
    if n == 1:
        return {"n": 1, "mean": mean, "std": 0.0, "ci95": [float("nan"), float("nan")]}
    std = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1))
    half = (_T95[n - 2] if n - 1 <= len(_T95) else 1.96) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


@dataclass
class Table:
    """One table of a result: a title, column names and rows (lists of cells).

    Cells may be numbers, strings or None; floats are shown in Markdown with
    ``float_format`` (default 3 significant decimals) and stored in the JSON as they are.
    """

    title: str
    columns: List[str]
    rows: List[List[Any]] = field(default_factory=list)
    float_format: str = ".3f"
    note: str = ""

    def to_dict(self) -> Dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows], "note": self.note}

    def markdown(self) -> str:
        """The table as GitHub Markdown (title as a level-2 heading, note below)."""
        def cell(v: Any) -> str:
            if isinstance(v, float):
                return "nan" if math.isnan(v) else format(v, self.float_format)
            return "" if v is None else str(v)
        lines = [f"## {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(f"table {self.title!r}: a row has {len(row)} cells for "
                                 f"{len(self.columns)} columns: {row!r}")
            lines.append("| " + " | ".join(cell(v) for v in row) + " |")
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


def results_root() -> str:
    """``<git work tree of the current directory>/results``, else ``./results``."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        top = ""
    return os.path.join(top or os.getcwd(), "results")


def provenance(command: Optional[str] = None) -> Dict[str, Any]:
    """The provenance record now (:func:`loihi_snn.core.provenance.record`): command
    (default ``sys.argv``), git state of the code that ran, machine, load, UTC date."""
    return _provenance.record(command)


def _json_default(o: Any) -> Any:
    try:
        import numpy as np          # numpy scalars and arrays in study data
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:             # pragma: no cover - numpy is a dependency
        pass
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def write_result(name: str, *, title: str, tables: Sequence[Table] = (),
                 data: Optional[Dict[str, Any]] = None, text: Sequence[str] = (),
                 command: Optional[str] = None, status: str = "complete",
                 results_dir: Optional[str] = None,
                 started: Optional[Dict[str, Any]] = None) -> Tuple[str, str]:
    """Write ``<results_dir>/<name>/<name>.json`` and ``.md``; returns both paths.

    Args:
        name: result name (a file name without extension; also the folder).
        title: the Markdown heading.
        tables: :class:`Table` objects, shown in order after ``text``.
        data: any JSON-serialisable payload (numpy scalars/arrays allowed), e.g. the
            per-seed rows and the summary the tables were made from.
        text: Markdown paragraphs shown after the provenance.
        command: the command line that produced the result (default ``sys.argv``).
        status: ``"complete"`` or ``"partial"`` (a study still running).
        results_dir: default :func:`results_root`.
        started: :func:`provenance` taken when the study started (recommended for
            anything that runs long: the git revision then names the code that ran,
            even if commits land while it runs); recorded as it is, plus ``written``
            (date) and ``load_average_at_write``.  None: taken now.
    """
    if not name or os.sep in name or name.startswith("."):
        raise ValueError(f"result name must be a plain file name, got {name!r}")
    if status not in ("complete", "partial"):
        raise ValueError(f"status must be 'complete' or 'partial', got {status!r}")
    folder = os.path.join(results_dir or results_root(), name)
    prov = dict(started) if started is not None else provenance(command)
    if command is not None:
        prov["command"] = command
    prov["written"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    prov["load_average_at_write"] = _provenance.load_average()
    doc = {"name": name, "title": title, "status": status, "provenance": prov,
           "text": list(text), "tables": [t.to_dict() for t in tables], "data": data or {}}
    json_text = json.dumps(doc, indent=2, default=_json_default, allow_nan=True) + "\n"
    load = prov["load_average_at_write"]
    md = [f"# {title}", "", *_provenance.markdown_lines(prov),
          f"- written: {prov['written']}, load average then "
          f"{', '.join(map(str, load)) if load else 'unknown'}",
          f"- status: {status}", ""]
    for para in text:
        md += [para, ""]
    for t in tables:
        md += [t.markdown(), ""]
    json_path = os.path.join(folder, f"{name}.json")
    md_path = os.path.join(folder, f"{name}.md")
    atomic_write_text(json_path, json_text)
    atomic_write_text(md_path, "\n".join(md).rstrip() + "\n")
    return json_path, md_path

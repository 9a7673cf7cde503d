"""Where a result came from: the one provenance record of results, model cards, benchmarks
and studies.

:func:`record` takes it (at the start of a run, so that the revision is the code that
ran)::

    {"schema": "loihi_snn.provenance/1",
     "command": "python -m studies.cutoff --size full",
     "date": "2025-01-31T12:00:00+00:00",                 # UTC
     "git": {"repository": "/path/to/checkout",          # the work tree of the code, or None
             "revision": "<40 hex>" or None,
             "dirty": False,                              # tracked changes / untracked .py
             "dirty_paths": [...],                        # at most 50 of them
             "dirty_count": 0,
             "inside_repository": True,                   # the code that ran is in the tree
             "outside_paths": [],                         # what ran from elsewhere
             "clean": True},                              # revision known, not dirty, inside
     "machine": {"cpu_model", "logical_cores", "usable_cores", "memory_bytes", "platform",
                 "python", "gpus": [...], "device", "torch_threads",
                 "versions": {"loihi-snn", "numpy", "torch", "lava-nc", "lava-dl", "h5py", ...}},
     "load_average": [1, 5, 15 min]}

"The code that ran" is the ``loihi_snn`` package and the main script (``__main__``;
installed entry points under the interpreter's prefix do not count): a record taken
from a package installed elsewhere, or from a script outside the work tree or
git-ignored, says so in ``inside_repository`` / ``outside_paths``.  A work tree with
changes to tracked files, or with untracked Python files (which the code may import),
is ``dirty`` and names the paths.

:func:`problems` says, in one line each, why a record does not name the code that
produced a result (dirty tree, outside the repository, no revision); the result-file
test applies it to every committed result written with this schema.
:func:`normalise` reads the older, differently keyed provenance blocks of committed
result files (``app.results`` before this module, the NIR study's ``machine``, the LIF
variants and ASA studies' flat keys, bench_runtime's ``machine``, model cards'
``machine``/``software``) into the same shape, so a reader handles every file alike;
:func:`markdown_lines` renders any of them.
"""
from __future__ import annotations

import datetime
import os
import platform
import shlex
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Dict, Iterable, List, Optional, Sequence

__all__ = ["SCHEMA", "PACKAGES", "combine", "git_state", "is_current", "load_average",
           "machine", "markdown_lines", "normalise", "problems", "record", "repository_root",
           "result_provenance"]

#: the schema tag of a record taken by :func:`record`
SCHEMA = "loihi_snn.provenance/1"
#: distributions whose versions every record names (more with ``packages=``)
PACKAGES = ("loihi-snn", "numpy", "torch", "lava-nc", "lava-dl", "h5py")
#: most dirty paths a record lists (``dirty_count`` has them all)
MAX_PATHS = 50

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_git(root: Optional[str], *args: str) -> Optional[str]:
    try:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, timeout=20,
                              cwd=root)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def repository_root(path: Optional[str] = None) -> Optional[str]:
    """The git work tree that holds ``path`` (default: the ``loihi_snn`` package), or None."""
    where = path or _PACKAGE_DIR
    if not os.path.isdir(where):
        where = os.path.dirname(where)
    top = _run_git(where, "rev-parse", "--show-toplevel")
    return os.path.realpath(top.strip()) if top and top.strip() else None


def _code_paths() -> List[str]:
    """The ``loihi_snn`` package folder and the main script, when it is a file that is not
    an installed entry point (under the interpreter's prefix)."""
    paths = [_PACKAGE_DIR]
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and os.path.isfile(main):
        main = os.path.realpath(main)
        prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
        if not any(main.startswith(p + os.sep) for p in prefixes):
            paths.append(main)
    return paths


def _outside(root: Optional[str], paths: Iterable[str]) -> List[str]:
    """Those of ``paths`` that are not in the work tree ``root`` (or git-ignored there)."""
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if root is None or not (real == root or real.startswith(root + os.sep)):
            out.append(real)
            continue
        rel = os.path.relpath(real, root)
        if rel != "." and _run_git(root, "check-ignore", "-q", rel) is not None:
            out.append(real)          # check-ignore exits 0 when the path is ignored
    return out


def _dirty_paths(root: str) -> Optional[List[str]]:
    """Tracked files that differ from HEAD (staged or not) and untracked Python files
    (code the run may import), repository-relative; None when git cannot tell."""
    status = _run_git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all")
    if status is None:
        return None
    fields = status.split("\0")
    paths, i = [], 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if "R" in code or "C" in code:
            i += 1                     # -z: the rename's source path follows
        if code == "??" and not (path.endswith(".py") or path.startswith("loihi_snn/")):
            continue                   # untracked outputs, data, notes: not code
        if code == "!!":
            continue
        paths.append(path)
    return sorted(set(paths))


def git_state(code_paths: Optional[Sequence[str]] = None,
              root: Optional[str] = None) -> Dict[str, Any]:
    """The ``git`` block of a record (see the module docstring) for the work tree that
    holds the ``loihi_snn`` package (or ``root``); ``code_paths``: what ran (default the
    package and the main script)."""
    root = root or repository_root()
    paths = list(code_paths) if code_paths is not None else _code_paths()
    outside = _outside(root, paths)
    rev = _run_git(root, "rev-parse", "HEAD") if root else None
    rev = rev.strip() if rev and rev.strip() else None
    dirty_paths = _dirty_paths(root) if root else None
    dirty = None if dirty_paths is None else bool(dirty_paths)
    return {"repository": root, "revision": rev, "dirty": dirty,
            "dirty_paths": (dirty_paths or [])[:MAX_PATHS],
            "dirty_count": len(dirty_paths or []),
            "inside_repository": not outside, "outside_paths": outside,
            "clean": bool(rev) and dirty is False and not outside}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> Optional[int]:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _gpus() -> List[str]:
    """GPU models from the NVIDIA driver's /proc files (no CUDA context is created: a
    record taken before Lava forks must not initialise CUDA), else from torch when this
    process already initialised CUDA."""
    names = []
    base = "/proc/driver/nvidia/gpus"
    try:
        for entry in sorted(os.listdir(base)):
            try:
                with open(os.path.join(base, entry, "information"), encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("Model:"):
                            names.append(line.split(":", 1)[1].strip())
            except OSError:
                continue
    except OSError:
        pass
    torch = sys.modules.get("torch")
    if not names and torch is not None:
        try:
            if torch.cuda.is_initialized():
                names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        except Exception:           # pragma: no cover - a broken CUDA install
            pass
    return names


def _version(dist: str) -> Optional[str]:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def load_average() -> Optional[List[float]]:
    """``os.getloadavg()`` rounded to 2 decimals (1, 5, 15 min), or None."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def machine(device: Optional[str] = None, packages: Sequence[str] = ()) -> Dict[str, Any]:
    """The ``machine`` block: CPU model, logical and usable cores, memory, OS, Python, the
    GPUs, torch's threads (when torch is imported), the device a run used (``device``)
    and the versions of :data:`PACKAGES` plus ``packages``."""
    torch = sys.modules.get("torch")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {"cpu_model": _cpu_model(), "logical_cores": os.cpu_count(), "usable_cores": usable,
            "memory_bytes": _memory_bytes(), "platform": platform.platform(),
            "python": platform.python_version(), "gpus": _gpus(), "device": device,
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "versions": {p: _version(p) for p in dict.fromkeys([*PACKAGES, *packages])}}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def record(command: Optional[str] = None, *, device: Optional[str] = None,
           packages: Sequence[str] = (), code_paths: Optional[Sequence[str]] = None
           ) -> Dict[str, Any]:
    """The provenance record now: command (default ``sys.argv``), UTC date, git state of
    the code that ran, machine, load average (see the module docstring)."""
    if command is None:
        command = " ".join(shlex.quote(a) for a in [os.path.basename(sys.executable)] + sys.argv)
    return {"schema": SCHEMA, "command": command, "date": _now(),
            "git": git_state(code_paths), "machine": machine(device, packages),
            "load_average": load_average()}


def is_current(prov: Any) -> bool:
    """Whether ``prov`` is a record of this schema (:data:`SCHEMA`)."""
    return isinstance(prov, dict) and prov.get("schema") == SCHEMA


def problems(prov: Dict[str, Any]) -> List[str]:
    """Why ``prov`` does not name the code that made the result, one line each; [] when
    it was taken from a clean work tree with a known revision, all code inside it.
    Works on :func:`normalise`'d older records too (unknown fields are reported)."""
    git = prov.get("git") or {}
    out = []
    if not git.get("revision"):
        out.append("no git revision recorded (not run from a git work tree)")
    if git.get("dirty") is None:
        out.append("unknown whether the work tree had uncommitted changes")
    elif git["dirty"]:
        paths = git.get("dirty_paths") or []
        count = git.get("dirty_count", len(paths))
        shown = ", ".join(paths[:5]) + (", ..." if count > 5 else "")
        out.append("written from a work tree with uncommitted changes"
                   + (f" ({count} path{'s' if count != 1 else ''}: {shown})" if count else ""))
    inside = git.get("inside_repository")
    if inside is False:
        out.append("written by code outside the repository ("
                   + ", ".join(git.get("outside_paths") or ["?"]) + ")")
    elif inside is None:
        out.append("unknown whether the code ran from inside the repository")
    return out


def combine(records: Sequence[Dict[str, Any]], command: str) -> Dict[str, Any]:
    """One record for a result merged from several runs (``parts`` keeps each): the
    revisions joined, dirty / outside if any part was, dates as a range."""
    recs = [normalise(r) for r in records]
    gits = [r.get("git") or {} for r in recs]
    dirty_paths = sorted({p for g in gits for p in g.get("dirty_paths") or []})
    dirty = [g.get("dirty") for g in gits]
    inside = [g.get("inside_repository") for g in gits]
    revs = list(dict.fromkeys(g.get("revision") or "unknown" for g in gits))
    dates = sorted(str(r.get("date")) for r in recs if r.get("date"))
    git = {"repository": next((g.get("repository") for g in gits if g.get("repository")), None),
           "revision": ", ".join(revs) if revs != ["unknown"] else None,
           "dirty": True if any(dirty) else None if None in dirty else False,
           "dirty_paths": dirty_paths[:MAX_PATHS], "dirty_count": len(dirty_paths),
           "inside_repository": False if False in inside else None if None in inside else True,
           "outside_paths": sorted({p for g in gits for p in g.get("outside_paths") or []})}
    git["clean"] = bool(git["revision"]) and git["dirty"] is False and \
        git["inside_repository"] is True and len(revs) == 1
    return {"schema": SCHEMA, "command": command,
            "date": f"{dates[0]} .. {dates[-1]}" if len(set(dates)) > 1 else
            (dates[0] if dates else _now()),
            "git": git, "machine": recs[0].get("machine") if recs else machine(),
            "load_average": recs[0].get("load_average") if recs else load_average(),
            "parts": list(records)}


# ------------------------------------------------------------------ older records

def _legacy_revision(text: Any, checked: bool = True) -> Dict[str, Any]:
    """'abc123 (uncommitted changes)' / '... (with uncommitted changes)' / 'unknown' / '?';
    ``checked``: the writer marked a dirty tree (else a bare revision says nothing)."""
    text = str(text or "").strip()
    rev = text.split(" ", 1)[0] if text else ""
    known = rev not in ("", "?", "unknown")
    dirty = "uncommitted" in text
    return {"repository": None, "revision": rev if known else None,
            "dirty": True if dirty else (False if known and checked else None),
            "dirty_paths": [], "dirty_count": 0, "inside_repository": None,
            "outside_paths": [], "clean": False}


def normalise(prov: Any) -> Dict[str, Any]:
    """``prov`` in this module's shape, whatever block it is: a current record (returned
    as it is), or an older one -- ``app.results`` before this module (``git``:
    revision/dirty/dirty_paths, ``machine``: cores/cpu_model/loadavg), the NIR study's
    ``machine`` (git_revision, cores, cpu, load_average, date, versions), a model card's
    ``machine``/``software``, bench_runtime's ``machine``.  ``schema`` then says
    ``legacy:<kind>``; fields an old block did not record are None."""
    if is_current(prov) or str((prov or {}).get("schema", "")).startswith("legacy:"):
        return prov                      # current, or normalised already
    prov = dict(prov or {})
    m = prov.get("machine")
    if isinstance(m, dict) and "git_revision" in m:            # NIR study
        return {"schema": "legacy:nir_study", "command": prov.get("command"),
                "date": m.get("date"), "git": _legacy_revision(m.get("git_revision")),
                "machine": {"cpu_model": m.get("cpu"), "logical_cores": m.get("cores"),
                            "versions": m.get("versions") or {}},
                "load_average": m.get("load_average")}
    git = prov.get("git")
    if isinstance(git, dict):                                    # app.results, old keys
        g = {"repository": None, "revision": git.get("revision"), "dirty": git.get("dirty"),
             "dirty_paths": list(git.get("dirty_paths") or []),
             "dirty_count": len(git.get("dirty_paths") or []), "inside_repository": None,
             "outside_paths": []}
        g["clean"] = False
        m = m if isinstance(m, dict) else {}
        return {"schema": "legacy:results", "command": prov.get("command"),
                "date": prov.get("date"), "git": g,
                "machine": {"cpu_model": m.get("cpu_model"), "logical_cores": m.get("cores"),
                            "platform": m.get("platform"), "python": m.get("python")},
                "load_average": m.get("loadavg")}
    rev = prov.get("git_revision", git if isinstance(git, str) else None)
    if rev is not None or isinstance(m, str):                  # LIF variants, ASA: flat keys
        load = prov.get("load_average_start", prov.get("load_before"))
        if isinstance(load, str):
            load = [float(x) for x in load.split()]
        return {"schema": "legacy:flat", "command": prov.get("command"),
                "date": prov.get("date"),
                "git": _legacy_revision(rev, checked="git_revision" in prov),
                "machine": {"cpu_model": m if isinstance(m, str) else None},
                "load_average": load}
    if isinstance(m, dict):                                      # card, bench_runtime
        versions = dict(prov.get("software") or {})
        versions.update({k: m[k] for k in ("lava-nc", "lava-dl", "torch", "numpy") if k in m})
        return {"schema": "legacy:machine", "command": prov.get("command"),
                "date": prov.get("created"), "git": _legacy_revision(None),
                "machine": {"cpu_model": m.get("cpu"),
                            "logical_cores": m.get("logical_cores", m.get("cores")),
                            "usable_cores": m.get("usable_cores"),
                            "platform": m.get("platform"), "python": m.get("python"),
                            "gpus": [m["gpu"]] if m.get("gpu") else [],
                            "device": m.get("device"), "versions": versions},
                "load_average": m.get("load_avg_at_start")}
    return {"schema": "legacy:none", "command": prov.get("command"), "date": prov.get("date"),
            "git": _legacy_revision(None), "machine": {}, "load_average": None}


def result_provenance(doc: Dict[str, Any]) -> Dict[str, Any]:
    """The provenance of a result file's JSON (any layout this package has written),
    :func:`normalise`'d: its ``provenance`` block, else the top-level keys."""
    if isinstance(doc.get("provenance"), dict):
        return normalise(doc["provenance"])
    return normalise(doc)


def markdown_lines(prov: Dict[str, Any]) -> List[str]:
    """Markdown bullet lines for any record (:func:`normalise` first): command, git
    revision and whether the tree was clean, machine, load average, date."""
    p = normalise(prov)
    g, m = p.get("git") or {}, p.get("machine") or {}
    rev = (g.get("revision") or "unknown")
    rev = rev if "," in rev else rev[:12]
    if g.get("dirty"):
        n = g.get("dirty_count") or len(g.get("dirty_paths") or [])
        rev += f" (uncommitted changes{f' in {n} paths' if n else ''})"
    elif g.get("dirty") is None:
        rev += " (clean or not: not recorded)"
    if g.get("inside_repository") is False:
        rev += " (code run from outside the repository: " + ", ".join(g.get("outside_paths")
                                                                      or []) + ")"
    cores = m.get("logical_cores")
    parts = [m.get("cpu_model") or "unknown CPU"]
    if cores:
        parts.append(f"{cores} logical cores" + (f" ({m['usable_cores']} usable)"
                                                 if m.get("usable_cores") else ""))
    if m.get("memory_bytes"):
        parts.append(f"{m['memory_bytes'] / 2**30:.0f} GiB memory")
    if m.get("gpus"):
        parts.append("GPU " + ", ".join(m["gpus"]))
    if m.get("python"):
        parts.append(f"Python {m['python']}")
    versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items() if v)
    load = p.get("load_average")
    lines = [f"- command: `{p.get('command')}`", f"- git revision: {rev}",
             f"- machine: {'; '.join(parts)}" + (f"; {versions}" if versions else ""),
             "- load average (1/5/15 min): "
             + (", ".join(map(str, load)) if isinstance(load, list) else str(load or "unknown")),
             f"- date: {p.get('date') or 'unknown'}"]
    return lines

"""Which tests need Lava (lava-nc) or lava-dl: the ``lava`` marker, applied by conftest.

Lava and lava-dl run only on Python 3.10 (the ``lava`` extra); the rest of loihi-snn runs
on 3.10 to 3.13.  ``make test`` runs the whole suite in the 3.10 venv and
``pytest -m "not lava"`` in the modern one, so every test that needs Lava must carry the
marker.  Writing it by hand on hundreds of tests would rot, so it is found by reading
the test's source (``ast``), with no import:

- the module imports Lava, lava-dl, or a package module that imports them at import
  time (``loihi_snn.sim.lava.procs``, ``loihi_snn.families.lava``, ``loihi_snn.torch.blocks``
  / ``neurons``), or sets ``pytestmark`` with ``lava``: every test of it;
- the test function (or a function, fixture or helper it calls, transitively: the test
  module's own and those of ``tests/helpers``) imports Lava / lava-dl, names a Lava
  backend (``"lava-fixed"``, ``"lava-float"``, ``"lava-fused"``, ``"loihi2"``), mentions
  SLAYER, builds Lava processes (``loihi_snn.load``, ``run_layers``, ``FusedRun`` ...),
  trains (``train(``, CLI ``train`` / ``export``), or calls ``run`` / ``run_many`` /
  ``run_cutoff`` / ``evaluate`` or the CLI's ``run`` / ``eval`` without a backend (their
  default is ``lava-fixed``; ``auto`` and ``emulator`` run without Lava);
- a parametrised test: only the parameter sets that hold a Lava backend name, when the
  function itself needs no Lava.

A test the reading misses fails in the modern venv with a one-line BackendError naming
what is missing: mark it ``@pytest.mark.lava`` by hand.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional, Set

LAVA_BACKENDS = ("lava-fixed", "lava-float", "lava-fused", "loihi2")

#: modules that import Lava or lava-dl when imported
_LAVA_MODULES = re.compile(r"^(lava(\.|$)|loihi_snn\.sim\.lava\.procs|loihi_snn\.families\.lava|"
                           r"loihi_snn\.torch\.blocks|loihi_snn\.torch\.neurons)")

#: words in a function's source that mean Lava or lava-dl
_WORDS = re.compile(
    r"""\bimport\s+lava\b|\bfrom\s+lava[.\s]|importorskip\(\s*["']lava"""
    r"""|["'](?:lava-fixed|lava-float|lava-fused|loihi2)["']"""
    r"""|\blava_dl\(|\bensure_lava_runtime\(|\bslayer\b|\bSLAYER_NETS\b"""
    r"""|\bsim\.lava\.(?:procs|loader)|\bfamilies\.lava\b|\bloihi_snn\.load\("""
    r"""|\brun_layers\b|\bbuild_network\(|\bFusedRun\b|\bFusedNetwork\b|\brun_supervised\("""
    r"""|\brun_config\(|\bLoihi2SimCfg\b|["']lava-(?:nc|dl)["']|["']--no-lava["']"""
    r"""|\bloihi_snn\.blocks\b|\bloihi_snn\.torch\.(?:blocks|neurons)\b""")

#: names that need Lava or lava-dl when imported from these modules ("*": every name)
_LAVA_IMPORTS = {
    "loihi_snn": {"load", "blocks"},
    "loihi_snn.sim.lava.loader": {"*"},
    "loihi_snn.sim.runtime.probe": {"*"},
    "loihi_snn.app": {"demo"},
    "loihi_snn.app.demo": {"main"},
    "loihi_snn.train.loop": {"*"},
    "loihi_snn.train.verify": {"*"},
    "loihi_snn.train.models": {"build_model", "model_from_config", "make_block",
                               "slayer_style_factory"},
    "loihi_snn.train.checkpoint": {"load_checkpoint", "export_checkpoint", "export_model",
                                   "export_view"},
}

#: ``import x`` / ``from x import`` inside strings (code run by ``python -c``)
_CODE_IMPORT = re.compile(r"(?:^|[\n;]|\s)(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))")

#: public runners whose default backend is lava-fixed
_RUNNERS = {"run", "run_many", "run_cutoff", "evaluate", "evaluate_file"}
#: CLI commands: Lava by default (run, eval) or always lava-dl (train, export)
_CLI_DEFAULT_LAVA = {"run", "eval"}
_CLI_LAVA_DL = {"train", "export"}
_CLI_CALLS = {"cli", "main"}
_NO_LAVA_BACKENDS = {"emulator", "auto", "--backend=emulator", "--backend=auto"}


def _call_name(func: ast.AST) -> Optional[str]:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _strings(nodes: Iterable[ast.AST]) -> Set[str]:
    out = set()
    for node in nodes:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                out.add(sub.value)
    return out


def _first_string(call: ast.Call) -> Optional[str]:
    """The CLI command of ``cli("run", ...)``, ``main(["run", ...])`` or
    ``run_cli(capsys, "run", ...)``: the first string among the positional arguments."""
    for arg in call.args:
        if isinstance(arg, (ast.List, ast.Tuple)) and arg.elts:
            arg = arg.elts[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return None


class _Module:
    """One source file: its functions, which of them need Lava directly, which names
    they call, and whether the whole module needs Lava."""

    def __init__(self, path: Path, tests_dir: Path) -> None:
        self.path = path
        self.tests_dir = tests_dir
        text = path.read_text(encoding="utf-8")
        self.text = text
        tree = ast.parse(text, filename=str(path))
        self.tree = tree
        self.runner_names = self._runner_names(tree)
        self.lava_names = self._lava_names(tree)
        self.whole = self._module_needs_lava(tree)
        self.functions: Dict[str, ast.AST] = {}
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, node)
        self.direct = {name for name, fn in self.functions.items() if self._direct(fn)}
        self.calls = {name: self._called(fn) for name, fn in self.functions.items()}

    @staticmethod
    def _runner_names(tree: ast.AST) -> Set[str]:
        """Runner names this module imports from loihi_snn (``from loihi_snn... import run``)."""
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("loihi_snn"):
                for alias in node.names:
                    if alias.name in _RUNNERS:
                        names.add(alias.asname or alias.name)
        return names

    def _lava_names(self, tree: ast.Module) -> Set[str]:
        """Names this module imports that need Lava or lava-dl (``_LAVA_IMPORTS``), and its
        module-level constants that name a test script that imports Lava."""
        names = set()
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                    isinstance(c, ast.Constant) and isinstance(c.value, str) and
                    (self._script_needs_lava(c.value) or self._code_needs_lava(c.value))
                    for c in ast.walk(node.value)):
                names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in _LAVA_IMPORTS:
                wanted = _LAVA_IMPORTS[node.module]
                for alias in node.names:
                    if "*" in wanted or alias.name in wanted:
                        names.add(alias.asname or alias.name)
        return names

    def _module_needs_lava(self, tree: ast.Module) -> bool:
        for node in tree.body:
            if isinstance(node, ast.Import) and any(_LAVA_MODULES.match(a.name) or
                                                    self._local_needs_lava(a.name)
                                                    for a in node.names):
                return True
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (
                    _LAVA_MODULES.match(node.module or "") or
                    self._local_needs_lava(node.module or "")):
                return True
            if isinstance(node, (ast.Assign, ast.Expr)):
                seg = ast.get_source_segment(self.text, node) or ""
                if re.search(r"importorskip\(\s*[\"']lava", seg):
                    return True
                if isinstance(node, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets) \
                        and re.search(r"\bmark\.lava\b", seg):
                    return True
        return False

    def _local_needs_lava(self, module: str) -> bool:
        """A module of the test tree (beside this file, or under ``tests/``, e.g.
        ``lava_failing.failing`` or another test file) that needs Lava at its top."""
        if not module:
            return False
        rel = Path(*module.split("."))
        bases = [self.path.parent, self.tests_dir] + sorted(
            p for p in self.tests_dir.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
        for base in bases:
            for cand in (base / rel.with_suffix(".py"), base / rel / "__init__.py"):
                if cand.is_file() and cand.resolve() != self.path.resolve():
                    return _whole(str(cand.resolve()), str(self.tests_dir))
        return False

    def _code_needs_lava(self, text: str) -> bool:
        """``text`` is code (for ``python -c``) that imports Lava or a test module that does."""
        if "import" not in text:
            return False
        for m in _CODE_IMPORT.finditer(text):
            module = m.group(1) or m.group(2)
            if _LAVA_MODULES.match(module) or self._local_needs_lava(module):
                return True
        return False

    def _script_needs_lava(self, name: str) -> bool:
        """``name`` is a ``.py`` file of the test tree whose code imports Lava anywhere."""
        if not name.endswith(".py") or "\n" in name:
            return False
        base = Path(name).name
        for cand in [self.path.parent / base, self.tests_dir / base] + \
                sorted(self.tests_dir.glob(f"*/{base}")):
            if cand.is_file():
                text = cand.read_text(encoding="utf-8")
                return bool(re.search(r"^\s*(?:from|import)\s+lava\b", text, re.M)
                            or _WORDS.search(text))
        return False

    def _direct(self, fn: ast.AST) -> bool:
        # from the ``def`` line: the decorators' parameter lists are judged per parameter
        # set (needs_lava), not here
        body = ast.get_source_segment(self.text, fn) or ""
        if _WORDS.search(body):
            return True
        for node in ast.walk(fn):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    self._code_needs_lava(node.value):
                return True
            if isinstance(node, ast.Name) and node.id in self.lava_names:
                return True
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    self._script_needs_lava(node.value):
                return True      # a test script run in a fresh interpreter
            if not isinstance(node, ast.Call):
                continue
            name = _call_name(node.func)
            keywords = {k.arg for k in node.keywords}
            if name in _RUNNERS and "backend" not in keywords and None not in keywords:
                if isinstance(node.func, ast.Name) and name in self.runner_names:
                    return True
                if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                        and node.func.value.id == "loihi_snn":
                    return True
            if name == "train" and isinstance(node.func, ast.Name):
                return True
            if name in _CLI_CALLS or (name and "cli" in name):
                command = _first_string(node)
                if command in _CLI_LAVA_DL:
                    return True
                if command in _CLI_DEFAULT_LAVA and not (_strings(node.args) & _NO_LAVA_BACKENDS):
                    return True
        return False

    @staticmethod
    def _called(fn: ast.AST) -> Set[str]:
        """Names the function uses: calls, functions passed on (``export_slayer(net_dense,
        ...)``) and its parameters (fixtures)."""
        names = set()
        for node in ast.walk(fn):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                names.update(a.arg for a in args.args + args.kwonlyargs)   # fixtures
        return names


def _closure(modules: Iterable[_Module], seed: Set[str]) -> Set[str]:
    """Names of functions that need Lava: direct ones, and those calling one (fixpoint)."""
    need = set(seed)
    mods = list(modules)
    for m in mods:
        need |= m.direct
    changed = True
    while changed:
        changed = False
        for m in mods:
            for name, called in m.calls.items():
                if name not in need and called & need:
                    need.add(name)
                    changed = True
    return need


_visiting: Set[str] = set()


@lru_cache(maxsize=None)
def _whole(path: str, tests_dir: str) -> bool:
    """Whether the file needs Lava at its top (import cycles count as no)."""
    if path in _visiting:
        return False
    _visiting.add(path)
    try:
        return _Module(Path(path), Path(tests_dir)).whole
    finally:
        _visiting.discard(path)


@lru_cache(maxsize=None)
def _helpers(tests_dir: str) -> Set[str]:
    root = Path(tests_dir)
    mods = [_Module(p, root) for p in sorted((root / "helpers").glob("*.py"))]
    conftest = root / "conftest.py"
    if conftest.exists():
        mods.append(_Module(conftest, root))
    return _closure(mods, set())


@lru_cache(maxsize=None)
def _module(path: str, tests_dir: str):
    mod = _Module(Path(path), Path(tests_dir))
    return mod, _closure([mod], _helpers(tests_dir))


def module_needs_lava(path: str, tests_dir: str) -> bool:
    """Whether the file imports Lava or lava-dl at its top (so it cannot be collected
    without them)."""
    return _module(str(path), str(tests_dir))[0].whole


def needs_lava(path: str, function: str, params: Optional[dict], tests_dir: str) -> bool:
    """Whether test ``function`` of the file ``path`` (with these parameters) needs Lava."""
    mod, need = _module(str(path), str(tests_dir))
    if mod.whole or function in need:
        return True
    return any(_value_needs_lava(v, mod, need) for v in (params or {}).values())


def _value_needs_lava(value, mod: "_Module", need: Set[str], depth: int = 0) -> bool:
    """A parameter value: a Lava backend name, a function that needs Lava, or a lambda
    whose body does (found in its file by its line)."""
    if depth > 3:
        return False
    if isinstance(value, str):
        return value in LAVA_BACKENDS
    if isinstance(value, (tuple, list, set)):
        return any(_value_needs_lava(v, mod, need, depth + 1) for v in value)
    if isinstance(value, dict):
        return any(_value_needs_lava(v, mod, need, depth + 1) for v in value.values())
    code = getattr(value, "__code__", None)
    if code is None:
        return False
    if value.__name__ != "<lambda>":
        return value.__name__ in need
    if Path(code.co_filename).resolve() != mod.path.resolve():
        return False
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Lambda) and node.lineno == code.co_firstlineno:
            if mod._direct(node) or (mod._called(node) & need):
                return True
    return False

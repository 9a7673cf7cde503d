"""Shared fixtures: where the lava-dl reference networks are.

Shared helper code (NetX writer, stock netx runs, SLAYER nets, CLI runs) lives in
``tests/helpers`` and is imported as ``from helpers import ...``.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from helpers import SHARED_NETX
from helpers.lava_marks import module_needs_lava, needs_lava

TESTS = Path(__file__).resolve().parent


def _found(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


#: Lava and lava-dl are installed (the Python 3.10 venv); elsewhere (Python 3.11-3.13,
#: numpy 2) the tests marked ``lava`` are run with ``-m "not lava"`` left out
LAVA_HERE = _found("lava.magma") and _found("lava.lib.dl")


def pytest_ignore_collect(collection_path, config):
    """Without Lava, a test module that imports Lava (or lava-dl) at its top cannot even be
    collected: leave it out (every test in it is marked ``lava``)."""
    if LAVA_HERE or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if module_needs_lava(str(collection_path), str(TESTS)) else None


class _NeedsLavaModule(pytest.Module):
    """A test module named on the command line that imports Lava, where Lava is not
    installed: one skip saying so instead of an import error."""

    def collect(self):
        pytest.skip("imports Lava or lava-dl, which is not installed here (Python 3.10 venv "
                    "only)", allow_module_level=True)


def pytest_pycollect_makemodule(module_path, parent):
    if not LAVA_HERE and module_path.name.startswith("test_") and \
            module_needs_lava(str(module_path), str(TESTS)):
        return _NeedsLavaModule.from_parent(parent, path=module_path)
    return None


def pytest_collection_modifyitems(config, items):
    """The ``lava`` marker on every test that needs Lava or lava-dl (helpers/lava_marks.py
    says how it is found); ``make test`` runs ``-m "not lava"`` in the modern venv."""
    for item in items:
        path = getattr(item, "path", None)
        if path is None or item.get_closest_marker("lava") is not None or \
                item.get_closest_marker("lava_free") is not None:
            continue
        function = getattr(item, "originalname", None) or item.name
        callspec = getattr(item, "callspec", None)
        params = dict(callspec.params) if callspec is not None else None
        if needs_lava(str(path), function, params, str(TESTS)):
            item.add_marker(pytest.mark.lava)


@pytest.fixture(scope="session")
def shared_netx() -> Path:
    """Directory of lava-dl's reference NetX networks (tinynet, pilotnet_sdnn, oxford)."""
    if not (SHARED_NETX / "oxford" / "network.net").exists():
        pytest.fail(f"reference networks not found at {SHARED_NETX}; set "
                    f"LOIHI_SNN_SHARED_NETX to the lava-dl-netx directory")
    return SHARED_NETX

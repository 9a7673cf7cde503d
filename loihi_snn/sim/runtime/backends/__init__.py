"""The backends -- the ONE place a way to run a network is registered.

Each module (``emulator``, ``lava``, ``fused``) defines its
:class:`~loihi_snn.sim.runtime.backends.base.Backend` records; ``run``, ``run_many``,
``run_cutoff``, ``eval``, the CLI and the bench look them up here.  Adding a backend =
one module with a ``Backend`` and a :func:`register` call (or an entry in ``_MODULES``).

- :func:`get` -- the record of a name (``auto`` resolved), checked to be usable here;
- :func:`names` / :func:`descriptions` -- every name (and ``auto``), for ``--help``;
- :func:`register` / :func:`unregister` -- add or remove one (tests, extensions).
"""
from __future__ import annotations

from typing import Dict, List

from loihi_snn.core.args import show
from loihi_snn.core.errors import BackendError
from loihi_snn.core.lavadl import have_lava
from loihi_snn.sim.lava.hardware import is_loihi2_available
from loihi_snn.sim.runtime.backends import emulator, fused, lava
from loihi_snn.sim.runtime.backends.base import (Backend, CutoffRequest,  # noqa: F401
                                                 CutoffResult)

__all__ = ["AUTO", "Backend", "CutoffRequest", "CutoffResult", "REGISTRY", "descriptions",
           "get", "names", "register", "resolve_name", "unregister"]

_MODULES = (lava, fused, emulator)

REGISTRY: Dict[str, Backend] = {}
#: the alias every runner accepts besides the registered names
AUTO = "auto"
AUTO_DESCRIPTION = "loihi2 when lava-loihi is installed, else lava-fixed; emulator without Lava"


def register(backend: Backend, *, replace: bool = False) -> Backend:
    """Add a backend under its name (``replace`` an existing one explicitly)."""
    if not isinstance(backend, Backend):
        raise BackendError(f"register takes a Backend record, got {show(backend)}")
    if backend.name == AUTO or (backend.name in REGISTRY and not replace):
        raise BackendError(f"backend '{backend.name}' is already registered")
    REGISTRY[backend.name] = backend
    return backend


def unregister(name: str) -> None:
    """Remove a backend added with :func:`register`."""
    REGISTRY.pop(name, None)


def names() -> List[str]:
    """Every backend name, registration order, then ``auto``."""
    return list(REGISTRY) + [AUTO]


def descriptions() -> Dict[str, str]:
    """name -> one-line description, for ``--help`` and error messages."""
    return {**{n: b.description for n, b in REGISTRY.items()}, AUTO: AUTO_DESCRIPTION}


def resolve_name(name: str) -> str:
    """``auto`` -> ``loihi2`` (lava-loihi installed), ``lava-fixed`` (Lava installed) or
    ``emulator``; any registered name unchanged; else a one-line BackendError."""
    if not isinstance(name, str) or (name not in REGISTRY and name != AUTO):
        raise BackendError(f"unknown backend {show(name)}; choose one of: "
                           f"{', '.join(names())} ('loihi-snn run --help' describes them)")
    if name == AUTO:
        if is_loihi2_available() and "loihi2" in REGISTRY:
            return "loihi2"
        return "lava-fixed" if have_lava() and "lava-fixed" in REGISTRY else "emulator"
    return name


def get(name: str, *, check: bool = True) -> Backend:
    """The backend record of ``name`` (``auto`` resolved); with ``check``, a one-line
    BackendError when it cannot run here (Lava or lava-loihi missing)."""
    backend = REGISTRY[resolve_name(name)]
    if check and backend.check_available is not None:
        backend.check_available()
    return backend


for _module in _MODULES:
    for _backend in _module.BACKENDS:
        register(_backend)

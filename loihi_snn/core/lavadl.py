"""Lava and lava-dl, optional: ask whether they are here, import them quietly.

Lava (lava-nc 0.10) and lava-dl (0.6) are the ``lava`` extra of loihi-snn: their last
releases need Python 3.10, numpy<2 and torch 2.3.  Everything else -- reading and
checking NetX, the resource report, the bit-exact emulator, evaluation on it, NIR --
runs without them on any supported Python.  So nothing imports Lava or lava-dl until a
Lava backend or SLAYER training is asked for, and then :func:`require_lava` /
:func:`lava_dl` say in one line (a :class:`~loihi_snn.core.errors.BackendError`) what is
missing and how to get it.

Importing ``lava.lib.dl`` prints start-up chatter that is not about the user's work
(torch's "No CUDA runtime is found" on CPU-only machines, lava-dl's note about the
optional Prophesee toolbox).  ``lava_dl()`` imports it once with that output
suppressed, so CLI output and error messages stay one clean line.
"""
from __future__ import annotations

import contextlib
import importlib.util
import io
import sys
from typing import Optional

from loihi_snn.core.errors import BackendError

#: how to get Lava and lava-dl (the ``lava`` extra installs their pins on Python 3.10)
INSTALL_HINT = "pip install 'loihi-snn[lava]' in a Python 3.10 environment"


@contextlib.contextmanager
def quiet():
    """Suppress Python-level stdout/stderr inside the block."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _find(module: str) -> bool:
    """Whether ``module`` can be found, without importing it (its parents are)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _python() -> str:
    return f"Python {sys.version_info[0]}.{sys.version_info[1]}"


_NOT_CHECKED = object()
_lava_problem = _NOT_CHECKED


def lava_problem() -> Optional[str]:
    """None when Lava (lava-nc) imports in this environment, else why not (a phrase:
    "is not installed in this Python 3.12 environment", "does not import here (...)").

    The first call imports Lava's process core when it is installed (what every Lava
    backend does next anyway); the answer is kept for the process.
    """
    global _lava_problem
    if _lava_problem is _NOT_CHECKED:
        if not _find("lava.magma"):
            _lava_problem = f"is not installed in this {_python()} environment"
        else:
            try:
                with quiet():
                    import lava.magma.core.process.process  # noqa: F401
            except Exception as exc:  # noqa: BLE001 - e.g. lava-nc on Python >= 3.11
                if isinstance(exc, RuntimeError) and "context has already been set" in str(exc):
                    # Lava is here but imported after a multiprocessing context was made
                    # (see ensure_lava_runtime): the Lava run itself says so, as before
                    return None
                _lava_problem = f"does not import under {_python()} ({_one_line(exc)})"
            else:
                _lava_problem = None
    return _lava_problem


def have_lava() -> bool:
    """True when Lava (lava-nc) imports here (:func:`lava_problem` is None)."""
    return lava_problem() is None


def require_lava(what: str) -> None:
    """Return when Lava imports here; else a one-line BackendError naming ``what`` needed
    it, why it is not usable and how to get it (or to use the emulator instead)."""
    problem = lava_problem()
    if problem is not None:
        raise BackendError(f"{what} needs Lava (lava-nc 0.10), which {problem}; install it "
                           f"with {INSTALL_HINT} (Lava runs only on Python 3.10), or use "
                           f"backend 'emulator' (bit-exact with lava-fixed, no Lava)")


def lava_dl(what: str = "SLAYER training"):
    """Return the ``lava.lib.dl`` package (with ``slayer``, and ``netx`` where Lava imports),
    imported quietly; a one-line BackendError when lava-dl is not installed or does not
    import here."""
    if "lava.lib.dl.slayer" not in sys.modules:
        if not _find("lava.lib.dl"):
            raise BackendError(
                f"{what} needs lava-dl (0.6, SLAYER), which is not installed in this "
                f"{_python()} environment; install it with {INSTALL_HINT}, or train in "
                f"snnTorch or Norse and bring the network in through NIR "
                f"('loihi-snn import')")
        try:
            with quiet():
                import lava.lib.dl.slayer  # noqa: F401
        except Exception as exc:  # noqa: BLE001 - a broken or mismatched install
            raise BackendError(f"{what} needs lava-dl (0.6, SLAYER), which does not import "
                               f"under {_python()} ({_one_line(exc)}); install it with "
                               f"{INSTALL_HINT}") from None
    if "lava.lib.dl.netx" not in sys.modules and lava_problem() is None:
        with quiet():
            import lava.lib.dl.netx  # noqa: F401
    import lava.lib.dl as dl
    return dl


def ensure_lava_runtime() -> None:
    """Import Lava's runtime before anything touches ``multiprocessing``.

    Lava calls ``multiprocessing.set_start_method('fork')`` when its message
    infrastructure is first imported, which raises if the default context was already
    created (tqdm's lock, torch data loaders and others create it).  Call this once
    before training or progress bars in a process that will also run Lava.  A no-op
    where Lava is not installed.
    """
    if lava_problem() is None:
        import lava.magma.core.process.process  # noqa: F401

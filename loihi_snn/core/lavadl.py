"""Import lava-dl quietly.

Importing ``lava.lib.dl`` prints start-up chatter that is not about the user's work
(torch's "No CUDA runtime is found" on CPU-only machines, lava-dl's note about the
optional Prophesee toolbox).  ``lava_dl()`` imports it once with that output
suppressed, so CLI output and error messages stay one clean line.
"""
from __future__ import annotations

import contextlib
import io
import sys


@contextlib.contextmanager
def quiet():
    """Suppress Python-level stdout/stderr inside the block."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def lava_dl():
    """Return the ``lava.lib.dl`` package (with ``slayer`` and ``netx``), imported quietly."""
    if "lava.lib.dl.netx" not in sys.modules:
        with quiet():
            import lava.lib.dl.netx  # noqa: F401
            import lava.lib.dl.slayer  # noqa: F401
    import lava.lib.dl as dl
    return dl


def ensure_lava_runtime() -> None:
    """Import Lava's runtime before anything touches ``multiprocessing``.

    Lava calls ``multiprocessing.set_start_method('fork')`` when its message
    infrastructure is first imported, which raises if the default context was already
    created (tqdm's lock, torch data loaders and others create it).  Call this once
    before training or progress bars in a process that will also run Lava.
    """
    import lava.magma.core.process.process  # noqa: F401

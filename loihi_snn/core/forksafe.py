"""Running torch kernels safely in a process that was forked.

Why this exists
---------------
Lava (lava-nc 0.10) runs every process model in an OS process made with ``fork()``,
and :mod:`loihi_snn.sim.runtime.guard` forks the process that drives the run.  A
forked child is a copy of one thread of its parent: every other thread is gone.

torch's CPU kernels (ATen's ``parallel_for``, oneDNN's convolutions) run their
parallel regions on GNU OpenMP (``libgomp``, torch's ATen parallel backend on Linux
wheels).  libgomp keeps its worker threads in a pool that it creates on the first
parallel region with more than one thread and reuses afterwards; it installs no fork
handler.  A child forked after the parent ran such a region inherits the pool's
bookkeeping but none of its threads, so the child's next multi-threaded region waits
forever on a barrier for workers that do not exist.  That was the ``lava-fused`` hang
on conv networks: the emulator's conv sums (``torch.nn.functional.conv2d``) inside the
forked fused process model, in a caller that had used torch with more than one thread
before (training, the emulator, any torch conv).  Dense networks were not affected
because their sums are numpy GEMMs (OpenBLAS, whose pool is fork-safe).

The fix
-------
:func:`prepare_torch` is called by the emulator before it runs any torch kernel (every
``Emulator.step`` / ``run_block`` / ``run``).  In a process forked after this module was
imported (``os.register_at_fork`` only sets a flag here), it sets torch's intra-op
thread count to 1 once, before the first kernel: ATen then runs ``parallel_for`` inline
(it starts a parallel region only with more than one thread) and oneDNN asks OpenMP for
one thread, so the inherited pool is never touched.  This is what torch's own
``DataLoader`` does in its forked workers.  The parent process keeps its thread count.
A CUDA context cannot cross a fork either: :func:`check_cuda_usable` turns torch's
late ``RuntimeError`` into a one-line :class:`~loihi_snn.core.errors.BackendError`.

Nothing here imports torch: a process that never imported it has no pool to inherit,
and a child that imports torch after the fork gets a fresh one.
"""
from __future__ import annotations

import os
import sys

from loihi_snn.core.errors import BackendError

_forked = False          # set in the child of every fork after this module's import


def _after_fork_in_child() -> None:
    global _forked
    _forked = True


if hasattr(os, "register_at_fork"):          # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def in_forked_child() -> bool:
    """True in a process forked (after this module was imported) that has not yet been
    made safe by :func:`prepare_torch`."""
    return _forked


def prepare_torch() -> None:
    """Make torch's CPU kernels safe to call in this process (see the module docstring).

    Cheap and idempotent: outside a forked child it does nothing; in one, it sets torch's
    intra-op threads to 1 once, if torch is imported (a torch imported later in the child
    has a fresh thread pool and needs nothing).
    """
    global _forked
    if not _forked:
        return
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(1)
    _forked = False


def check_cuda_usable(device) -> None:
    """BackendError (one line) when ``device`` is a CUDA device in a process forked after
    its parent initialised CUDA (torch would raise a RuntimeError on the first kernel)."""
    torch = sys.modules.get("torch")
    if torch is None or getattr(device, "type", str(device).split(":")[0]) != "cuda":
        return
    bad = getattr(torch.cuda, "_is_in_bad_fork", None)
    if bad is not None and bad():
        raise BackendError(f"device '{device}' cannot be used in this process: it was "
                           f"forked after its parent initialised CUDA (e.g. a Lava process "
                           f"model); use the CPU emulator there (device=None)")

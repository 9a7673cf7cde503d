"""Driving one Lava run: its run configuration, its supervised execution, its stop.

What every Lava backend shares (:mod:`loihi_snn.sim.runtime.backends`): the
``Loihi2SimCfg`` / ``Loihi2HwCfg`` of a backend, :func:`supervise` (compile, run in
chunks with progress, read out and stop in a supervised child process, with the stall
deadline of :mod:`loihi_snn.sim.runtime.guard`), and :func:`stopping` for code that runs
Lava itself.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

from loihi_snn.core.progress import Progress, stderr_is_terminal, want_progress
from loihi_snn.sim.lava.hardware import hardware_run_config
from loihi_snn.sim.runtime.guard import check_seconds, resolve_stall_timeout, run_supervised

#: smallest chunk of a run without a progress bar or timeout, steps (more chunks than
#: needed cost a Lava pause each; fewer make the stall allowance per chunk coarser)
STALL_CHUNK_STEPS = 64


@dataclass(frozen=True)
class RunOptions:
    """How a backend runs, beside what it runs (:class:`~loihi_snn.sim.runtime.plan.RunPlan`).

    ``progress``: None = automatic (long runs), True/False; ``timeout``: wall-clock
    seconds for the Lava part or None; ``stall_timeout``: the stall deadline in seconds
    (None: ``$LOIHI_SNN_STALL_TIMEOUT`` or 60)."""
    progress: Optional[bool] = None
    timeout: Optional[float] = None
    stall_timeout: Optional[float] = None

    def checked(self) -> "RunOptions":
        """The options with ``timeout`` and ``stall_timeout`` validated (OptionError)."""
        resolve_stall_timeout(self.stall_timeout)
        return RunOptions(self.progress, check_timeout(self.timeout), self.stall_timeout)


def check_timeout(timeout: Any) -> Optional[float]:
    """``timeout`` (seconds) as a positive finite float or None; else OptionError."""
    return None if timeout is None else check_seconds(timeout, "timeout")


def sim_config(select_tag: str):
    """``Loihi2SimCfg(select_tag=...)`` (the CPU simulation)."""
    from lava.magma.core.run_configs import Loihi2SimCfg  # lazy: Lava is heavy
    return Loihi2SimCfg(select_tag=select_tag)


def hardware_config():
    """``Loihi2HwCfg`` (BackendError naming what is missing without lava-loihi)."""
    return hardware_run_config()


@contextmanager
def stopping(process) -> Iterator[None]:
    """Context manager: always ``stop()`` the Lava runtime that ``process`` belongs to.

    Use around every ``run``: it stops the child processes even when the run raised,
    and never masks the original error with a failure of ``stop`` itself.
    """
    try:
        yield
    finally:
        runtime = getattr(process, "runtime", None)
        if runtime is not None:
            try:
                process.stop()
            except Exception:  # noqa: BLE001 - the run's own error matters more
                pass


def chunks(total: int, parts: int) -> List[int]:
    """``total`` steps in ``parts`` nearly equal positive chunks."""
    base, extra = divmod(int(total), int(parts))
    sizes = [base + (1 if i < extra else 0) for i in range(parts)]
    return [s for s in sizes if s > 0]


def supervise(source, read_out, steps: int, cfg, opts: RunOptions, *, what: str,
              backend: str):
    """Compile, run ``steps`` steps and stop Lava in a supervised child process
    (:func:`~loihi_snn.sim.runtime.guard.run_supervised`) with step progress; returns
    ``read_out()``.  The run goes in 20 chunks when progress or a timeout needs them,
    else in chunks of at least :data:`STALL_CHUNK_STEPS` steps (the stall deadline's
    per-chunk allowance)."""
    show = want_progress(opts.progress, steps >= 500 and stderr_is_terminal())
    parts = 20 if (show or opts.timeout is not None) else \
        max(1, min(20, steps // STALL_CHUNK_STEPS))
    bar = Progress(steps, "step", f"lava {os.path.basename(what)}") if show else None
    try:
        return run_supervised(source, read_out, chunks(steps, parts), cfg,
                              timeout=opts.timeout, what=what,
                              on_progress=None if bar is None else bar.update,
                              stall_timeout=opts.stall_timeout, backend=backend)
    finally:
        if bar is not None:
            bar.close()

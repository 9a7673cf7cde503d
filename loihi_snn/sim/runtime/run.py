"""Run a loaded network (or a .net file) on Lava for one input.

The input ``x`` is in the network's file order with time last: (N, T) for a
dense input, (C, H, W, T) for an image input -- the layout SLAYER uses, without the
batch dimension.  The output comes back the same way: (N_out, T_out) or
(C, H, W, T_out).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator, Optional, Union

import numpy as np

from loihi_snn.core.args import check_flag, check_path, show
from loihi_snn.core.errors import BackendError, OptionError, RunError, ShapeError
from loihi_snn.core.limits import env_int
from loihi_snn.core.progress import Progress, stderr_is_terminal, want_progress
from loihi_snn.netx.inputs import check_input_range
from loihi_snn.netx.schema import input_transform, read_netx
from loihi_snn.sim.emulator import emulate
from loihi_snn.sim.lava.hardware import hardware_run_config, is_loihi2_available
from loihi_snn.sim.lava.loader import load
from loihi_snn.sim.runtime.io import MAX_RUN_BYTES      # the run-byte limit
from loihi_snn.sim.runtime.guard import resolve_stall_timeout, run_supervised
from loihi_snn.sim.runtime.io import (check_input_shape, check_integer, check_time_last,
                                      fixed_point_input, flat_input, from_lava_layout,
                                      image_shape, input_message_bits, integer_output,
                                      is_graded,
                                      match_input_port,
                                      message_bits, pad_steps, scale_output, to_lava_layout)

BACKENDS = {
    "lava-fixed": "Lava CPU simulation, bit-accurate fixed point (Loihi2SimCfg fixed_pt)",
    "lava-float": "Lava CPU simulation, floating point models (Loihi2SimCfg floating_pt)",
    "lava-fused": "Lava CPU simulation, whole network and its input/output as one fused "
                  "fixed_pt process (bit-exact with lava-fixed, >10x faster than stock netx)",
    "emulator": "batched numpy emulator of lava-fixed without Lava (bit-exact, fastest)",
    "loihi2": "Loihi 2 hardware (Loihi2HwCfg; needs Intel's lava-loihi extension)",
    "auto": "loihi2 when lava-loihi is installed, else lava-fixed",
}


def resolve_backend(backend: str) -> str:
    """``auto`` -> ``loihi2`` or ``lava-fixed``; ``loihi2`` without lava-loihi -> BackendError.

    Every other valid name is returned unchanged.
    """
    check_backend(backend)
    if backend in ("auto", "loihi2"):
        if backend == "auto":
            return "loihi2" if is_loihi2_available() else "lava-fixed"
        hardware_run_config()          # raises the BackendError that explains what is missing
    return backend


def precision_of(backend: str) -> str:
    """Backend name -> network precision used when loading ("fixed"/"float")."""
    check_backend(backend)
    return "float" if backend == "lava-float" else "fixed"


def check_backend(backend: str) -> None:
    """BackendError (one line, listing the backends) unless ``backend`` is one of them."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise BackendError(f"unknown backend {show(backend)}; choose one of: "
                           f"{', '.join(BACKENDS)} (loihi_snn.sim.runtime.run.BACKENDS and "
                           f"'loihi-snn run --help' describe them)")


def run_config(backend: str):
    """The Lava run configuration for a backend name."""
    from lava.magma.core.run_configs import Loihi2SimCfg  # lazy: Lava is heavy
    backend = resolve_backend(backend)
    if backend == "loihi2":
        return hardware_run_config()
    return Loihi2SimCfg(select_tag="floating_pt" if backend == "lava-float" else "fixed_pt")


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


def _want_progress(progress: Optional[bool], steps: int) -> bool:
    if progress is not None:
        return progress
    return want_progress(progress, steps >= 500 and stderr_is_terminal())


def run(net_or_path: Union[str, os.PathLike, "object"], x: np.ndarray,
        steps: Optional[int] = None, backend: str = "lava-fixed", *,
        progress: Optional[bool] = None, timeout: Optional[float] = None,
        stall_timeout: Optional[float] = None) -> np.ndarray:
    """Run a network on one input and return its output spikes.

    Parameters
    ----------
    net_or_path : str or Network
        a NetX ``.net`` path (loaded for ``backend``) or a Network from
        :func:`loihi_snn.load` that has not been run yet.
    x : np.ndarray
        input with time last, in the network's file order: (N, T) or (C, H, W, T).
        Binary spikes, or integer graded values (sent as graded spikes).
    steps : int, optional
        number of time steps to run; defaults to T.  Input beyond T is zero.
    backend : {"lava-fixed", "lava-float", "lava-fused", "emulator"}
        see ``BACKENDS``.  ``lava-fused`` needs a path (then the run is one Lava
        process, :class:`~loihi_snn.sim.lava.procs.fused.process.FusedRun`) or a
        :class:`~loihi_snn.sim.lava.procs.fused.process.FusedNetwork` (run between a source
        and a sink, one Lava step at a time); ``emulator`` runs no Lava
        (a Network object passed to it is only read for its ``spec``).
        ``loihi2`` runs on Loihi 2 (BackendError without lava-loihi); ``auto`` is
        ``loihi2`` when lava-loihi is installed, else ``lava-fixed``.
    progress : bool, optional
        show progress: a bar on a terminal, else plain lines on stderr (at the start,
        every 5 s and at the end); default: a bar when stderr is a terminal and
        steps >= 500 (a single run prints nothing else but its errors).
    timeout : float, optional
        wall-clock limit in seconds for the Lava part (compiling, running and
        stopping the processes; not loading the file).  A run past it is stopped and
        raises RunError saying how many steps were completed (the run goes in 20
        chunks when a timeout is given, so the count has that granularity).
    stall_timeout : float, optional
        seconds in which no Lava process uses the CPU (a deadlock) before the run ends
        as stalled (RunError, ``exc.stalled``); default ``$LOIHI_SNN_STALL_TIMEOUT`` or
        60 s.  Every Lava run has this deadline (see
        :mod:`loihi_snn.sim.runtime.guard`); it never ends a run that computes.

    Returns
    -------
    np.ndarray
        output of the last layer, file order, time last: (N_out, steps) or
        (C, H, W, steps).  Spikes are 0/1 (or signed/graded values for graded
        layers); an ``average`` output layer returns the population mean.

    Raises
    ------
    RunError
        a process model raised (the message names the process, the exception and
        its source line), a model process died, or the run timed out.  Lava runs in
        a supervised child process (:mod:`loihi_snn.sim.runtime.guard`): when this is
        raised every Lava process of the run has exited and its shared memory is freed.
    """
    check_network_argument(net_or_path)
    check_flag(progress, "progress", allow_none=True)
    backend = resolve_backend(backend)
    fixed = precision_of(backend) == "fixed"
    where = os.fspath(net_or_path) if isinstance(net_or_path, (str, os.PathLike)) else None
    x = check_time_last(x, path=where, integer=fixed)   # the shared input boundary
    T = int(x.shape[-1])
    steps = check_steps(T if steps is None else steps)
    check_timeout(timeout)
    resolve_stall_timeout(stall_timeout)
    if backend == "emulator":
        return _run_emulator(net_or_path, x, steps)

    if isinstance(net_or_path, (str, os.PathLike)):
        # cheap: validates before any Lava import; a conv-first file without an input
        # layer takes its (C, H, W) from the input
        spec = read_netx(net_or_path, input_shape=image_shape(x))
        check_input_shape(x, spec.input_shape, flat_input(spec), spec.path)
        if fixed:
            check_input_range(spec, x)
        check_run_size(spec, x, steps)
        if backend == "lava-fused":
            return _run_fused(spec, x, steps, is_graded(x), progress, timeout, stall_timeout)
        net = load(net_or_path, precision=precision_of(backend),
                   input_message_bits=input_message_bits(x), input_shape=image_shape(x))
    else:
        net = net_or_path
        if getattr(net, "_loihi_snn_used", False):
            raise RunError("this Network object was already run; Lava processes run once. "
                           "Load it again (or pass the .net path) for another run")
        if getattr(net, "precision", "fixed") != precision_of(backend):
            raise BackendError(f"network was loaded with precision '{net.precision}' but "
                               f"backend '{backend}' needs '{precision_of(backend)}'")
        if backend == "lava-fused" and not getattr(net, "fused", False):
            raise BackendError("backend 'lava-fused' runs a FusedNetwork; pass the .net path "
                               "or loihi_snn.sim.lava.procs.fused.process.FusedNetwork(spec=...)")
        if getattr(net, "input_message_bits", None) == 0 and is_graded(x):
            # a network built for binary spikes counts every non-zero value as one spike:
            # it would run differently from the path (and from every other backend)
            raise ShapeError(f"{net.filename}: graded input (values other than 0/1) for a "
                             f"network loaded for binary spikes; load it with "
                             f"input_message_bits={message_bits(True)} or pass the .net path")
    check_input_shape(x, net.spec.input_shape, len(net.input_shape) == 1, net.filename)
    if fixed:
        check_input_range(net.spec, x)
    check_run_size(net.spec, x, steps)
    net._loihi_snn_used = True
    data = pad_steps(to_lava_layout(input_transform(net.spec, x), net.input_shape), steps)
    if precision_of(backend) == "fixed":
        data = fixed_point_input(data, backend)

    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy
    from lava.proc.io.source import RingBuffer as Source  # lazy: Lava is heavy
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=steps)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)

    out = _supervised(source, sink.data.get, steps, run_config(backend), progress=progress,
                      timeout=timeout, what=net.filename, stall_timeout=stall_timeout,
                      backend=backend)
    out = from_lava_layout(np.asarray(out))
    if fixed:
        out = integer_output(out)          # the sink records floats; the values are integers
    return scale_output(out, net)


def check_network_argument(net_or_path: Any) -> None:
    """OptionError (one line) unless ``net_or_path`` is a ``.net`` file name or a network
    object from :func:`loihi_snn.load` (anything with a ``spec``)."""
    if isinstance(net_or_path, (str, os.PathLike)):
        check_path(net_or_path, "net_or_path")
    elif getattr(net_or_path, "spec", None) is None:
        raise OptionError(f"net_or_path must be a .net file name or a network from "
                          f"loihi_snn.load, got {show(net_or_path)}")


def _supervised(source, read_out, steps: int, cfg, *, progress: Optional[bool],
                timeout: Optional[float], what: str, stall_timeout: Optional[float] = None,
                backend: str = "lava"):
    """Compile, run ``steps`` steps and stop Lava in a supervised child process
    (:func:`~loihi_snn.sim.runtime.guard.run_supervised`), with a step progress bar; returns
    ``read_out()``.  The run goes in 20 chunks when a bar or a timeout needs them, and
    in chunks of at least :data:`STALL_CHUNK_STEPS` steps otherwise (the stall
    deadline's per-chunk allowance)."""
    show = _want_progress(progress, steps)
    parts = 20 if (show or timeout is not None) else \
        max(1, min(20, steps // STALL_CHUNK_STEPS))
    chunks = _chunks(steps, parts)
    bar = None
    if show:
        bar = Progress(steps, "step", f"lava {os.path.basename(what)}")
    try:
        return run_supervised(source, read_out, chunks, cfg, timeout=timeout, what=what,
                              on_progress=None if bar is None else bar.update,
                              stall_timeout=stall_timeout, backend=backend)
    finally:
        if bar is not None:
            bar.close()


def _run_fused(spec, x: np.ndarray, steps: int, graded: bool, progress: Optional[bool],
               timeout: Optional[float], stall_timeout: Optional[float] = None) -> np.ndarray:
    """Backend ``lava-fused`` for a .net path: ONE Lava process
    (:class:`~loihi_snn.sim.lava.procs.fused.process.FusedRun`, AsyncProtocol) that holds the
    input, runs the network and records its output; no source, sink or port traffic.
    Same output (values and time alignment) as ``lava-fixed``.  ``graded``: ``x`` goes
    as graded spikes (:func:`~loihi_snn.sim.runtime.io.is_graded`)."""
    from loihi_snn.sim.lava.procs.fused.process import FusedRun  # lazy: imports Lava
    data = np.asarray(input_transform(spec, x))
    check_integer(data, "lava-fused")
    data = match_input_port(data, spec.input_shape)
    proc = FusedRun(spec=spec, x=data, steps=steps, input_message_bits=message_bits(graded))
    out = np.asarray(_supervised(proc, proc.output, steps, run_config("lava-fused"),
                                 progress=progress, timeout=timeout, what=spec.path,
                                 stall_timeout=stall_timeout, backend="lava-fused"))
    return scale_output(out, proc)


def _run_emulator(net_or_path, x: np.ndarray, steps: int) -> np.ndarray:
    """Backend ``emulator``: :func:`loihi_snn.sim.emulator.emulate` on a batch of one."""
    if isinstance(net_or_path, (str, os.PathLike)):
        spec = read_netx(net_or_path, input_shape=image_shape(x))
    else:
        check_network_argument(net_or_path)
        spec = net_or_path.spec
    check_input_shape(x, spec.input_shape, flat_input(spec), spec.path)
    check_input_range(spec, x)
    check_run_size(spec, x, steps)
    x_port = match_input_port(x, spec.input_shape)
    return emulate(spec, x_port[None], steps, input_message_bits=input_message_bits(x))[0]


# MAX_RUN_BYTES, the most memory the input and output buffers of one run may need, is
# defined beside the input checks in loihi_snn.sim.runtime.io, which bound input files
# and evaluations by it too; LOIHI_SNN_MAX_RUN_BYTES overrides it.


def check_steps(steps: Any) -> int:
    """``steps`` as a positive int, or a one-line OptionError (bools, fractions, NaN...)."""
    if isinstance(steps, (bool, np.bool_)) or not isinstance(steps, (int, np.integer, float,
                                                                     np.floating)):
        raise OptionError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(steps, (float, np.floating)) and not (np.isfinite(steps)
                                                        and steps == int(steps)):
        raise OptionError(f"steps must be a positive integer, got {steps!r}")
    steps = int(steps)
    if steps < 1:
        raise OptionError(f"steps must be >= 1, got {steps}")
    return steps


def check_timeout(timeout: Any) -> Optional[float]:
    """``timeout`` (seconds) as a positive finite float or None; else OptionError."""
    if timeout is None:
        return None
    try:
        value = float(timeout)
    except (TypeError, ValueError):
        raise OptionError(f"timeout must be a positive number of seconds, got {timeout!r}") \
            from None
    if isinstance(timeout, bool) or not (np.isfinite(value) and value > 0):
        raise OptionError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return value


def check_run_size(spec, x: np.ndarray, steps: int) -> None:
    """OptionError when the run's input and output buffers (8 bytes a value, ``steps``
    long) would exceed :data:`MAX_RUN_BYTES` (or ``$LOIHI_SNN_MAX_RUN_BYTES``)."""
    limit = env_int("LOIHI_SNN_MAX_RUN_BYTES", MAX_RUN_BYTES, minimum=1)
    per_step = int(np.prod(x.shape[:-1])) + int(np.prod(spec.output_shape))
    need = 8 * per_step * max(int(steps), int(x.shape[-1]))
    if need > limit:
        raise OptionError(f"{spec.path}: {steps} steps need about {need / 2**30:.3g} GiB of "
                         f"input and output buffers, more than the {limit / 2**30:.3g} GiB "
                         f"allowed (set LOIHI_SNN_MAX_RUN_BYTES to raise it)")


#: smallest chunk of a run without a progress bar or timeout, steps (more chunks than
#: needed cost a Lava pause each; fewer make the stall allowance per chunk coarser)
STALL_CHUNK_STEPS = 64


def _chunks(total: int, parts: int):
    base, extra = divmod(total, parts)
    sizes = [base + (1 if i < extra else 0) for i in range(parts)]
    return [s for s in sizes if s > 0]

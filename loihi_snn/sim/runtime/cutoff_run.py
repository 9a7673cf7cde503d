"""Stream a whole test set through one Lava run, ending each sample by the cutoff rule.

``run_cutoff(path, X)`` loads the network with resettable neurons, feeds the samples
from a :class:`~loihi_snn.sim.lava.procs.cutoff.process.StreamSource` and lets a
:class:`~loihi_snn.sim.lava.procs.cutoff.process.CutoffController` decide when each sample is
done: each sample takes only the steps it needs.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from loihi_snn.core.args import check_flag, check_int, check_path
from loihi_snn.core.cutoff import cutoff_thresholds
from loihi_snn.core.errors import BackendError, OptionError, RunError, ShapeError
from loihi_snn.core.progress import Progress, want_progress
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.netx.inputs import check_input
from loihi_snn.netx.schema import input_transform, read_netx
from loihi_snn.sim.lava.loader import load
from loihi_snn.sim.runtime.guard import run_supervised
from loihi_snn.sim.runtime.io import (check_samples, fixed_point_input, from_lava_layout,
                                      image_shape, input_message_bits, scale_output,
                                      to_lava_layout)
from loihi_snn.sim.runtime.run import check_backend, check_timeout, precision_of, run_config


@dataclass
class CutoffResult:
    """Per-sample decisions of a streamed run.

    ``predictions`` (N,) class indices; ``steps`` (N,) steps each sample used (1-based,
    counted from the sample's first step, including the network's latency);
    ``total_steps`` Lava steps executed; ``wall_seconds`` and ``steps_per_second``
    of the run itself (load and compile excluded); ``outputs`` (N, *output_shape, T)
    each sample's output spikes when recorded (``cutoff=False, record_output=True``).
    """
    predictions: np.ndarray
    steps: np.ndarray
    total_steps: int
    wall_seconds: float
    outputs: Optional[np.ndarray] = None

    @property
    def steps_per_second(self) -> float:
        return self.total_steps / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    @property
    def mean_steps(self) -> float:
        return float(np.mean(self.steps))


def stored_beta(spec, steps: Optional[int] = None) -> Optional[np.ndarray]:
    """The calibrated thresholds stored in a NetX file's ``/cutoff`` group, if any; at
    least ``steps`` of them (else one-line NetxFormatError, see
    :func:`loihi_snn.netx.calibration.load_calibration`)."""
    cal = load_calibration(spec, steps)
    return None if cal is None else cal.beta


def run_cutoff(path: str, X: np.ndarray, *, beta: Optional[np.ndarray] = None,
               cutoff: bool = True, max_steps: Optional[int] = None,
               backend: str = "lava-fixed", progress: Optional[bool] = None,
               record_output: bool = False, timeout: Optional[float] = None,
               stall_timeout: Optional[float] = None) -> CutoffResult:
    """Run N samples through one Lava run with the Top-K cutoff controller.

    Parameters
    ----------
    path : str
        NetX file with CUBA, LIF or TERNARY neurons and a 1-D output layer.
    X : np.ndarray
        (N, *input_shape, T) in file order, time last.
    beta : np.ndarray, optional
        (max_steps,) thresholds; default: the calibration stored in the file.
    cutoff : bool
        ``False`` runs every sample for ``max_steps`` (fixed-T inference).
    max_steps : int, optional
        per-sample step limit, default T.
    backend : {"lava-fixed", "lava-float"}
    record_output : bool
        with ``cutoff=False``: also return every sample's output spikes, exactly those
        of a fresh single-sample run (sample n occupies steps n*T+1 .. (n+1)*T).
    timeout : float, optional
        wall-clock seconds for the whole Lava run (compile included); past it the run
        is stopped and :class:`~loihi_snn.core.errors.RunError` says how far it got.
    stall_timeout : float, optional
        the stall deadline of :func:`loihi_snn.run` (a run whose processes make no
        progress ends in RunError; default ``$LOIHI_SNN_STALL_TIMEOUT`` or 60 s).

    A file with ``layer_start = "first_input"`` runs every sample with each layer
    starting at its first input, as :func:`loihi_snn.run` runs one sample: the scheduled
    reset of :func:`loihi_snn.netx.lower.reset_schedule` counts each sample's own steps
    (the controller's reset restarts it).

    The run goes in a supervised child process (:mod:`loihi_snn.sim.runtime.guard`): a
    process model that fails ends it with a one-line RunError, never a hang, and no
    Lava process outlives the call.

    Returns
    -------
    CutoffResult
    """
    # every argument is checked before the file is read or Lava is imported
    path = check_path(path, "path")
    check_backend(backend)
    if backend in ("emulator", "lava-fused"):
        raise BackendError(f"run_cutoff streams through the Lava cutoff controller (backend "
                           f"lava-fixed, lava-float, loihi2 or auto), not {backend}; for "
                           f"{backend} use offline_cutoff(run_many(path, X, backend="
                           f"'{backend}'), beta), which makes the same decisions")
    max_steps = check_int(max_steps, "max_steps", 1, allow_none=True)
    cutoff = check_flag(cutoff, "cutoff")
    record_output = check_flag(record_output, "record_output")
    check_flag(progress, "progress", allow_none=True)
    check_timeout(timeout)
    if record_output and cutoff:
        raise OptionError("record_output=True needs cutoff=False (every sample then runs "
                          "max_steps)")
    fixed = precision_of(backend) == "fixed"
    X = check_input(X, path=path, integer=fixed, batch=True)   # dtype and rank first
    spec = read_netx(path, input_shape=image_shape(X, batch=True))
    X = check_samples(X, spec, path, integer=fixed)
    N, T = X.shape[0], X.shape[-1]
    max_steps = T if max_steps is None else max_steps
    if not cutoff:
        beta = None
    elif beta is None:
        beta = stored_beta(spec, max_steps)
        if beta is None:
            raise ShapeError(f"{path}: no calibrated thresholds stored in the file; pass "
                             f"beta=... or calibrate first (loihi_snn.core.cutoff.calibrate)")
    if beta is not None:
        # thresholds beyond the calibrated range never stop (as offline_cutoff)
        beta = cutoff_thresholds(beta, max_steps)

    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy

    from loihi_snn.sim.lava.procs.cutoff.process import (  # lazy: imports Lava
        CutoffController, StreamSource)
    net = load(path, precision=precision_of(backend),
               input_message_bits=input_message_bits(X), controlled=True,
               input_shape=image_shape(X, batch=True))
    frames = np.stack([to_lava_layout(input_transform(spec, x), net.input_shape) for x in X])
    if precision_of(backend) == "fixed":
        frames = fixed_point_input(frames, backend)
    num_classes = int(np.prod(net.out.shape))
    source = StreamSource(data=frames)
    controller = CutoffController(num_classes=num_classes, num_samples=N, max_steps=max_steps,
                                  beta=beta, output_scale=getattr(net, "output_scale", 1.0))
    source.s_out.connect(net.inp)
    out = net.out
    if len(out.shape) == 3:
        out = out.transpose([2, 1, 0]).flatten()
    out.connect(controller.s_in)
    controller.advance_out.connect(source.advance_in)
    for port in net.reset_ports:
        controller.reset_out.connect(port)
    sink = None
    if record_output:
        sink = Sink(shape=net.out.shape, buffer=N * max_steps)
        net.out.connect(sink.a_in)

    cfg = run_config(backend)
    show = want_progress(progress, N > 1)      # a bar on a terminal, else plain lines
    bar = None
    if show:
        bar = Progress(N, "sample", f"lava+cutoff {os.path.basename(path)}")
    chunk = max(max_steps, min(N * max_steps, 20 * max_steps))
    limit = N * max_steps + 2
    chunks = [chunk] * (limit // chunk) + ([limit % chunk] if limit % chunk else [])
    seen = [0]

    def on_status(now: int) -> None:
        if bar is not None:
            bar.update(now - seen[0])
        seen[0] = now

    def read_out():
        return (np.asarray(controller.results.get()), int(controller.num_done.get()[0]),
                None if sink is None else np.asarray(sink.data.get()), time.perf_counter())

    t0 = time.perf_counter()
    try:   # compile, run until every sample is decided, stop: in a supervised child process
        (results, done, recorded, t_end), total = run_supervised(
            source, read_out, chunks, cfg, timeout=timeout, stall_timeout=stall_timeout,
            backend=backend,
            what=f"{path} (with the cutoff controller)",
            status=lambda: int(controller.num_done.get()[0]), target=N, on_status=on_status,
            return_steps=True)
    finally:
        if bar is not None:
            bar.close()
    wall = t_end - t0
    results = results.astype(np.int64)
    if done < N:
        raise RunError(f"{path}: only {done} of {N} samples were decided in {total} steps")
    outputs = None
    if recorded is not None:
        recorded = recorded[..., :N * max_steps]
        outputs = scale_output(np.stack([
            from_lava_layout(recorded[..., n * max_steps:(n + 1) * max_steps])
            for n in range(N)]), net)
    return CutoffResult(predictions=results[:, 0], steps=results[:, 1], total_steps=total,
                        wall_seconds=wall, outputs=outputs)

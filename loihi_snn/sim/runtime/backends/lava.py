"""Backends ``lava-fixed``, ``lava-float`` and ``loihi2``: the per-layer Lava process graph.

``run_one``: the network built from the plan's spec (or the Network object the caller
loaded), fed by a ring-buffer source and read by a sink.  ``run_cutoff``: the network
with resettable neurons behind the cutoff controller, which streams every sample
through one run and ends each by the Top-K rule (or after ``max_steps`` with the cutoff
off); ``run_many`` is that stream with the cutoff off and the outputs recorded, which
equals fresh single-sample runs for every network (the controller's reset zeroes the
state and drops stale input, so one sample never leaks into the next).
"""
from __future__ import annotations

import os
import time

import numpy as np

from loihi_snn.core.errors import BackendError, RunError, ShapeError
from loihi_snn.core.lavadl import require_lava
from loihi_snn.core.progress import Progress, want_progress
from loihi_snn.netx.schema import input_transform
from loihi_snn.sim.lava.loader import build_network
from loihi_snn.sim.runtime.backends.base import Backend, CutoffRequest, CutoffResult
from loihi_snn.sim.runtime.guard import run_supervised
from loihi_snn.sim.runtime.io import (fixed_point_input, from_lava_layout, integer_output,
                                      message_bits, pad_steps, scale_output, to_lava_layout)
from loihi_snn.sim.runtime.lava_run import hardware_config, sim_config, supervise


def run_config(name: str):
    """The Lava run configuration of backend ``name``."""
    if name == "loihi2":
        return hardware_config()
    return sim_config("floating_pt" if name == "lava-float" else "fixed_pt")


def _network(plan, controlled: bool = False):
    """The plan's Lava Network: the caller's (checked: run once, right precision and
    input width) or one built from the spec."""
    net = plan.network
    if net is None:
        return build_network(plan.spec, precision=plan.precision,
                             input_message_bits=plan.input_message_bits,
                             controlled=controlled)
    if getattr(net, "_loihi_snn_used", False):
        raise RunError("this Network object was already run; Lava processes run once. "
                       "Load it again (or pass the .net path) for another run")
    if getattr(net, "precision", "fixed") != plan.precision:
        raise BackendError(f"network was loaded with precision '{net.precision}' but "
                           f"backend '{plan.backend}' needs '{plan.precision}'")
    if getattr(net, "input_message_bits", None) == 0 and plan.graded:
        # a network built for binary spikes counts every non-zero value as one spike:
        # it would run differently from the path (and from every other backend)
        raise ShapeError(f"{net.filename}: graded input (values other than 0/1) for a "
                         f"network loaded for binary spikes; load it with "
                         f"input_message_bits={message_bits(True)} or pass the .net path")
    net._loihi_snn_used = True
    return net


def run_network(plan, opts, cfg) -> np.ndarray:
    """One sample through a Lava Network (per-layer or a FusedNetwork) between a source
    and a sink; output in file order, time last."""
    net = _network(plan)
    data = pad_steps(to_lava_layout(input_transform(plan.spec, plan.x), net.input_shape),
                     plan.steps)
    if plan.fixed:
        data = fixed_point_input(data, plan.backend)
    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy
    from lava.proc.io.source import RingBuffer as Source  # lazy: Lava is heavy
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=plan.steps)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    out = from_lava_layout(np.asarray(supervise(source, sink.data.get, plan.steps, cfg, opts,
                                                what=net.filename, backend=plan.backend)))
    if plan.fixed:
        out = integer_output(out)          # the sink records floats; the values are integers
    return scale_output(out, net)


def run_one(plan, opts) -> np.ndarray:
    if plan.network is not None and getattr(plan.network, "fused", False):
        raise BackendError(f"a FusedNetwork runs on backend 'lava-fused', not "
                           f"'{plan.backend}'")
    return run_network(plan, opts, run_config(plan.backend))


def run_cutoff(plan, opts, request: CutoffRequest) -> CutoffResult:
    """Every sample of the batch plan through one Lava run behind the cutoff controller
    (:class:`~loihi_snn.sim.lava.procs.cutoff.process.CutoffController`)."""
    from lava.proc.io.sink import RingBuffer as Sink  # lazy: Lava is heavy

    from loihi_snn.sim.lava.procs.cutoff.process import (  # lazy: imports Lava
        CutoffController, StreamSource)
    X, spec, path = plan.x, plan.spec, plan.path
    N, max_steps = X.shape[0], request.max_steps
    net = build_network(spec, precision=plan.precision,
                        input_message_bits=plan.input_message_bits, controlled=True)
    frames = np.stack([to_lava_layout(input_transform(spec, x), net.input_shape) for x in X])
    if plan.fixed:
        frames = fixed_point_input(frames, plan.backend)
    num_classes = int(np.prod(net.out.shape))
    source = StreamSource(data=frames)
    controller = CutoffController(num_classes=num_classes, num_samples=N, max_steps=max_steps,
                                  beta=request.beta,
                                  output_scale=getattr(net, "output_scale", 1.0))
    source.s_out.connect(net.inp)
    out = net.out
    if len(out.shape) == 3:
        out = out.transpose([2, 1, 0]).flatten()
    out.connect(controller.s_in)
    controller.advance_out.connect(source.advance_in)
    for port in net.reset_ports:
        controller.reset_out.connect(port)
    sink = None
    if request.record_output:
        sink = Sink(shape=net.out.shape, buffer=N * max_steps)
        net.out.connect(sink.a_in)

    show = want_progress(opts.progress, N > 1)      # a bar on a terminal, else plain lines
    bar = Progress(N, "sample", f"lava+cutoff {os.path.basename(path)}") if show else None
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
            source, read_out, chunks, run_config(plan.backend), timeout=opts.timeout,
            stall_timeout=opts.stall_timeout, backend=plan.backend,
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


def run_many(plan, opts) -> np.ndarray:
    """The batch streamed behind the controller with the cutoff off, outputs recorded."""
    return run_cutoff(plan, opts, CutoffRequest(beta=None, max_steps=plan.T,
                                                record_output=True)).outputs


def _needs_lava(name: str):
    def check() -> None:
        require_lava(f"backend '{name}'")   # one line: what is missing and how to get it
        if name == "loihi2":
            hardware_config()              # the BackendError naming lava-loihi
    return check


BACKENDS = tuple(Backend(name=name, description=text, precision=precision, run_one=run_one,
                         run_many=run_many, run_cutoff=run_cutoff,
                         check_available=_needs_lava(name), takes_network=True)
                 for name, precision, text in (
    ("lava-fixed", "fixed",
     "Lava CPU simulation, bit-accurate fixed point (Loihi2SimCfg fixed_pt)"),
    ("lava-float", "float",
     "Lava CPU simulation, floating point models (Loihi2SimCfg floating_pt)"),
    ("loihi2", "fixed", "Loihi 2 hardware (Loihi2HwCfg; needs Intel's lava-loihi extension)"),
))

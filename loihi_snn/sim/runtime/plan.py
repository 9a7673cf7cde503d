"""A run, planned once: the file read and validated, the input checked, nothing run yet.

Every public runner (``run``, ``run_many``, ``run_cutoff``, ``eval`` and the CLI through
them) builds one :class:`RunPlan` and hands it to a backend
(:mod:`loihi_snn.sim.runtime.backends`)::

    path or spec, input -> RunPlan (read once, validate, check the input)
                        -> Backend.run_one / run_many / run_cutoff
                        -> output spikes / CutoffResult

The plan holds everything a backend needs and nothing it has to recompute: the
validated :class:`~loihi_snn.netx.schema.NetSpec` (the file is opened exactly once, by
:func:`plan_one` / :func:`plan_batch`), the input after the shared input boundary
(:mod:`loihi_snn.netx.inputs`: dtype, shape, the graded range that keeps ``lava-fixed``
exact, the run-byte limit), the step count and the input's message width.

Records only: this module imports no Lava and no backend.  ``backend`` in the builders is
any object with ``name`` and ``precision`` (a :class:`~loihi_snn.sim.runtime.backends.base.Backend`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from loihi_snn.core.args import check_path, show
from loihi_snn.core.errors import OptionError, ShapeError
from loihi_snn.netx.inputs import check_input, check_input_range
from loihi_snn.netx.schema import NetSpec, read_netx
from loihi_snn.sim.runtime.io import (check_input_shape, flat_input, image_shape,
                                      input_message_bits, is_graded, max_run_bytes)


@dataclass(frozen=True)
class RunPlan:
    """One planned run (immutable).

    Attributes
    ----------
    backend : str
        the resolved backend name (``auto`` already decided).
    precision : {"fixed", "float"}
    spec : NetSpec
        the validated network (read once from ``path``, or given).
    path : str
        the file (for messages; a given spec's ``path``).
    x : np.ndarray
        one sample (*input, T) -- or a batch (N, *input, T) when ``batch`` -- after the
        input boundary, file order, time last.
    batch : bool
    steps : int
        steps per sample (>= T; input beyond T is zero).
    graded : bool
        the input holds values other than 0/1 (sent as graded spikes).
    input_message_bits : int
        0 for binary spikes, the graded width otherwise.
    network : object, optional
        a Lava Network from :func:`loihi_snn.load` the caller passed (run once), else
        None: the backend builds its own from ``spec``.
    """
    backend: str
    precision: str
    spec: NetSpec
    path: str
    x: np.ndarray
    batch: bool
    steps: int
    graded: bool
    input_message_bits: int
    network: Any = None

    @property
    def fixed(self) -> bool:
        return self.precision == "fixed"

    @property
    def num_samples(self) -> int:
        return int(self.x.shape[0]) if self.batch else 1

    @property
    def T(self) -> int:
        return int(self.x.shape[-1])


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


def check_run_size(spec: NetSpec, x: np.ndarray, steps: int, samples: int = 1) -> None:
    """OptionError when the run's input and output buffers (8 bytes a value, ``steps``
    long) would exceed the run-byte limit (:func:`~loihi_snn.sim.runtime.io.max_run_bytes`,
    ``$LOIHI_SNN_MAX_RUN_BYTES``).  ``x``: one sample (*input, T), or a batch (N, *input,
    T) with ``samples`` = N."""
    limit = max_run_bytes()
    per_step = int(np.prod(x.shape[:-1])) + int(samples) * int(np.prod(spec.output_shape))
    need = 8 * per_step * max(int(steps), int(x.shape[-1]))
    if need > limit:
        raise OptionError(f"{spec.path}: {steps} steps need about {need / 2**30:.3g} GiB of "
                          f"input and output buffers, more than the {limit / 2**30:.3g} GiB "
                          f"allowed (set LOIHI_SNN_MAX_RUN_BYTES to raise it)")


def check_network_argument(net_or_path: Any) -> None:
    """OptionError (one line) unless ``net_or_path`` is a ``.net`` file name, a
    :class:`NetSpec` or a network object from :func:`loihi_snn.load` (with a ``spec``)."""
    if isinstance(net_or_path, (str, os.PathLike)):
        check_path(net_or_path, "net_or_path")
    elif not isinstance(net_or_path, NetSpec) and getattr(net_or_path, "spec", None) is None:
        raise OptionError(f"net_or_path must be a .net file name or a network from "
                          f"loihi_snn.load, got {show(net_or_path)}")


def _spec_of(net_or_path: Any, x: np.ndarray, batch: bool):
    """(spec, path, network) -- the file read here, once."""
    if isinstance(net_or_path, (str, os.PathLike)):
        spec = read_netx(net_or_path, input_shape=image_shape(x, batch=batch))
        return spec, spec.path, None
    if isinstance(net_or_path, NetSpec):
        return net_or_path, net_or_path.path, None
    return net_or_path.spec, getattr(net_or_path, "filename", net_or_path.spec.path), \
        net_or_path


def plan_one(net_or_path: Any, x: Any, steps: Optional[int], backend) -> RunPlan:
    """The plan of one sample ``x`` (*input, T) on ``backend``: the input boundary first
    (before the file is read), then the file (read once), the input's shape and range
    against the network, the step count and the run-byte limit."""
    check_network_argument(net_or_path)
    fixed = backend.precision == "fixed"
    where = os.fspath(net_or_path) if isinstance(net_or_path, (str, os.PathLike)) else None
    x = check_input(x, path=where, integer=fixed)
    steps = check_steps(x.shape[-1] if steps is None else steps)
    spec, path, network = _spec_of(net_or_path, x, batch=False)
    if network is not None:
        flat = len(getattr(network, "input_shape", spec.input_shape)) == 1
    else:
        flat = flat_input(spec)
    check_input_shape(x, spec.input_shape, flat, path)
    if fixed:
        check_input_range(spec, x)
    check_run_size(spec, x, steps)
    return RunPlan(backend=backend.name, precision=backend.precision, spec=spec, path=path,
                   x=x, batch=False, steps=steps, graded=is_graded(x),
                   input_message_bits=input_message_bits(x), network=network)


def plan_batch(path: Any, X: Any, backend, steps: Optional[int] = None) -> RunPlan:
    """The plan of a batch ``X`` (N, *input, T) of samples on ``backend`` (``path``: a
    ``.net`` file or a NetSpec), read and checked once as :func:`plan_one`."""
    if isinstance(path, NetSpec):
        where = path.path
    else:
        where = check_path(path, "path")
    fixed = backend.precision == "fixed"
    X = check_input(X, path=where, integer=fixed, batch=True)   # dtype and rank first
    spec, where, _ = _spec_of(path, X, batch=True)
    if tuple(X.shape[1:-1]) != tuple(spec.input_shape):
        raise ShapeError(f"{where}: expected samples of shape (N, "
                         f"{', '.join(map(str, spec.input_shape))}, T), got {X.shape}")
    if fixed:
        check_input_range(spec, X)
    steps = check_steps(X.shape[-1] if steps is None else steps)
    check_run_size(spec, X, steps, samples=X.shape[0])
    return RunPlan(backend=backend.name, precision=backend.precision, spec=spec, path=where,
                   x=X, batch=True, steps=steps, graded=is_graded(X),
                   input_message_bits=input_message_bits(X))

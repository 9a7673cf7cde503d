"""Processes, devices and determinism for training.

Under ``torchrun`` (``RANK``/``WORLD_SIZE`` in the environment) training is
data-parallel: one process per rank, ``DistributedDataParallel`` with a
``gloo`` (CPU) or ``nccl`` (CUDA) process group.  Outside it, :class:`Dist` is
rank 0 of a world of one and every helper here is a no-op pass-through.
"""
from __future__ import annotations

import contextlib
import faulthandler
import gc
import os
import random
import sys
import time
from datetime import timedelta
from dataclasses import dataclass
from typing import Iterator, List

import numpy as np
import torch
import torch.distributed as td

from loihi_snn.core.limits import env_int
from loihi_snn.train.config import ConfigError

__all__ = ["Dist", "all_sum", "barrier", "deterministic", "dist_from_env", "pick_device",
           "process_group", "seed_everything"]


@dataclass
class Dist:
    """This process in a ``torchrun`` job: ``rank`` of ``world_size``, GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def dist_from_env() -> Dist:
    """:class:`Dist` from ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (set by ``torchrun``)."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        rank = env_int("RANK", 0, minimum=0)
        return Dist(rank, env_int("WORLD_SIZE", 1, minimum=1),
                    env_int("LOCAL_RANK", rank, minimum=0))
    return Dist()


def pick_device(requested: str, dist: Dist) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"auto"`` -> a torch device (CUDA: GPU ``local_rank``).

    Raises:
        ConfigError: ``"cuda"`` requested but torch sees no CUDA device.
    """
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but torch sees no CUDA device; use "
                          "--device cpu or auto")
    use_cuda = requested == "cuda" or (requested == "auto" and torch.cuda.is_available())
    if use_cuda:
        return torch.device("cuda", dist.local_rank % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def all_sum(values: List[float], dist: Dist, device) -> List[float]:
    """Element-wise sum of ``values`` over every rank (float64); ``values`` when alone."""
    if not dist.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    td.all_reduce(t)
    return t.tolist()


#: seconds any collective of the training group may wait for the other ranks
#: (``LOIHI_SNN_DDP_TIMEOUT``): past it the collective raises instead of waiting forever
DDP_TIMEOUT_S = 1800
#: seconds the group's worker threads get to finish the last collective's bookkeeping before
#: the group is destroyed
SETTLE_S = 0.25
#: seconds destroying the group may take before the process is ended
DESTROY_DEADLINE_S = 120


@contextlib.contextmanager
def process_group(dist: Dist, device: torch.device) -> Iterator[None]:
    """Inside the block, a process group for a ``torchrun`` job (nccl on CUDA, else gloo).

    Every collective has a deadline (:data:`DDP_TIMEOUT_S`, ``LOIHI_SNN_DDP_TIMEOUT``).
    Only a group created here is destroyed on leaving (:func:`_destroy_group`); one set up
    by the caller stays.
    """
    own_group = False
    if dist.enabled and not td.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        timeout = env_int("LOIHI_SNN_DDP_TIMEOUT", DDP_TIMEOUT_S, minimum=1)
        td.init_process_group("nccl" if device.type == "cuda" else "gloo",
                              timeout=timedelta(seconds=timeout))
        own_group = True
    try:
        yield
    finally:
        if own_group and td.is_initialized():
            _destroy_group()


def _destroy_group() -> None:
    """Destroy the default group without risking a silent hang.

    torch 2.3's gloo group joins its worker threads in its destructor while holding the GIL;
    a worker still finishing the last collective (releasing tensors that Python objects keep)
    waits for that GIL, and both wait forever.  So the workers first get :data:`SETTLE_S`
    seconds with the GIL free, and the destruction runs under a C-level watchdog
    (``faulthandler``, which needs no GIL): past :data:`DESTROY_DEADLINE_S` it prints where
    every thread stood and ends the process with status 1 rather than hang.
    """
    gc.collect()
    time.sleep(SETTLE_S)
    sys.stdout.flush()
    sys.stderr.flush()
    faulthandler.dump_traceback_later(DESTROY_DEADLINE_S, exit=True)
    try:
        td.destroy_process_group()
    finally:
        faulthandler.cancel_dump_traceback_later()


def barrier(dist: Dist) -> None:
    """Wait for every rank (no-op outside ``torchrun``)."""
    if dist.enabled:
        td.barrier()


@contextlib.contextmanager
def deterministic(device: torch.device) -> Iterator[None]:
    """Deterministic torch algorithms inside the block (restored afterwards)."""
    prev = (torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev[0], warn_only=prev[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev[2], prev[3]


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

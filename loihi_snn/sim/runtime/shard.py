"""Sharding a batch plan over worker threads, each driving its own supervised Lava run.

``run_many(..., workers=N)`` and ``run_cutoff(..., workers=N)`` split the samples of a
:class:`~loihi_snn.sim.runtime.plan.RunPlan` into N contiguous shards and run each
shard's backend call in a thread of this process; every Lava run is still one
supervised child process (:mod:`loihi_snn.sim.runtime.guard`), so N shards are N Lava
runs side by side, using N cores.  Samples are independent (every runner gives each
sample a fresh state), so the result equals one run's: outputs concatenated in sample
order, cutoff decisions likewise (``total_steps`` summed, ``wall_seconds`` the
longest shard's).  Beyond one machine, shard the data by rank under torchrun
(:func:`shard_of`) and gather the results with ``torch.distributed``, as training does.
"""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Sequence

import numpy as np

from loihi_snn.core.args import check_int
from loihi_snn.sim.runtime.backends.base import CutoffResult


def check_workers(workers) -> int:
    """``workers`` as an int >= 1 (OptionError otherwise)."""
    return check_int(workers, "workers", 1)


def shards(n: int, workers: int) -> List[np.ndarray]:
    """Contiguous index ranges of ``n`` samples in ``min(workers, n)`` near-equal parts."""
    return [idx for idx in np.array_split(np.arange(n), max(1, min(int(workers), n)))
            if idx.size]


def shard_of(n: int, rank: int, world: int) -> np.ndarray:
    """The sample indices rank ``rank`` of ``world`` takes (contiguous, near-equal)."""
    return shards(n, world)[rank] if rank < min(world, n) else np.arange(0)


def run_sharded(call: Callable, plan, workers: int) -> list:
    """``call(sub_plan)`` for every shard of ``plan`` (a batch plan), in ``workers``
    threads; the results in shard order.  The first shard error is raised after every
    shard has ended (each Lava run cleans up after itself)."""
    parts = shards(plan.num_samples, workers)
    if len(parts) == 1:
        return [call(plan)]
    plans = [dataclasses.replace(plan, x=plan.x[idx]) for idx in parts]
    with ThreadPoolExecutor(max_workers=len(plans),
                            thread_name_prefix="loihi-snn-shard") as pool:
        futures = [pool.submit(call, p) for p in plans]
        errors = [f.exception() for f in futures]
    for exc in errors:
        if exc is not None:
            raise exc
    return [f.result() for f in futures]


def concat_outputs(parts: Sequence[np.ndarray]) -> np.ndarray:
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def concat_cutoff(parts: Sequence[CutoffResult]) -> CutoffResult:
    if len(parts) == 1:
        return parts[0]
    outs = [p.outputs for p in parts]
    return CutoffResult(predictions=np.concatenate([p.predictions for p in parts]),
                        steps=np.concatenate([p.steps for p in parts]),
                        total_steps=int(sum(p.total_steps for p in parts)),
                        wall_seconds=float(max(p.wall_seconds for p in parts)),
                        outputs=None if any(o is None for o in outs) else np.concatenate(outs))

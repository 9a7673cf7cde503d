"""Run by tests/e2e/test_no_hang.py in a FRESH interpreter, the way a user's script runs.

argv: THREADS PLAN.json
- THREADS: torch intra-op threads to set before anything (0 = torch's default);
- PLAN.json: {"warm": "conv" | "train" | "none", "cases": [[name, path, [calls...]], ...],
  "train_dir": str}

First the process uses torch's thread pool as users' processes do (a torch conv on many
threads, or a short training run), then runs each case's calls in the order given and
compares every result with the emulator's.  Prints one JSON object (per case and call:
equal, seconds) on the last line of stdout.  Every Lava run has a short stall deadline
(LOIHI_SNN_STALL_TIMEOUT, set by the test), so a regression ends in a RunError, not a hang.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np
import torch

threads = int(sys.argv[1])
if threads:
    torch.set_num_threads(threads)
plan = json.loads(open(sys.argv[2]).read())

if plan["warm"] == "conv":           # torch's OpenMP pool, as after any torch work
    x = torch.randn(8, 16, 32, 32)
    w = torch.randn(16, 16, 3, 3)
    for _ in range(3):
        torch.nn.functional.conv2d(x, w, padding=1).sum().item()

import loihi_snn  # noqa: E402  (after torch, as in a user's script)

if plan["warm"] == "train":          # training first, on the threads given
    from loihi_snn.train.config import TrainConfig
    from loihi_snn.train.loop import train
    cfg = TrainConfig.from_dict({
        "preset": "digits-small", "name": "tiny", "train_limit": 96, "test_limit": 16,
        "val_fraction": 0.25, "T": 8, "architecture": [{"type": "dense", "out": 16},
                                                      {"type": "dense"}],
        "epochs": 1, "batch_size": 16})
    train(cfg, plan["train_dir"], lava=False, verbose=False)

report = {"threads": torch.get_num_threads(), "cases": {}}
for name, path, calls in plan["cases"]:
    spec = loihi_snn.read_netx(path)
    rng = np.random.default_rng(0)
    shape = (2,) + tuple(spec.input_shape) + (10,)
    X = (rng.random(shape) < 0.3).astype(np.int8)
    if not np.count_nonzero(loihi_snn.emulate(path, X)):     # a graded-input network
        X = rng.integers(0, 41, size=shape).astype(np.int16)
    ref = None
    rows = {}
    for call in calls:
        t0 = time.perf_counter()
        if call == "emulator":
            y = loihi_snn.emulate(path, X)
        elif call == "run_many":
            y = loihi_snn.run_many(path, X, backend="lava-fused")
        elif call == "run_cutoff":
            r = loihi_snn.run_cutoff(path, X, cutoff=False, record_output=True)
            y = r.outputs
        else:                          # one run per sample on a backend
            y = np.stack([loihi_snn.run(path, x, backend=call) for x in X])
        if ref is None:
            ref = loihi_snn.emulate(path, X) if call != "emulator" else y
        rows[call] = {"equal": bool(np.array_equal(np.asarray(y), np.asarray(ref))),
                      "nonzero": int(np.count_nonzero(y)),
                      "seconds": round(time.perf_counter() - t0, 3)}
    report["cases"][name] = rows
print(json.dumps(report))

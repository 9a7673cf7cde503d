"""Runtime benchmark: stock lava-dl netx vs loihi_snn's per-layer Lava, fused Lava, emulator.

One run times, on the same inputs and checks bit-exact agreement of every runner:

- (a) oxford: lava-dl's 200-256-200 CUBA network with its real input;
- (b) conv: a random SLAYER CUBA conv net (2x32x32 -> conv8 -> conv16/2 -> dense10);
- (c) digits: the trained 64-128-10 CUBA model in netx_models/digits_cuba (or, when
  it is absent, a random untrained SLAYER one) on rate-coded sklearn test digits;

with these runners: stock ``lava.lib.dl.netx`` (fixed_pt), our per-layer network
(``loihi_snn.load``), our fused network with ports between a source and a sink
(``FusedNetwork``, LoihiProtocol: one runtime handshake per step), the fused network
as one Lava process holding its input and output (``FusedRun``, AsyncProtocol: what
``loihi_snn.run(..., backend="lava-fused")`` runs) and the numpy emulator at batch 1
and at batch ``--batch``.  Lava rates are steady
state: the first step (compile + process start) is timed separately as "start s".
It also times a SLAYER training step (forward + backward, batch 32, T 16, 64-128-10).

Usage::

    python bench/bench_runtime.py [--size small|full] [--batch 256] [--json OUT]
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED_NETX = Path(os.environ.get("LOIHI_SNN_SHARED_NETX",
                                  ROOT.parent / "shared" / "data" / "lava-dl-netx"))

SIZES = {   # steps per network, training iterations
    "small": {"oxford": 200, "conv": 40, "digits": 100, "train_iters": 5, "batch_steps": 50},
    "full": {"oxford": 2000, "conv": 300, "digits": 1000, "train_iters": 30, "batch_steps": 300},
}
NEURON = {"threshold": 1.0, "current_decay": 0.25, "voltage_decay": 0.03,
          "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}


# ----------------------------------------------------------------------------- networks

def export_slayer(blocks, x, path: Path, input_shape=None) -> None:
    import torch
    from loihi_snn.torch.export import export_blocks
    blocks.eval()
    with torch.no_grad():
        y = x
        for b in blocks:
            y = b(y)                        # sets SLAYER's lazy shapes
    export_blocks(blocks, path, input_shape=input_shape)


def oxford_case(steps: int, batch: int, rng) -> Dict[str, Any]:
    from loihi_snn.core.lavadl import lava_dl
    slayer = lava_dl().slayer
    events = slayer.io.read_np_spikes(str(SHARED_NETX / "oxford" / "input.npy"))
    x = np.asarray(events.to_tensor(dim=(1, 200, 2000))).reshape(200, 2000)[:, :steps]
    # batch: the real input rolled in time by a different amount per sample
    X = np.stack([np.roll(x, int(s), axis=-1) for s in rng.integers(0, steps, size=batch)])
    X[0] = x
    return {"name": "oxford 200-256-200 (real input)", "path": SHARED_NETX / "oxford" / "network.net",
            "x": x.astype(np.int8), "X": X.astype(np.int8)}


def conv_case(steps: int, batch: int, rng, tmp: Path) -> Dict[str, Any]:
    import torch
    from loihi_snn.core.lavadl import lava_dl
    slayer = lava_dl().slayer
    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 8, 3, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(NEURON, 8, 16, 3, stride=2, padding=1, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 16 * 16 * 16, 10, weight_scale=3)])
    X = (rng.random((batch, 2, 32, 32, steps)) < 0.1).astype(np.int8)
    path = tmp / "conv.net"
    export_slayer(blocks, torch.from_numpy(X[:1]).float(), path, input_shape=(2, 32, 32))
    return {"name": "conv 2x32x32-c8-c16/2-10 (random)", "path": path, "x": X[0], "X": X}


def digits_case(steps: int, batch: int, rng, tmp: Path) -> Dict[str, Any]:
    import torch
    from loihi_snn.core.lavadl import lava_dl
    from loihi_snn.train.datasets import load_dataset
    slayer = lava_dl().slayer
    torch.manual_seed(1)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Dense(NEURON, 64, 128, weight_scale=2),
        slayer.block.cuba.Dense(NEURON, 128, 10, weight_scale=2)])
    ds = load_dataset("digits", split="test", T=steps, encoding="rate", limit=batch)
    X = np.asarray(ds.inputs).astype(np.int8)          # (N, 64, T) 0/1
    if X.shape[0] < batch:
        X = np.concatenate([X] * (batch // X.shape[0] + 1))[:batch]
    trained = ROOT / "netx_models" / "digits_cuba" / "digits_cuba.net"
    if trained.exists():                                # the trained reference model
        return {"name": "digits 64-128-10 (netx_models/digits_cuba, rate-coded test digits)",
                "path": trained, "x": X[0], "X": X}
    path = tmp / "digits.net"
    export_slayer(blocks, torch.from_numpy(X[:1]).float(), path)
    return {"name": "digits 64-128-10 (untrained, rate-coded digits)", "path": path,
            "x": X[0], "X": X}


# ----------------------------------------------------------------------------- runners

def _timed_lava_run(process, read_out: Callable[[], np.ndarray], steps: int,
                    t_build: float) -> Dict[str, Any]:
    """Run ``process``'s graph (fixed_pt): the first step (compile, start) timed apart,
    then steps-1 steady state; ``read_out()`` before the runtime is stopped (always)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from loihi_snn.sim.runtime.run import stopping
    cfg = Loihi2SimCfg(select_tag="fixed_pt")
    with stopping(process):
        process.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
        t0 = time.perf_counter()
        process.run(condition=RunSteps(num_steps=steps - 1), run_cfg=cfg)
        t1 = time.perf_counter()
        out = read_out()
    return {"out": out, "steps": steps, "steps_per_s": (steps - 1) / (t1 - t0),
            "start_s": t0 - t_build, "wall_s": t1 - t_build}


def time_lava(make_net: Callable[[], Any], x_file: np.ndarray, steps: int) -> Dict[str, Any]:
    """Source -> net -> Sink, fixed_pt: first step timed apart, then steps-1 steady state.
    Returns output in file order and the timings.  The runtime is always stopped."""
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.sim.runtime.io import from_lava_layout, to_lava_layout
    t_build = time.perf_counter()
    net = make_net()
    data = to_lava_layout(x_file[..., :steps], net.inp.shape).astype(np.int32)
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=steps)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    return _timed_lava_run(source, lambda: from_lava_layout(np.asarray(sink.data.get())),
                           steps, t_build)


def time_fused_run(path: Path, x_file: np.ndarray, steps: int) -> Dict[str, Any]:
    """FusedRun: the network, its input and its output recording as ONE Lava process
    (AsyncProtocol), as ``loihi_snn.run(path, x, backend="lava-fused")`` runs it; timed
    like :func:`time_lava` (first step apart, then steps-1).  Always stopped."""
    from loihi_snn.sim.lava.procs.fused.process import FusedRun
    t_build = time.perf_counter()
    proc = FusedRun(spec=path, x=x_file[..., :steps], steps=steps)
    return _timed_lava_run(proc, proc.output, steps, t_build)


def time_emulator(path: Path, X: np.ndarray, steps: int) -> Dict[str, Any]:
    from loihi_snn.sim.emulator import Emulator
    t_build = time.perf_counter()
    emu = Emulator(path)
    t0 = time.perf_counter()
    out = emu.run(X[..., :steps])
    t1 = time.perf_counter()
    times = [t1 - t0]
    # a run shorter than a second is timed up to 3 times (median), so that one burst of
    # other work on a shared machine does not decide the row
    while len(times) < 3 and sum(times) < 1.0:
        t = time.perf_counter()
        emu.run(X[..., :steps])
        times.append(time.perf_counter() - t)
    dt = float(np.median(times))
    n = X.shape[0]
    return {"out": out, "steps": steps, "steps_per_s": steps / dt,
            "sample_steps_per_s": n * steps / dt, "start_s": t0 - t_build,
            "wall_s": t0 - t_build + dt, "batch": n, "repeats": len(times)}


def bench_network(case: Dict[str, Any], steps: int, batch_steps: int) -> List[Dict[str, Any]]:
    from loihi_snn import load
    from loihi_snn.core.lavadl import lava_dl
    from loihi_snn.sim.lava.procs.fused.process import FusedNetwork
    path = case["path"]
    netx = lava_dl().netx
    runs = [
        ("stock netx", lambda: time_lava(lambda: netx.hdf5.Network(net_config=str(path)),
                                         case["x"], steps)),
        ("loihi_snn per-layer", lambda: time_lava(lambda: load(path), case["x"], steps)),
        ("fused, ports (Loihi)", lambda: time_lava(lambda: FusedNetwork.from_netx(path),
                                                  case["x"], steps)),
        ("fused, 1 process (async)", lambda: time_fused_run(path, case["x"], steps)),
        ("emulator batch 1", lambda: time_emulator(path, case["x"][None], steps)),
        (f"emulator batch {case['X'].shape[0]}",
         lambda: time_emulator(path, case["X"], min(steps, batch_steps))),
    ]
    rows, ref = [], None
    for runner, fn in runs:
        print(f"  {runner} ...", flush=True)
        r = fn()
        out = r.pop("out")
        if ref is None:
            ref = out                                   # stock netx, file order, time last
        first = out[0] if runner.startswith("emulator") else out
        k = first.shape[-1]
        exact = bool(np.array_equal(first, ref[..., :k]))
        if runner.startswith("emulator") and out.shape[0] > 1:
            # the rest of the batch equals batch-1 emulation, sample by sample (spot check)
            from loihi_snn.sim.emulator import Emulator
            emu = Emulator(path)
            for i in (1, out.shape[0] - 1):
                exact &= bool(np.array_equal(out[i], emu.run(case["X"][i:i + 1, ..., :k])[0]))
        r.update(network=case["name"], runner=runner, exact=exact,
                 spikes=int(np.count_nonzero(first)))
        rows.append(r)
    stock = rows[0]["steps_per_s"]
    for r in rows:
        r["x_stock"] = r.get("sample_steps_per_s", r["steps_per_s"]) / stock
        r["e2e_steps_per_s"] = r["steps"] / r["wall_s"]
    return rows


# ----------------------------------------------------------------------------- training

def bench_training(iters: int) -> List[Dict[str, Any]]:
    """SLAYER training step (forward + backward), batch 32, T 16, 64-128-10."""
    import torch
    from loihi_snn.core.lavadl import lava_dl
    slayer = lava_dl().slayer
    params = dict(NEURON, requires_grad=True)

    def stock_blocks():
        return torch.nn.ModuleList([slayer.block.cuba.Dense(params, 64, 128, weight_scale=2),
                                    slayer.block.cuba.Dense(params, 128, 10, weight_scale=2)])

    candidates = [("slayer.block.cuba.Dense (stock)", stock_blocks)]

    def lif_blocks(**variant):
        import loihi_snn.torch.blocks as ours
        p = {k: v for k, v in params.items() if k != "requires_grad"}
        p.update(variant)
        return lambda: torch.nn.ModuleList([ours.Dense(p, 64, 128, weight_scale=2),
                                            ours.Dense(p, 128, 10, weight_scale=2)])

    candidates += [("loihi_snn.torch.blocks.Dense (LIF, hard reset)", lif_blocks()),
                   ("loihi_snn.torch.blocks.Dense (LIF, soft reset)", lif_blocks(reset="soft")),
                   ("loihi_snn.torch.blocks.Dense (ternary)", lif_blocks(spike="ternary"))]

    torch.manual_seed(0)
    x = (torch.rand(32, 64, 16) < 0.2).float()
    labels = torch.randint(0, 10, (32,))
    loss_fn = slayer.loss.SpikeRate(true_rate=0.2, false_rate=0.03, reduction="sum")
    rows = []
    for name, make in candidates:
        blocks = make()
        blocks.train()

        def step():
            y = x
            for b in blocks:
                y = b(y)
            loss = loss_fn(y, labels)
            blocks.zero_grad()
            loss.backward()

        step()                                            # warm-up (lazy shapes, caches)
        t0 = time.perf_counter()
        for _ in range(iters):
            step()
        dt = (time.perf_counter() - t0) / iters
        rows.append({"block": name, "ms_per_step": 1000 * dt, "samples_per_s": 32 / dt,
                     "iters": iters, "threads": torch.get_num_threads()})
    return rows


# ----------------------------------------------------------------------------- main

def print_table(rows: List[Dict[str, Any]]) -> None:
    head = (f"{'network':<24} {'runner':<26} {'steps':>6} {'steps/s':>9} "
            f"{'sample-steps/s':>15} {'x stock':>8} {'start s':>8} {'e2e steps/s':>12} "
            f"{'exact':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        sps = r.get("sample_steps_per_s")
        print(f"{r['network'].split(' (')[0]:<24} {r['runner']:<26} {r['steps']:>6} "
              f"{r['steps_per_s']:>9.1f} {(f'{sps:.0f}' if sps else '-'):>15} "
              f"{r['x_stock']:>8.1f} {r['start_s']:>8.2f} {r['e2e_steps_per_s']:>12.1f} "
              f"{('yes' if r['exact'] else 'NO'):>6}")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="full",
                    help="small: a quick check; full: the numbers to report (default)")
    ap.add_argument("--batch", type=int, default=256, help="emulator batch size (default 256)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    args = ap.parse_args(argv)
    size = SIZES[args.size]

    from loihi_snn.core.lavadl import ensure_lava_runtime, lava_dl, quiet
    ensure_lava_runtime()
    with quiet():
        lava_dl()
    from loihi_snn.core import provenance
    command = " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv)
    info = provenance.record(command)          # revision, machine and load at the start
    print("\n".join(provenance.markdown_lines(info)))
    rng = np.random.default_rng(0)
    rows: List[Dict[str, Any]] = []
    t_all = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cases = [(oxford_case(size["oxford"], args.batch, rng), size["oxford"]),
                 (conv_case(size["conv"], args.batch, rng, tmp), size["conv"]),
                 (digits_case(size["digits"], args.batch, rng, tmp), size["digits"])]
        for case, steps in cases:
            print(f"{case['name']}: {steps} steps", flush=True)
            rows += bench_network(case, steps, size["batch_steps"])
    print("training ...", flush=True)
    train = bench_training(size["train_iters"])

    print()
    print_table(rows)
    print()
    for case, _ in cases:
        print(f"{case['name'].split(' (')[0]:<24} = {case['name']}")
    print("steps/s: steady state (Lava: after the first step, which compiles and starts the "
          "processes; its time is 'start s');\nx stock: steps/s (emulator batch: "
          "sample-steps/s) / stock netx steps/s on the same network;\ne2e steps/s: steps / "
          "(start + run) of one sample; exact: output equals stock netx spike for spike "
          "(emulator batch: also samples 1 and N-1 equal their batch-1 emulation);\n"
          "emulator runs shorter than 1 s are timed 3 times (median); every other row is "
          "one run")
    print()
    print(f"{'SLAYER training step (fwd+bwd, batch 32, T 16, 64-128-10)':<60} {'ms/step':>9} "
          f"{'samples/s':>10} {'x stock time':>12}")
    stock_ms = train[0]["ms_per_step"] if train else float("nan")
    for r in train:
        print(f"{r['block']:<60} {r['ms_per_step']:>9.2f} {r['samples_per_s']:>10.0f} "
              f"{r['ms_per_step'] / stock_ms:>12.2f}")
    info["load_average_at_end"] = provenance.load_average()
    print(f"\ntotal wall time {time.perf_counter() - t_all:.0f} s; load average at start "
          f"{info['load_average']}, at end {info['load_average_at_end']} "
          f"(other processes on the machine slow every runner)")
    ok = all(r["exact"] for r in rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": command, "provenance": info, "size": args.size,
                       "runtime": rows, "training": train, "all_exact": ok}, f, indent=2,
                      default=str)
        print(f"results written to {args.json}")
    if not ok:
        print("ERROR: some runner disagreed with stock netx", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

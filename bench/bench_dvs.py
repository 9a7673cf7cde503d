"""Speed at DVS size, measured side by side in one run (issue 31's table).

The network is the one the issue measured: built and exported by **stock SLAYER**
(``lava.lib.dl.slayer.block.cuba``), 2x64x64 events, T=32: conv16 5x5/2 - conv32 3x3/2 -
conv64 3x3/2 - dense 256 - dense 11 (CUBA neurons; 28,683 neurons), no input layer (a
conv-first file; every runner takes ``input_shape=(2, 64, 64)``).  Its weights are SLAYER's
seeded initialisation (``--seed``): speed does not depend on training, and the file
stays loadable by stock lava-dl netx.  The inputs are event recordings of the local
DVS-Gesture-like generator (:mod:`loihi_snn.train.dvs_events`, data set ``dvs_synth``:
128x128 binned to 64x64, T=32).

Rows (samples per second; every row sees the same samples, threads: 1):

- the bit-exact emulator: numpy and torch CPU (``device="cpu"``), batch 1 and 16,
  and CUDA (``--device cuda``) when a GPU is there;
- a plain float32 torch loop of the same equations (per step and layer one
  ``conv2d``/matmul, ``u = u*(1-du) + a``, ``v = v*(1-dv) + u``, ``s = v > th``,
  ``v = v*(1-s)``), batch 1 and 16 (on the GPU too when one is used);
- Lava: stock lava-dl netx streaming the samples through one run (``reset_interval``),
  and ``run_many`` with ``lava-fused`` (one Lava process); wall time of the whole call,
  build and start-up included;
- ``--pilotnet``: lava-dl's trained PilotNet SDNN (tests/data/lava-dl-pilotnet) on one
  synthetic drive: stock netx, lava-fused and the emulator, value for value.

Every bit-exact row is checked against the numpy emulator (``exact``); the float rows
are other arithmetic.  Rows run in ``--rounds`` interleaved rounds; the median is
reported with each round's load average.  A full-size memory check (2x128x128, T=300,
batch 8: the emulator's own estimate printed before it starts, and the peak measured)
runs with ``--memory``.

Usage::

    python bench/bench_dvs.py [--rounds 3] [--samples 16] [--lava-samples 8] [--device cuda]

writes ``results/bench/bench_dvs/bench_dvs.json`` and ``.md`` (provenance as every result file).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_speed import measure, rate, ratio  # noqa: E402

T_STEPS = 32
NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03,
          "tau_grad": 0.03, "scale_grad": 3, "requires_grad": False}
PILOTNET = ROOT / "tests" / "data" / "lava-dl-pilotnet" / "network.net"


def dvs_network(path: Path, size: int = 64, seed: int = 0) -> Path:
    """Build the issue's network with stock SLAYER blocks and export it (stock netx's
    per-block ``export_hdf5``); returns ``path``."""
    import h5py
    import torch
    from lava.lib.dl import slayer
    torch.manual_seed(seed)
    blocks = torch.nn.ModuleList([
        slayer.block.cuba.Conv(NEURON, 2, 16, 5, stride=2, padding=2, weight_scale=4),
        slayer.block.cuba.Conv(NEURON, 16, 32, 3, stride=2, padding=1, weight_scale=3),
        slayer.block.cuba.Conv(NEURON, 32, 64, 3, stride=2, padding=1, weight_scale=3),
        slayer.block.cuba.Flatten(),
        slayer.block.cuba.Dense(NEURON, 64 * (size // 8) ** 2, 256, weight_scale=3),
        slayer.block.cuba.Dense(NEURON, 256, 11, weight_scale=3)])
    blocks.eval()
    with torch.no_grad():                     # SLAYER sets its lazy shapes on a forward
        y = torch.zeros(1, 2, size, size, 2)
        for b in blocks:
            y = b(y)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        group = f.create_group("layer")
        for i, b in enumerate(blocks):
            b.export_hdf5(group.create_group(f"{i}"))
    return path


def dvs_inputs(n: int, size: int = 64, seed: int = 0) -> tuple:
    """(X (n, 2, size, size, T) int8, source description)."""
    from loihi_snn.train.datasets import load_dataset
    ds = load_dataset("dvs_synth", "test", T=T_STEPS, encoding="binary", seed=seed, limit=n,
                      downsample=128 // size)
    X = np.asarray(ds.inputs, np.int8)
    return X, (f"the first {n} test recordings of the dvs_synth generator (2x128x128 events "
               f"binned to 2x{size}x{size}, T={T_STEPS}, at most one event per pixel and bin)")


def float_loop(spec, device: str = "cpu"):
    """A plain float32 torch loop of the network's CUBA equations (conv/dense)."""
    import torch
    import torch.nn.functional as F
    layers = []
    for layer in spec.layers:
        if layer.type not in ("conv", "dense"):
            continue
        p = layer.neuron.params
        w = torch.tensor(np.asarray(layer.fields["weight"], np.float32), device=device)
        if layer.type == "conv":
            w = w.reshape(w.shape[-4:])
        layers.append((layer.type, w, tuple(layer.fields.get("stride", (1, 1))),
                       tuple(layer.fields.get("padding", (0, 0))), 1 - p["iDecay"] / 4096,
                       1 - p["vDecay"] / 4096, float(p["vThMant"]), tuple(layer.shape)))

    def run(x):                       # x (B, C, H, W, T) float32 tensor on ``device``
        B, T = x.shape[0], x.shape[-1]
        state = [(torch.zeros((B,) + shp, device=device), torch.zeros((B,) + shp,
                                                                     device=device))
                 for *_, shp in layers]
        out = []
        with torch.no_grad():
            for t in range(T):
                s = x[..., t]
                for k, (kind, w, stride, pad, ku, kv, th, _shp) in enumerate(layers):
                    a = F.conv2d(s, w, stride=stride, padding=pad) if kind == "conv" \
                        else s.reshape(B, -1) @ w.T
                    u, v = state[k]
                    u = u * ku + a
                    v = v * kv + u
                    s = (v > th).float()
                    v = v * (1 - s)
                    state[k] = (u, v)
                out.append(s)
            y = torch.stack(out, -1)
            if device != "cpu":
                torch.cuda.synchronize()
        return y
    return run


def emulator_rows(spec, X, device: Optional[str], label: str, b: int) -> List[Dict[str, Any]]:
    from loihi_snn.sim.emulator import Emulator
    emu = Emulator(spec, device=device)
    emu.run(X[:1])                                        # warm-up
    n = X.shape[0]
    return [dict(row=f"emulator {label}, batch 1", kind="exact", n=n, ref="all",
                 fn=lambda: np.concatenate([emu.run(X[i:i + 1]) for i in range(n)])),
            dict(row=f"emulator {label}, batch {b}", kind="exact", n=n, ref="all",
                 fn=lambda: np.concatenate([emu.run(X[i:i + b]) for i in range(0, n, b)]))]


def float_rows(spec, X, device: str, b: int) -> List[Dict[str, Any]]:
    import torch
    run = float_loop(spec, device)
    x = torch.from_numpy(X.astype(np.float32)).to(device)
    run(x[:1])
    n = X.shape[0]
    where = "" if device == "cpu" else f" {device}"
    return [dict(row=f"float32 torch loop{where}, batch 1", kind="float", n=n,
                 fn=lambda: [run(x[i:i + 1]) for i in range(n)]),
            dict(row=f"float32 torch loop{where}, batch {b}", kind="float", n=n,
                 fn=lambda: [run(x[i:i + b]) for i in range(0, n, b)])]


def stock_stream(path: Path, X: np.ndarray, input_shape) -> np.ndarray:
    """lava-dl netx streaming X (samples one after another with a silent gap and
    ``reset_interval``, as run_many's lava-fused stream), aligned like run_many."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.core.lavadl import lava_dl
    from loihi_snn.sim.runtime.io import from_lava_layout, to_lava_layout
    from loihi_snn.sim.runtime.run import stopping
    N, T = X.shape[0], X.shape[-1]
    n_blocks = 5                                   # conv x3, dense x2 (no input layer)
    interval = T + n_blocks + 1
    frames = np.concatenate([np.concatenate([X[s], np.zeros(X.shape[1:-1] + (interval - T,),
                                                              X.dtype)], -1)
                             for s in range(N)], -1)
    data = to_lava_layout(frames.astype(np.int32), (input_shape[2], input_shape[1],
                                                    input_shape[0]))
    net = lava_dl().netx.hdf5.Network(net_config=str(path), reset_interval=interval,
                                      reset_offset=1,
                                      input_shape=(input_shape[2], input_shape[1],
                                                   input_shape[0]))
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=N * interval)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    with stopping(source):
        source.run(condition=RunSteps(num_steps=N * interval),
                   run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = from_lava_layout(np.asarray(sink.data.get()))
    delays = n_blocks - 1 + 1
    result = np.zeros((N,) + out.shape[:-1] + (T,), np.int32)
    for s in range(N):
        result[s, ..., delays:] = out[..., s * interval + delays:s * interval + T]
    return result


def lava_rows(path: Path, spec, X: np.ndarray) -> List[Dict[str, Any]]:
    from loihi_snn.sim.runtime.stream import run_many
    n = X.shape[0]
    return [dict(row="stock lava-dl netx (fixed_pt, reset_interval stream)", kind="exact",
                 n=n, ref="lava", fn=lambda: stock_stream(path, X, spec.input_shape)),
            dict(row="run_many lava-fused (one Lava process)", kind="exact", n=n, ref="lava",
                 fn=lambda: run_many(str(path), X, backend="lava-fused", progress=False))]


def memory_check(tmp: Path) -> Dict[str, Any]:
    """2x128x128, T=300, batch 8 on the emulator: its estimate, then the measured peak."""
    import resource
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.emulator import Emulator
    path = dvs_network(tmp / "dvs128.net", size=128)
    spec = read_netx(str(path), input_shape=(2, 128, 128))
    rng = np.random.default_rng(1)
    X = np.zeros((8, 2, 128, 128, 300), np.int8)
    for t in range(0, 300, 50):                   # filled in pieces: no float64 temporary
        X[..., t:t + 50] = rng.random((8, 2, 128, 128, 50), np.float32) < 0.02
    emu = Emulator(spec)
    need = emu.memory_estimate(8, 300)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    emu.run(X)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"input_bytes": int(X.nbytes), "estimate_bytes": int(need),
            "peak_rss_bytes": int(peak), "rss_before_bytes": int(before),
            "seconds": round(wall, 2), "samples_per_s": round(8 / wall, 3)}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5,
                    help="interleaved rounds (median; 5: a shared 2-core host varies by ~10 %% round to round)")
    ap.add_argument("--samples", type=int, default=16, help="samples per emulator/float row")
    ap.add_argument("--batch", type=int, default=16, help="batch of the batched rows")
    ap.add_argument("--lava-samples", type=int, default=8,
                    help="samples of the Lava rows (stock netx runs ~0.5 samples/s here)")
    ap.add_argument("--device", default=None, help="also time CUDA rows (e.g. cuda)")
    ap.add_argument("--pilotnet", action="store_true", help="add lava-dl's PilotNet rows")
    ap.add_argument("--memory", action="store_true",
                    help="also the full-size memory check (2x128x128, T=300, batch 8)")
    ap.add_argument("--seed", type=int, default=0, help="weights and inputs seed")
    ap.add_argument("--quick", action="store_true", help="1 round, few samples (a check)")
    ap.add_argument("--name", default="bench_dvs", help="result name under results/bench")
    args = ap.parse_args(argv)
    import tempfile

    import torch
    torch.set_num_threads(1)
    from loihi_snn.app.results import Table, provenance, results_root, write_result
    from loihi_snn.core.lavadl import ensure_lava_runtime, lava_dl, quiet
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.emulator import Emulator
    ensure_lava_runtime()
    with quiet():
        lava_dl()
    started = provenance()
    rounds = 1 if args.quick else args.rounds
    n = 4 if args.quick else args.samples
    n_lava = 2 if args.quick else args.lava_samples
    b = min(args.batch, n)
    log = lambda s: print(s, flush=True)  # noqa: E731
    notes: List[str] = []
    cuda = args.device is not None and args.device.startswith("cuda") and \
        torch.cuda.is_available()
    if args.device and not cuda:
        notes.append(f"--device {args.device}: CUDA is not available; no GPU rows")
    if not args.device:
        notes.append("No GPU was used by this run: every row is CPU, 1 thread.")

    tmp = Path(tempfile.mkdtemp(prefix="loihi-snn-bench-dvs-"))
    path = dvs_network(tmp / "dvs64.net", seed=args.seed)
    spec = read_netx(str(path), input_shape=(2, 64, 64))
    neurons = sum(int(np.prod(l.shape)) for l in spec.layers if l.neuron is not None)
    X, source = dvs_inputs(max(n, n_lava), seed=args.seed)
    X, X_lava = X[:n], X[:n_lava]
    log(f"DVS-size network: {neurons} neurons, input {spec.input_shape}, T={T_STEPS}; "
        f"inputs: {source}, {X.mean():.4f} events per pixel-step")
    ref = Emulator(spec)
    refs = {"all": ref.run(X), "lava": ref.run(X_lava)}
    rows = emulator_rows(spec, X, None, "numpy", b) + emulator_rows(spec, X, "cpu",
                                                                    "torch cpu", b)
    rows += float_rows(spec, X, "cpu", b)
    if cuda:
        rows += emulator_rows(spec, X, args.device, f"torch {args.device}", b)
        rows += float_rows(spec, X, args.device, b)
    rows += lava_rows(path, spec, X_lava)
    for r in rows:
        r["network"] = "dvs64"
    loads = {"dvs64": measure(rows, rounds, refs, log)}
    summary = {
        "emulator_numpy_b1_per_float_b1": ratio(rate(rows, "emulator numpy, batch 1"),
                                                rate(rows, "float32 torch loop, batch 1")),
        "emulator_numpy_batch_per_float_batch": ratio(
            rate(rows, f"emulator numpy, batch {b}"), rate(rows, f"float32 torch loop, batch {b}")),
        "emulator_torch_cpu_b1_per_float_b1": ratio(rate(rows, "emulator torch cpu, batch 1"),
                                                    rate(rows, "float32 torch loop, batch 1")),
        "emulator_torch_cpu_batch_per_float_batch": ratio(
            rate(rows, f"emulator torch cpu, batch {b}"),
            rate(rows, f"float32 torch loop, batch {b}")),
        "lava_fused_per_stock_netx": ratio(rate(rows, "run_many lava-fused"),
                                           rate(rows, "stock lava-dl netx")),
    }
    if cuda:
        summary["emulator_cuda_batch_per_float_cuda_batch"] = ratio(
            rate(rows, f"emulator torch {args.device}, batch {b}"),
            rate(rows, f"float32 torch loop {args.device}, batch {b}"))
    all_rows = list(rows)

    if args.pilotnet and PILOTNET.exists():
        prow, pref = pilotnet_rows(n_frames=40 if args.quick else 200)
        for r in prow:
            r["network"] = "pilotnet"
        loads["pilotnet"] = measure(prow, rounds, pref, log)
        summary["pilotnet_emulator_per_stock_netx"] = ratio(
            rate(prow, "emulator numpy"), rate(prow, "stock lava-dl netx"))
        summary["pilotnet_lava_fused_per_stock_netx"] = ratio(
            rate(prow, "lava-fused"), rate(prow, "stock lava-dl netx"))
        all_rows += prow
    memory = memory_check(tmp) if args.memory else None

    targets = [
        ["emulator (numpy) batch 1 / float32 torch loop batch 1", ">= 1.0",
         summary["emulator_numpy_b1_per_float_b1"]],
        [f"emulator (numpy) batch {b} / float32 torch loop batch {b}", ">= 1.0",
         summary["emulator_numpy_batch_per_float_batch"]],
        ["emulator (torch cpu) batch 1 / float32 torch loop batch 1", ">= 1.0",
         summary["emulator_torch_cpu_b1_per_float_b1"]],
        [f"emulator (torch cpu) batch {b} / float32 torch loop batch {b}", ">= 1.0",
         summary["emulator_torch_cpu_batch_per_float_batch"]],
        ["run_many lava-fused / stock netx stream, per sample", ">= 10",
         summary["lava_fused_per_stock_netx"]],
    ]
    if cuda:
        targets.append([f"emulator (torch {args.device}) / float32 loop on the same GPU, "
                        f"batch {b}", "-", summary["emulator_cuda_batch_per_float_cuda_batch"]])
    if "pilotnet_emulator_per_stock_netx" in summary:
        targets += [["PilotNet SDNN: emulator / stock netx, one drive", "-",
                     summary["pilotnet_emulator_per_stock_netx"]],
                    ["PilotNet SDNN: lava-fused / stock netx, one drive", "-",
                     summary["pilotnet_lava_fused_per_stock_netx"]]]
    for t in targets:
        t.append("-" if t[1] == "-" or t[2] is None else
                 ("met" if t[2] >= float(t[1].split()[-1]) else "NOT met"))
        t[2] = None if t[2] is None else round(t[2], 2)
    tables = [Table("Ratios measured in this run (targets of issue 31)",
                    ["ratio", "target", "measured", "verdict"], targets)]
    for name in loads:
        sel = [r for r in all_rows if r["network"] == name]
        tables.append(Table(f"{name}: samples per second (median of {rounds} interleaved "
                            f"rounds)", ["runner", "samples", "median s", "samples/s", "exact"],
                            [[r["row"], r["n"], r["median_s"], round(r["samples_per_s"], 2),
                              ("yes" if r.get("exact") else "NO") if r["kind"] == "exact"
                              else "n/a (float)"] for r in sel]))
    if memory:
        tables.append(Table("Full size: 2x128x128 events, T=300, batch 8, emulator (numpy)",
                            ["measure", "value"],
                            [["input (int8)", f"{memory['input_bytes'] / 2**20:.0f} MiB"],
                             ["emulator's estimate before starting",
                              f"{memory['estimate_bytes'] / 2**20:.0f} MiB"],
                             ["peak resident memory of the process",
                              f"{memory['peak_rss_bytes'] / 2**20:.0f} MiB"],
                             ["wall time", f"{memory['seconds']} s"]]))
    all_exact = all(r.get("exact", True) for r in all_rows if r["kind"] == "exact")
    text = [f"Network: the issue's stock-SLAYER conv net, {neurons} neurons, exported by "
            f"SLAYER's own export_hdf5 (conv-first; input_shape (2, 64, 64)).  Inputs: "
            f"{source}.  Load average (1 min) at the start of each round: " +
            "; ".join(f"{k}: {v}" for k, v in loads.items()) + ".  Threads: 1.",
            "exact: the row's output equals the numpy emulator's, spike for spike (value "
            f"for value, SDNN) (all exact: {'yes' if all_exact else 'NO'}).  Lava rows: wall "
            "time of the whole call (build, compile, start, run, read-out, stop)."] + notes
    print()
    for t in tables:
        print(t.markdown())
        print()
    for para in text:
        print(para)
    data = {"summary": {k: v for k, v in summary.items() if v is not None}, "loads": loads,
            "rounds": rounds, "batch": b, "neurons": neurons, "inputs": source,
            "memory": memory, "all_exact": all_exact, "torch": torch.__version__,
            "numpy": np.__version__,
            "rows": [{k: v for k, v in r.items() if k != "fn"} for r in all_rows]}
    paths = write_result(args.name, results_dir=os.path.join(results_root(), "bench"),
                         title="Speed at DVS size: bit-exact emulator vs a float loop vs "
                               "Lava", tables=tables, data=data, text=text, started=started)
    print(f"results written to {paths[0]} and {paths[1]}")
    return 0 if all_exact else 1


def pilotnet_rows(n_frames: int):
    """lava-dl's PilotNet SDNN on one synthetic drive (tests/helpers/pilotnet.py): stock
    netx as lava-dl runs it, lava-fused and the emulator, value for value."""
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.emulator import emulate
    from loihi_snn.sim.runtime.run import run
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers.pilotnet import road_sequence, run_stock_netx_into_neurons  # noqa: E402
    spec = read_netx(str(PILOTNET))
    x = road_sequence(n_frames)
    ref = emulate(spec, x[None], n_frames)
    rows = [dict(row="stock lava-dl netx", kind="exact", n=1, ref="p",
                 fn=lambda: run_stock_netx_into_neurons(PILOTNET, x.transpose(2, 1, 0, 3),
                                                        n_frames)[None]),
            dict(row="lava-fused", kind="exact", n=1, ref="p",
                 fn=lambda: run(str(PILOTNET), x, steps=n_frames, backend="lava-fused")[None]),
            dict(row="emulator numpy", kind="exact", n=1, ref="p",
                 fn=lambda: emulate(spec, x[None], n_frames))]
    return rows, {"p": ref}


if __name__ == "__main__":
    sys.exit(main())

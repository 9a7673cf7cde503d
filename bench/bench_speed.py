"""Speed of every way to run a trained network, measured side by side in one run.

Networks (from ``netx_models/``, on their own test sets):

- ``digits_lif``: 64-128-10 LIF (hard reset, leak: the CUBA equations) dense, T=16,
  the 359 rate-coded sklearn test digits: emulator, float loop and snnTorch rows;
- ``digits_cuba``: the same architecture with stock CUBA neurons (which stock lava-dl
  netx can load), same digits: the Lava rows (stock netx, lava-fixed, lava-fused);
- ``events_asa``: conv8 -> conv16/2 -> dense 4 with an ASA gate in both convs, T=16,
  the synthetic DVS moving-dot test set (2x8x8): emulator and Lava rows;
- ``tinynet``: lava-dl's reference conv net (3x16x16 input neurons -> conv24/2 ->
  conv36/2, LOIHI neurons, no ASA), 256 random graded inputs (0..60, 30 % non-zero),
  T=16: emulator rows (a conv net without the ASA gate).

Rows (samples per second; every row sees the same samples):

- the bit-exact emulator: numpy (default) and torch (``device="cpu"``), batch 1
  (a prebuilt ``Emulator``, one sample per call), batch 256, and ``loihi_snn.emulate``
  at batch 1 (one call per sample: the per-file cache at work);
- digits only: a plain float32 torch loop of the same CUBA equations (one matmul and
  the element-wise neuron update per step and layer) and snnTorch ``Synaptic`` neurons
  (float32, no_grad, ``reset_mechanism="zero"``), batch 1 and 256 (snnTorch is
  optional: its rows are skipped with a note when it is not installed);
- Lava: stock lava-dl netx (digits_cuba: it has no LIF/ASA models) streaming the set
  through one run with ``reset_interval`` (as ``run_many`` streams it), ``run_many``
  with ``lava-fixed`` (per-layer Lava behind the cutoff controller) and with
  ``lava-fused`` (one Lava process); wall time of the whole call, start-up included.

Every bit-exact row is checked against the numpy emulator's output (``exact``); the
float rows are other arithmetic (``n/a``).  The machine is shared: rows run in
``--rounds`` interleaved rounds (each round runs every row once) and the median time
is reported (a call shorter than 0.3 s is repeated within a round and averaged), with
the load average of each round.  Threads: 1 (``torch`` and BLAS).
No GPU rows unless ``--device cuda`` is given and CUDA is available.

Usage::

    python bench/bench_speed.py [--rounds 3] [--lava-samples-conv 48] [--quick]

writes ``results/bench/bench.json`` and ``bench.md`` (command, git revision, machine,
load, date; see ``loihi_snn.app.results``).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 256
MIN_ROUND_S = 0.3       # a row's calls are repeated to last about this long per round
SHARED_NETX = Path(os.environ.get("LOIHI_SNN_SHARED_NETX",
                                  ROOT.parent / "shared" / "data" / "lava-dl-netx"))


# ----------------------------------------------------------------------------- inputs

def digits_inputs(limit: Optional[int]) -> np.ndarray:
    from loihi_snn.train.datasets import load_dataset
    ds = load_dataset("digits", split="test", T=16, encoding="rate", limit=limit)
    return np.asarray(ds.inputs).astype(np.int8)                 # (359, 64, 16) 0/1


def events_inputs(limit: Optional[int]) -> np.ndarray:
    from loihi_snn.train.datasets import load_dataset
    ds = load_dataset("events", split="test", T=16, encoding="binary", limit=limit,
                      height=8, width=8, num_classes=4, noise_rate=5.0,
                      duration_us=100_000, num_train=3000, num_test=250)
    return np.asarray(ds.inputs).astype(np.int8)                 # (250, 2, 8, 8, 16)


def tinynet_inputs(n: int = BATCH) -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.integers(0, 61, size=(n, 3, 16, 16, 16)) * (rng.random((n, 3, 16, 16, 16)) < 0.3)
    return X.astype(np.int32)


def take(X: np.ndarray, n: int) -> np.ndarray:
    """The first n samples (the set repeated when it has fewer)."""
    if X.shape[0] >= n:
        return X[:n]
    return np.concatenate([X] * (n // X.shape[0] + 1))[:n]


# ----------------------------------------------------------------------------- runners

def emulator_rows(path: Path, X: np.ndarray, n_b1: int, device: Optional[str],
                  label: str) -> List[Dict[str, Any]]:
    from loihi_snn.sim.emulator import Emulator, emulate
    emu = Emulator(path, device=device)
    emu.run(X[:1])                                   # warm-up (lazy imports, caches)
    Xb = take(X, BATCH)
    X1 = X[:n_b1]

    def batch1():
        return np.concatenate([emu.run(X1[i:i + 1]) for i in range(n_b1)])

    def batched():
        return emu.run(Xb)

    rows = [dict(row=f"emulator {label}, batch 1", kind="exact", n=n_b1, fn=batch1, ref="b1"),
            dict(row=f"emulator {label}, batch {BATCH}", kind="exact", n=BATCH, fn=batched,
                 ref="b256")]
    if device is None:
        def emulate_b1():
            return np.concatenate([emulate(path, X1[i:i + 1]) for i in range(n_b1)])
        rows.append(dict(row="loihi_snn.emulate (function), batch 1", kind="exact", n=n_b1,
                         fn=emulate_b1, ref="b1"))
    return rows


def cuba_float_params(path: Path):
    """Float32 weights and decays of a dense CUBA network (the same equations)."""
    from loihi_snn.netx.schema import read_netx
    spec = read_netx(str(path))
    layers = []
    for l in spec.layers:
        if l.type != "dense":
            continue
        p = l.neuron.params
        layers.append((np.asarray(l.fields["weight"], np.float32), p["iDecay"] / 4096,
                       p["vDecay"] / 4096, float(p["vThMant"])))
    return layers


def float_loop_rows(path: Path, X: np.ndarray, n_b1: int) -> List[Dict[str, Any]]:
    """A plain float32 torch loop of the CUBA equations: per step and layer one matmul,
    ``u = u*(1-du) + W s``, ``v = v*(1-dv) + u``, ``s = v > th``, ``v = v*(1-s)``."""
    import torch
    layers = [(torch.from_numpy(w), 1 - du, 1 - dv, th) for w, du, dv, th in
              cuba_float_params(path)]

    def run(x):                                          # x (B, in, T) float32
        B, T = x.shape[0], x.shape[-1]
        state = [(torch.zeros(B, w.shape[0]), torch.zeros(B, w.shape[0])) for w, *_ in layers]
        out = []
        with torch.no_grad():
            for t in range(T):
                s = x[..., t]
                for k, (w, ku, kv, th) in enumerate(layers):
                    u, v = state[k]
                    u = u * ku + s @ w.T
                    v = v * kv + u
                    s = (v > th).float()
                    v = v * (1 - s)
                    state[k] = (u, v)
                out.append(s)
        return torch.stack(out, -1)

    xb = torch.from_numpy(take(X, BATCH).astype(np.float32))
    x1 = torch.from_numpy(X[:n_b1].astype(np.float32))
    return [dict(row="float32 torch loop, batch 1", kind="float", n=n_b1,
                 fn=lambda: [run(x1[i:i + 1]) for i in range(n_b1)]),
            dict(row=f"float32 torch loop, batch {BATCH}", kind="float", n=BATCH,
                 fn=lambda: run(xb))]


def snntorch_rows(path: Path, X: np.ndarray, n_b1: int):
    """snnTorch Synaptic (CUBA) neurons behind nn.Linear layers with the net's weights."""
    try:
        import snntorch as snn
    except ImportError as exc:
        return [], f"snnTorch not importable ({exc}); its rows are skipped"
    import torch
    linears, neurons = [], []
    for w, du, dv, th in cuba_float_params(path):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        lin.weight.data = torch.from_numpy(w)
        linears.append(lin)
        neurons.append(snn.Synaptic(alpha=1 - du, beta=1 - dv, threshold=th,
                                    reset_mechanism="zero"))

    def run(x):
        with torch.no_grad():
            states = [n.init_synaptic() for n in neurons]
            out = []
            for t in range(x.shape[-1]):
                s = x[..., t]
                for k, (lin, neu) in enumerate(zip(linears, neurons)):
                    syn, mem = states[k]
                    s, syn, mem = neu(lin(s), syn, mem)
                    states[k] = (syn, mem)
                out.append(s)
        return torch.stack(out, -1)

    xb = torch.from_numpy(take(X, BATCH).astype(np.float32))
    x1 = torch.from_numpy(X[:n_b1].astype(np.float32))
    version = getattr(snn, "__version__", "?")
    return [dict(row=f"snnTorch {version} Synaptic, batch 1", kind="float", n=n_b1,
                 fn=lambda: [run(x1[i:i + 1]) for i in range(n_b1)]),
            dict(row=f"snnTorch {version} Synaptic, batch {BATCH}", kind="float", n=BATCH,
                 fn=lambda: run(xb))], None


def stock_netx_stream(path: Path, X: np.ndarray) -> np.ndarray:
    """lava-dl's netx.hdf5.Network streaming X: samples one after another with a silent
    gap, ``reset_interval`` as run_many's lava-fused stream uses it (same schedule)."""
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source

    from loihi_snn.core.lavadl import lava_dl
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.runtime.run import stopping
    spec = read_netx(str(path))
    N, T = X.shape[0], X.shape[-1]
    n_blocks = sum(1 for l in spec.layers if l.type != "flatten" and
                   not (l.type == "input" and l.neuron is None))
    input_block = spec.layers[0].type == "input" and spec.layers[0].neuron is not None
    delays = n_blocks - (1 if input_block else 0)
    interval = T + n_blocks + 1
    data = np.zeros(X.shape[1:-1] + (N * interval,), np.int32)
    for s in range(N):
        data[..., s * interval:s * interval + T] = X[s]
    net = lava_dl().netx.hdf5.Network(net_config=str(path), reset_interval=interval,
                                      reset_offset=0 if input_block else 1)
    source = Source(data=data)
    sink = Sink(shape=net.out.shape, buffer=N * interval)
    source.s_out.connect(net.inp)
    net.out.connect(sink.a_in)
    with stopping(source):
        source.run(condition=RunSteps(num_steps=N * interval),
                   run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        out = np.asarray(sink.data.get())
    result = np.zeros((N,) + out.shape[:-1] + (T,), np.int32)
    for s in range(N):
        result[s, ..., delays:] = out[..., s * interval + delays:s * interval + T]
    return result


def lava_rows(path: Path, X: np.ndarray, stock: bool) -> List[Dict[str, Any]]:
    from loihi_snn.sim.runtime.stream import run_many
    n = X.shape[0]
    rows = []
    if stock:
        rows.append(dict(row="stock lava-dl netx (fixed_pt, reset_interval stream)",
                         kind="exact", n=n, fn=lambda: stock_netx_stream(path, X), ref="lava"))
    rows += [dict(row="run_many lava-fixed (per-layer Lava, controller)", kind="exact", n=n,
                  fn=lambda: run_many(str(path), X, backend="lava-fixed", progress=False),
                  ref="lava"),
             dict(row="run_many lava-fused (one Lava process)", kind="exact", n=n,
                  fn=lambda: run_many(str(path), X, backend="lava-fused", progress=False),
                  ref="lava")]
    return rows


# ----------------------------------------------------------------------------- timing

def measure(rows: List[Dict[str, Any]], rounds: int, refs: Dict[str, np.ndarray],
            log: Callable[[str], None]) -> List[float]:
    """Run every row ``rounds`` times, interleaved; fills ``times`` and ``exact``."""
    loads = []
    for r in range(rounds):
        loads.append(round(os.getloadavg()[0], 2))
        for row in rows:
            # a call shorter than MIN_ROUND_S is repeated within the round (the round's
            # time is the mean per call), so one scheduler hiccup does not decide it
            reps, spent, out = 0, 0.0, None
            while reps < row.setdefault("reps", 1):
                t0 = time.perf_counter()
                out = row["fn"]()
                spent += time.perf_counter() - t0
                reps += 1
            if r == 0 and spent < MIN_ROUND_S:
                row["reps"] = max(1, int(MIN_ROUND_S / max(spent, 1e-4)))
            row.setdefault("times", []).append(spent / reps)
            if r == 0 and row["kind"] == "exact":
                want = refs[row["ref"]]
                got = np.asarray(out)
                row["exact"] = bool(got.shape == want.shape and np.array_equal(got, want))
            log(f"  round {r + 1}/{rounds} {row['row']}: {row['times'][-1]:.4f} s per call "
                f"({reps} call(s))")
    for row in rows:
        row["median_s"] = float(np.median(row["times"]))
        row["samples_per_s"] = row["n"] / row["median_s"]
    return loads


def rate(rows, name_start: str) -> Optional[float]:
    for r in rows:
        if r["row"].startswith(name_start):
            return r["samples_per_s"]
    return None


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None or b == 0 else a / b


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--b1-samples", type=int, default=128,
                    help="samples timed one by one in the batch-1 rows (default 128)")
    ap.add_argument("--lava-samples-conv", type=int, default=48,
                    help="events_asa samples for the Lava rows (per-layer Lava with ASA "
                         "runs ~5 samples/s; default 48)")
    ap.add_argument("--device", default=None,
                    help="also time the torch emulator on this device (e.g. cuda)")
    ap.add_argument("--quick", action="store_true", help="1 round, few samples (a check)")
    ap.add_argument("--name", default="bench", help="result name under results/")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    from loihi_snn.app.results import Table, write_result
    from loihi_snn.core.provenance import record
    from loihi_snn.core.lavadl import ensure_lava_runtime, lava_dl, quiet
    from loihi_snn.sim.emulator import Emulator
    ensure_lava_runtime()
    with quiet():
        lava_dl()
    started = record(device=args.device or "cpu")     # revision and machine at the start
    rounds = 1 if args.quick else args.rounds
    n_b1 = 16 if args.quick else args.b1_samples
    notes: List[str] = []
    log = lambda s: print(s, flush=True)  # noqa: E731

    cuda = args.device is not None and args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        notes.append(f"--device {args.device}: CUDA is not available; no GPU rows")
        cuda = False
    if not cuda:
        notes.append("No GPU was available to this run: the torch rows are CPU only.")

    models = ROOT / "netx_models"
    Xd = digits_inputs(48 if args.quick else None)
    Xe = events_inputs(None)
    n_lava_e = 8 if args.quick else args.lava_samples_conv
    # (name, file, samples, Lava samples, rows: emulator / float / stock netx / Lava)
    nets = [("digits_lif", models / "digits_lif" / "digits_lif.net", Xd, None,
             dict(emulator=True, floats=True, stock=False, lava=False)),
            ("digits_cuba", models / "digits_cuba" / "digits_cuba.net", Xd, Xd,
             dict(emulator=False, floats=False, stock=True, lava=True)),
            ("events_asa", models / "events_asa" / "events_asa.net", Xe, Xe[:n_lava_e],
             dict(emulator=True, floats=False, stock=False, lava=True))]
    tiny = SHARED_NETX / "tinynet" / "tiny.net"
    if tiny.exists():
        nets.append(("tinynet", tiny, tinynet_inputs(), None,
                     dict(emulator=True, floats=False, stock=False, lava=False)))
    else:
        notes.append(f"tinynet: {tiny} not found (set LOIHI_SNN_SHARED_NETX); no rows")

    all_rows: List[Dict[str, Any]] = []
    loads: Dict[str, List[float]] = {}
    summary: Dict[str, Any] = {}
    for name, path, X, X_lava, what in nets:
        log(f"{name}: {X.shape[0]} test samples, input {X.shape[1:-1]}, T={X.shape[-1]}")
        ref = Emulator(path)
        refs = {"b1": ref.run(X[:n_b1]), "b256": ref.run(take(X, BATCH))}
        rows = []
        if what["emulator"]:
            rows += emulator_rows(path, X, n_b1, None, "numpy")
            rows += emulator_rows(path, X, n_b1, "cpu", "torch cpu")
            if cuda:
                rows += emulator_rows(path, X, n_b1, args.device, f"torch {args.device}")
        if what["floats"]:
            rows += float_loop_rows(path, X, n_b1)
            snn_rows, note = snntorch_rows(path, X, n_b1)
            rows += snn_rows
            if note:
                notes.append(note)
        if what["lava"]:
            refs["lava"] = ref.run(X_lava)
            rows += lava_rows(path, X_lava, stock=what["stock"])
        if what["lava"] and not what["stock"]:
            notes.append(f"{name}: stock lava-dl netx cannot load LIF neurons or the ASA "
                         f"gate (no row); Lava rows on the first {X_lava.shape[0]} test "
                         f"samples.")
        for r in rows:
            r["network"] = name
        loads[name] = measure(rows, rounds, refs, log)
        all_rows += rows
        b1_np = rate(rows, "emulator numpy, batch 1")
        b256_np = rate(rows, f"emulator numpy, batch {BATCH}")
        s = {"emulator_numpy_b256_per_b1": ratio(b256_np, b1_np),
             "emulator_torch_cpu_b256_per_b1": ratio(rate(rows, f"emulator torch cpu, batch {BATCH}"),
                                                     rate(rows, "emulator torch cpu, batch 1")),
             "emulate_function_b1_per_emulator_b1": ratio(rate(rows, "loihi_snn.emulate"), b1_np),
             "lava_fused_per_lava_fixed": ratio(rate(rows, "run_many lava-fused"),
                                                rate(rows, "run_many lava-fixed"))}
        if what["floats"]:
            s.update({
                "emulator_numpy_b256_per_float_loop_b256": ratio(
                    b256_np, rate(rows, f"float32 torch loop, batch {BATCH}")),
                "emulator_torch_cpu_b256_per_float_loop_b256": ratio(
                    rate(rows, f"emulator torch cpu, batch {BATCH}"),
                    rate(rows, f"float32 torch loop, batch {BATCH}")),
                "emulator_numpy_b1_per_snntorch_b1": ratio(
                    b1_np, rate([r for r in rows if r["row"].endswith("batch 1")],
                                "snnTorch"))})
        if what["stock"]:
            s.update({"lava_fused_per_stock_netx": ratio(rate(rows, "run_many lava-fused"),
                                                         rate(rows, "stock lava-dl netx")),
                      "lava_fixed_per_stock_netx": ratio(rate(rows, "run_many lava-fixed"),
                                                         rate(rows, "stock lava-dl netx"))})
        summary[name] = {k: v for k, v in s.items() if v is not None}

    # ------------------------------------------------------------------ report
    tables = []
    for name, *_ in nets:
        rows = [r for r in all_rows if r["network"] == name]
        tables.append(Table(f"{name}: samples per second (median of {rounds} interleaved "
                            f"rounds)", ["runner", "samples", "median s", "samples/s",
                                         "exact"],
                            [[r["row"], r["n"], r["median_s"], round(r["samples_per_s"], 1),
                              ("yes" if r.get("exact") else "NO") if r["kind"] == "exact"
                              else "n/a (float)"] for r in rows]))
    d, c, e = summary["digits_lif"], summary["digits_cuba"], summary["events_asa"]
    targets = [
        ["digits_lif: emulator (numpy) batch 256 / float32 torch loop batch 256", ">= 1.0",
         d.get("emulator_numpy_b256_per_float_loop_b256")],
        ["digits_lif: emulator (torch cpu) batch 256 / float32 torch loop batch 256", "-",
         d.get("emulator_torch_cpu_b256_per_float_loop_b256")],
        ["digits_lif: emulator (numpy) batch 1 / snnTorch batch 1", ">= 4",
         d.get("emulator_numpy_b1_per_snntorch_b1")],
        ["events_asa: emulator (numpy) batch 256 / batch 1, per sample", ">= 5",
         e.get("emulator_numpy_b256_per_b1")],
        ["events_asa: emulator (torch cpu) batch 256 / batch 1, per sample", "-",
         e.get("emulator_torch_cpu_b256_per_b1")],
        ["tinynet (conv, no ASA): emulator (numpy) batch 256 / batch 1, per sample", ">= 5",
         summary.get("tinynet", {}).get("emulator_numpy_b256_per_b1")],
        ["tinynet (conv, no ASA): emulator (torch cpu) batch 256 / batch 1, per sample", "-",
         summary.get("tinynet", {}).get("emulator_torch_cpu_b256_per_b1")],
        ["digits_cuba: run_many lava-fused / stock netx stream", ">= 10",
         c.get("lava_fused_per_stock_netx")],
        ["digits_cuba: run_many lava-fixed / stock netx stream", "-",
         c.get("lava_fixed_per_stock_netx")],
        ["events_asa: run_many lava-fused / lava-fixed", "-",
         e.get("lava_fused_per_lava_fixed")],
        ["digits_lif: emulate() batch 1 / prebuilt Emulator batch 1", "-",
         d.get("emulate_function_b1_per_emulator_b1")],
    ]
    for t in targets:
        t.append("-" if t[1] == "-" or t[2] is None else
                 ("met" if t[2] >= float(t[1].split()[-1]) else "NOT met"))
        t[2] = None if t[2] is None else round(t[2], 2)
    tables.insert(0, Table("Ratios measured in this run (targets of issue 19)",
                           ["ratio", "target", "measured", "verdict"], targets))
    all_exact = all(r.get("exact", True) for r in all_rows if r["kind"] == "exact")
    text = [
        "Every row ran on the same samples in the same process; rows were interleaved "
        f"in {rounds} rounds (a call shorter than {MIN_ROUND_S} s repeated within its round "
        "and averaged) and the median over rounds is reported.  Load average "
        f"(1 min) at the start of each round: " +
        "; ".join(f"{k}: {v}" for k, v in loads.items()) + ".  Threads: 1.",
        "exact: the row's output equals the numpy emulator's, spike for spike "
        f"(all exact: {'yes' if all_exact else 'NO'}).  Lava rows: wall time of the "
        "whole call (build, compile, start, run, read-out, stop).",
    ] + notes
    print()
    for t in tables:
        print(t.markdown())
        print()
    for para in text:
        print(para)
    data = {"summary": summary, "loads": loads, "rounds": rounds, "batch": BATCH,
            "rows": [{k: v for k, v in r.items() if k != "fn"} for r in all_rows],
            "all_exact": all_exact, "torch": torch.__version__, "numpy": np.__version__}
    paths = write_result(args.name, title="Speed: bit-exact emulator vs float simulators "
                         "vs Lava", tables=tables, data=data, text=text, started=started)
    print(f"results written to {paths[0]} and {paths[1]}")
    return 0 if all_exact else 1


if __name__ == "__main__":
    sys.exit(main())

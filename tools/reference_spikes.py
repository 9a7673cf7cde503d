"""Write the Lava fixed_pt reference spikes of the shipped models (tests/data/reference_spikes).

    .venv/bin/python tools/reference_spikes.py [--samples 4] [--out tests/data/reference_spikes]

Needs the Python 3.10 venv (Lava).  For every ``netx_models/<name>/<name>.net`` it takes the
first ``--samples`` samples of the split the model card reports
(:func:`loihi_snn.app.evaluation.load_eval_data`), runs each one alone on Lava's
bit-accurate CPU simulation (backend ``lava-fixed``: a fresh run) and records the output
(:func:`loihi_snn.run`) and the output of every layer block
(:func:`loihi_snn.sim.runtime.probe.run_layers`), and writes ``<name>.npz``: ``inputs``
(N, *input_shape, T), ``labels``, ``output`` (N, *output_shape, T), ``layer_<i>`` (N, ...,
T) for each block, and ``meta`` (a JSON string: the file's SHA-256, the versions of Lava,
lava-dl, numpy, torch and Python, the command).

tests/parity/test_reference_spikes.py checks that the emulator reproduces them spike for
spike wherever it runs -- in the modern venv (newest CPython, numpy 2, current torch, no
Lava) too, so numpy 2's integer promotion (NEP 50) and copy semantics are checked, not
assumed.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "tests" / "data" / "reference_spikes"


def shipped_models(root: Path = ROOT):
    """``netx_models/<name>/<name>.net`` of every shipped model (the demo's copy excluded)."""
    return sorted(p for p in (root / "netx_models").glob("*/*.net")
                  if p.parent.name != "demo" and p.stem == p.parent.name)


def _compact(a: np.ndarray) -> np.ndarray:
    """Integer outputs in the smallest of int8/int16/int32/int64 that holds them."""
    a = np.asarray(a)
    if not np.array_equal(a, np.round(a)):
        return a
    for dt in (np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if a.size == 0 or (a.min() >= info.min and a.max() <= info.max):
            return a.astype(dt)
    return a.astype(np.int64)


def _version(name: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def reference(path: Path, samples: int) -> dict:
    from loihi_snn import run
    from loihi_snn.app.evaluation import load_eval_data
    from loihi_snn.netx.schema import read_netx
    from loihi_snn.sim.runtime.probe import run_layers

    spec = read_netx(str(path))
    data = load_eval_data(spec, limit=samples)
    X = np.asarray(data.inputs)
    outputs, layers = [], []
    for x in X:
        outputs.append(run(str(path), x, backend="lava-fixed"))
        layers.append(run_layers(str(path), x, backend="lava-fixed"))
    arrays = {"inputs": _compact(X), "labels": np.asarray(data.labels, dtype=np.int64),
              "output": _compact(np.stack(outputs))}
    for i, per_sample in enumerate(zip(*layers)):
        arrays[f"layer_{i}"] = _compact(np.stack(per_sample))
    meta = {
        "net": str(path.relative_to(ROOT)),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "backend": "lava-fixed (Loihi2SimCfg fixed_pt), one fresh run per sample",
        "dataset": data.dataset, "split": data.split, "encoding": data.encoding,
        "T": int(data.T), "seed": int(data.seed), "samples": int(len(X)),
        "layers": len(layers[0]),
        "versions": {"python": platform.python_version(), "numpy": np.__version__,
                     "lava-nc": _version("lava-nc"), "lava-dl": _version("lava-dl"),
                     "torch": _version("torch"), "loihi-snn": _version("loihi-snn")},
        "command": " ".join([os.path.relpath(sys.executable, ROOT)] + sys.argv),
        "date": time.strftime("%Y-%m-%d"),
    }
    arrays["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    return arrays


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=4, help="samples per model (default 4)")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="output folder")
    p.add_argument("models", nargs="*", help="model names (default: every shipped model)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in shipped_models():
        if args.models and path.stem not in args.models:
            continue
        t0 = time.time()
        arrays = reference(path, args.samples)
        target = out / f"{path.stem}.npz"
        np.savez_compressed(target, **arrays)
        print(f"{target.relative_to(ROOT)}: {args.samples} samples, "
              f"{len([k for k in arrays if k.startswith('layer_')])} layers, "
              f"{target.stat().st_size / 1024:.1f} KiB ({time.time() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``loihi-snn`` command.

    loihi-snn info NET.net [--json]
    loihi-snn run NET.net --input X.npy [--steps N] [--backend lava-fixed] --out Y.npy

Errors in what the user gave (a missing or malformed file, a wrong input shape,
an unknown backend) print one line ``error: ...`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

from loihi_snn.errors import LoihiSnnError

EXIT_USAGE = 2


def _neuron_summary(layer) -> Dict[str, Any]:
    if layer.neuron is None:
        return {}
    keep = ("iDecay", "vDecay", "vThMant", "refDelay", "gradedSpike", "sigma_output",
            "activation")
    params = {k: v for k, v in layer.neuron.params.items()
              if k in keep or not isinstance(v, (dict, np.ndarray, list))}
    return {"type": layer.neuron.type, **{k: params[k] for k in sorted(params) if k != "type"}}


def _weight_bits(layer) -> Optional[int]:
    w = layer.fields.get("weight")
    if w is None or layer.type in ("input",):
        return None
    w = np.asarray(w)
    m = int(np.max(np.abs(w))) if w.size else 0
    return max(1, m.bit_length()) + (1 if (w < 0).any() else 0)


def layer_table(spec) -> List[Dict[str, Any]]:
    """One JSON-serialisable row per layer of a NetSpec."""
    rows = []
    for layer in spec.layers:
        row = {"index": layer.index, "type": layer.type, "shape": list(layer.shape),
               "input_shape": list(layer.in_shape), "neuron": _neuron_summary(layer),
               "weight_bits": _weight_bits(layer), "synapses": layer.num_synapses}
        for key in ("kernel", "stride", "padding", "dilation", "groups", "group_size"):
            if key in layer.fields:
                v = layer.fields[key]
                row[key] = list(v) if isinstance(v, tuple) else v
        if "delay" in layer.fields:
            row["max_delay"] = int(np.max(layer.fields["delay"]))
        if "weight_rec" in layer.fields:
            row["recurrent"] = True
        rows.append(row)
    return rows


def _fmt_neuron(n: Dict[str, Any]) -> str:
    if not n:
        return "-"
    rest = ", ".join(f"{k}={v}" for k, v in n.items() if k != "type")
    return f"{n['type']}({rest})"


def cmd_info(args: argparse.Namespace) -> int:
    from loihi_snn.netx.schema import read_netx
    spec = read_netx(args.net)
    rows = layer_table(spec)
    if args.json:
        print(json.dumps({"file": spec.path, "input_shape": list(spec.input_shape),
                          "output_shape": list(spec.output_shape),
                          "neuron_types": spec.neuron_types,
                          "extensions": sorted(spec.extensions), "layers": rows},
                         indent=2, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))
        return 0
    print(f"{spec.path}: input {tuple(spec.input_shape)} -> output {tuple(spec.output_shape)}, "
          f"{len(rows)} layers")
    header = f"{'#':>2}  {'type':<9} {'shape':<16} {'wbits':>5} {'synapses':>10}  neuron"
    print(header)
    print("-" * max(len(header), 60))
    for r in rows:
        extra = ""
        if "kernel" in r:
            extra = f" k={tuple(r['kernel'])} s={tuple(r['stride'])} p={tuple(r['padding'])}"
        if "max_delay" in r:
            extra += f" max_delay={r['max_delay']}"
        wb = "-" if r["weight_bits"] is None else str(r["weight_bits"])
        print(f"{r['index']:>2}  {r['type']:<9} {str(tuple(r['shape'])):<16} {wb:>5} "
              f"{r['synapses']:>10}  {_fmt_neuron(r['neuron'])}{extra}")
    total = sum(r["synapses"] for r in rows)
    neurons = sum(int(np.prod(r["shape"])) for r in rows if r["neuron"])
    print(f"total: {neurons} neurons, {total} synapses")
    if spec.extensions:
        print("extensions: " + ", ".join(sorted(spec.extensions)))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from loihi_snn.errors import ShapeError
    from loihi_snn.runtime.run import run
    if not os.path.exists(args.input):
        raise ShapeError(f"{args.input}: input file not found")
    try:
        x = np.load(args.input, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ShapeError(f"{args.input}: not a numpy .npy file ({exc})") from None
    y = run(args.net, x, steps=args.steps, backend=args.backend)
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    np.save(args.out, y)
    print(f"{args.net}: ran {y.shape[-1]} steps on {args.backend}; output {y.shape} "
          f"({int(np.count_nonzero(y))} non-zero) written to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from loihi_snn.runtime.run import BACKENDS
    p = argparse.ArgumentParser(
        prog="loihi-snn",
        description="Train spiking networks with lava-dl SLAYER and run them bit-exactly "
                    "on Lava (CPU simulation) or Loihi 2.",
        epilog="Run 'loihi-snn COMMAND --help' for the options of each command.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    pi = sub.add_parser("info", help="print the layer table of a NetX .net file",
                        description="Validate a NetX HDF5 file and print one row per layer: "
                                    "type, output shape (C, H, W), weight bits, synapse "
                                    "count, and neuron type with its parameters.")
    pi.add_argument("net", help="NetX network file (*.net)")
    pi.add_argument("--json", action="store_true",
                    help="print a single JSON object instead of a table")
    pi.set_defaults(func=cmd_info)

    backends = "; ".join(f"{k}: {v}" for k, v in BACKENDS.items())
    pr = sub.add_parser("run", help="run a network on one input and save the output spikes",
                        description="Run a NetX network on one input on Lava. The input is "
                                    "a .npy array in the network's (C, H, W) or (N,) order "
                                    "with time as the LAST axis, e.g. (200, 2000) for 200 "
                                    "inputs over 2000 steps.")
    pr.add_argument("net", help="NetX network file (*.net)")
    pr.add_argument("--input", required=True, metavar="X.npy",
                    help="input array, time last; spikes (0/1) or integer graded values")
    pr.add_argument("--steps", type=int, default=None,
                    help="steps to run (default: the input's length T; input is zero after T)")
    pr.add_argument("--backend", default="lava-fixed", choices=sorted(BACKENDS),
                    help=f"where to run ({backends}); default lava-fixed")
    pr.add_argument("--out", required=True, metavar="Y.npy",
                    help="where to write the output, time last")
    pr.set_defaults(func=cmd_run)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except LoihiSnnError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:       # e.g. `loihi-snn info --json NET | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The NIR subcommands of ``loihi-snn``:

    loihi-snn import MODEL.nir --out NET.net [--dt S] [--reset hard|soft|none]
                     [--weight-bits B] [--layer-start first_input|step_1]
                     [--check INPUTS.npy]
    loihi-snn export-nir NET.net --out MODEL.nir

:func:`add_parsers` adds them to the main parser's subcommands; bad input ends in one
line ``error: ...`` naming the file, node (or layer) and field, exit status 2, and no
file written.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from loihi_snn.core.errors import ShapeError
from loihi_snn.netx.describe import format_table, layer_table
from loihi_snn.netx.schema import read_netx
from loihi_snn.netx.schema import LAYER_STARTS
from loihi_snn.nir import (check_import, from_nir, layer_start_from_metadata, normalise,
                           reset_from_metadata, to_nir)
from loihi_snn.nir.check import integer_input
from loihi_snn.nir.lower import DEFAULT_DT
from loihi_snn.sim.runtime.io import load_npy


def _load_inputs(path: str, shape) -> np.ndarray:
    x = load_npy(path)          # a regular file; header checked before reading
    try:
        return integer_input(x, shape)
    except ShapeError as exc:
        raise ShapeError(f"{path}: {exc}") from None


def cmd_import(args: argparse.Namespace) -> int:
    chain = normalise(args.model)
    args.reset = reset_from_metadata(chain) if args.reset is None else args.reset
    if args.layer_start is None:
        args.layer_start = layer_start_from_metadata(chain)
    x = _load_inputs(args.check, chain.input_shape) if args.check else None
    out = from_nir(args.model, args.out, dt=args.dt, reset=args.reset,
                   weight_bits=args.weight_bits, layer_start=args.layer_start)
    spec = read_netx(out)
    info = spec.extensions.get("nir", {})
    print(f"imported {args.model} -> {out} (dt {args.dt:g} s, reset {args.reset}, "
          f"{args.weight_bits}-bit weights, layer start {args.layer_start})")
    print(format_table(spec, layer_table(spec)))
    delay = len(chain.spiking_stages)
    print(f"on Lava the output lags the NIR graph by {delay} steps (one per layer): run "
          f"T + {delay} steps to see every input step's effect")
    notes = json.loads(info.get("notes", "[]")) if isinstance(info.get("notes"), str) else []
    for note in notes:
        print(f"approximation: {note}")
    if x is not None:
        r = check_import(chain, out, x, dt=args.dt, reset=args.reset)
        print(f"check on {r['samples']} samples x {r['steps']} steps: prediction agreement "
              f"(float NIR reference vs fixed point) {r['prediction_agreement']:.4f}")
        for layer in r["layers"]:
            print(f"  layer {layer['layer']}: spike agreement {layer['spike_agreement']:.4f}, "
                  f"spikes/sample float {layer['float_spikes_per_sample']:.1f} fixed "
                  f"{layer['fixed_spikes_per_sample']:.1f}")
    return 0


def cmd_export_nir(args: argparse.Namespace) -> int:
    graph = to_nir(args.net, args.out)
    print(f"exported {args.net} -> {args.out}: {len(graph.nodes)} NIR nodes, "
          f"{len(graph.edges)} edges (dt {graph.metadata.get('dt', DEFAULT_DT):g} s, "
          f"snnTorch's convention)")
    return 0


def add_parsers(sub) -> None:
    """Add ``import`` and ``export-nir`` to the ``loihi-snn`` subcommands ``sub``."""
    pi = sub.add_parser(
        "import", help="import a NIR graph (snnTorch, Norse, ...) as a NetX .net file",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Lower a NIR graph (.nir, e.g. from snntorch.export_nir.export_to_nir or "
                    "norse.torch.to_nir) to a NetX network: LIF / IF / CubaLIF neurons to "
                    "CUBA (or our LIF family for --reset soft|none), Affine/Linear to dense "
                    "(dense_rec for a recurrent weight), Conv2d, pooling, Flatten; decays "
                    "from tau and dt, weights quantized to Loihi's 8-bit mantissa with one "
                    "scale per layer and the threshold scaled with them.",
        epilog="NIR records no reset mode: snnTorch's default 'subtract' needs --reset soft.  "
               "snnTorch writes tau = dt/(1-beta) with dt = 1e-4 (the default); Norse 1.1 "
               "writes tau = dt/tau_mem_inv: import it with --dt 1e-6 (its dt squared).")
    pi.add_argument("model", help="NIR file (*.nir)")
    pi.add_argument("--out", required=True, help="NetX file to write (*.net)")
    pi.add_argument("--dt", type=float, default=DEFAULT_DT, metavar="S",
                    help=f"time step in seconds (default {DEFAULT_DT:g}, snnTorch's)")
    pi.add_argument("--reset", choices=("hard", "soft", "none"), default=None,
                    help="reset after a spike (default: the mode loihi-snn export-nir "
                         "recorded in the node metadata, else hard: NIR's v -> v_reset = 0)")
    pi.add_argument("--weight-bits", type=int, default=8, metavar="B",
                    help="weight mantissa bits, 2..8 (default 8)")
    pi.add_argument("--layer-start", choices=LAYER_STARTS, default=None,
                    help="when each layer starts, written into the file: first_input "
                         "(NIR's timing: every runner zeroes a layer once, at the step its "
                         "first input arrives, so a bias acts from there) or step_1 (every "
                         "layer from step 1, a fresh run; a bias acts before the input "
                         "arrives).  Default: what export-nir recorded, else first_input")
    pi.add_argument("--check", metavar="INPUTS.npy", default=None,
                    help="run the NIR graph in float beside the fixed-point network on these "
                         "inputs ((N, *input_shape, T), integers) and print prediction and "
                         "per-layer spike agreement")
    pi.set_defaults(func=cmd_import)
    pe = sub.add_parser("export-nir", help="export a NetX .net network to NIR",
                        description="Write a NetX network as a NIR graph (snnTorch's dt = 1e-4 "
                                    "convention).  Ternary spikes, ASA gates, sigma-delta "
                                    "neurons, average layers and delays are refused.")
    pe.add_argument("net", help="NetX network file (*.net)")
    pe.add_argument("--out", required=True, help="NIR file to write (*.nir)")
    pe.set_defaults(func=cmd_export_nir)

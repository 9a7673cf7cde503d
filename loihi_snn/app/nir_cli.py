"""The NIR subcommands of ``loihi-snn``:

    loihi-snn import MODEL.nir --out NET.net [--dt S] [--reset hard|soft|none]
                     [--weight-bits B] [--layer-start first_input|step_1]
                     [--check INPUTS.npy [--labels LABELS.npy]]
    loihi-snn export-nir NET.net --out MODEL.nir

:func:`add_parsers` adds them to the main parser's subcommands; bad input ends in one
line ``error: ...`` naming the file, node (or layer) and field, exit status 2, and no
file written.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from loihi_snn.core.errors import OptionError, ShapeError
from loihi_snn.core.paths import output_path
from loihi_snn.netx.describe import format_table, layer_table
from loihi_snn.netx.schema import read_netx
from loihi_snn.netx.schema import LAYER_STARTS
from loihi_snn.nir import (NirError, check_import, check_options, from_nir,
                           layer_start_from_metadata, normalise, recorded_reset, to_nir)
from loihi_snn.nir.check import integer_input
from loihi_snn.nir.lower import DEFAULT_DT
from loihi_snn.sim.runtime.io import load_npy


def _load_inputs(path: str, shape) -> np.ndarray:
    x = load_npy(path)          # a regular file; header checked before reading
    try:
        return integer_input(x, shape)
    except ShapeError as exc:
        raise ShapeError(f"{path}: {exc}") from None


#: how to state the reset mode a NIR graph cannot record (one line, for the error)
RESET_HINT = ("state it with --reset soft (snnTorch's default reset_mechanism 'subtract'), "
              "--reset hard (snnTorch 'zero'; NIR's v -> v_reset) or --reset none")


def _load_labels(path: str, samples: int) -> np.ndarray:
    """Class labels (samples,) for ``--check``'s inputs, integers; else one line."""
    y = load_npy(path)          # a regular file; header checked before reading
    if y.shape != (samples,) or y.dtype.kind not in "biuf" or \
            not np.array_equal(y, np.round(y)) or (y.size and y.min() < 0):
        raise ShapeError(f"{path}: --labels must be ({samples},) class indices (integers "
                         f">= 0), one per sample of --check; got shape {y.shape} of {y.dtype}")
    return y.astype(np.int64)


def cmd_import(args: argparse.Namespace) -> int:
    # the options and the destination first, then the graph and the check inputs
    check_options(dt=args.dt, reset=args.reset, weight_bits=args.weight_bits,
                  layer_start=args.layer_start)
    output_path(args.out, ext=None)
    if args.labels is not None and args.check is None:
        raise OptionError("--labels needs --check INPUTS.npy (the samples they label)")
    chain = normalise(args.model)
    if args.reset is None:
        args.reset = recorded_reset(chain)
        if args.reset is None and chain.spiking_stages:
            raise NirError(chain.source, f"the graph does not record its neurons' reset mode "
                                         f"(NIR has none; only loihi-snn export-nir writes it "
                                         f"in the node metadata): {RESET_HINT}",
                           chain.spiking_stages[0].neuron_name, "reset")
        args.reset = args.reset or "hard"
    if args.layer_start is None:
        args.layer_start = layer_start_from_metadata(chain)
    x = _load_inputs(args.check, chain.input_shape) if args.check else None
    labels = _load_labels(args.labels, len(x)) if args.labels is not None else None
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
        if labels is not None:
            acc = [float(np.mean(np.asarray(r[k]) == labels))
                   for k in ("float_predictions", "fixed_predictions")]
            print(f"accuracy against {args.labels}: float NIR reference {acc[0]:.4f}, "
                  f"fixed point {acc[1]:.4f} (reset {args.reset})")
        for layer in r["layers"]:
            print(f"  layer {layer['layer']}: spike agreement {layer['spike_agreement']:.4f}, "
                  f"spikes/sample float {layer['float_spikes_per_sample']:.1f} fixed "
                  f"{layer['fixed_spikes_per_sample']:.1f}")
    return 0


def cmd_export_nir(args: argparse.Namespace) -> int:
    graph = to_nir(args.net, args.out)        # checks --out before reading the network
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
        epilog="NIR records no reset mode: state --reset for a graph that loihi-snn "
               "export-nir did not write (snnTorch's default 'subtract' is --reset soft, "
               "'zero' is --reset hard); the mode is never guessed.  "
               "snnTorch writes tau = dt/(1-beta) with dt = 1e-4 (the default); Norse 1.1 "
               "writes tau = dt/tau_mem_inv: import it with --dt 1e-6 (its dt squared).")
    pi.add_argument("model", help="NIR file (*.nir)")
    pi.add_argument("--out", required=True, help="NetX file to write (*.net)")
    pi.add_argument("--dt", type=float, default=DEFAULT_DT, metavar="S",
                    help=f"time step in seconds (default {DEFAULT_DT:g}, snnTorch's)")
    pi.add_argument("--reset", choices=("hard", "soft", "none"), default=None,
                    help="reset after a spike: soft (subtract the threshold; snnTorch's "
                         "default 'subtract'), hard (v -> 0; snnTorch 'zero', NIR's v_reset) "
                         "or none.  Required unless the graph records it (loihi-snn "
                         "export-nir writes it in the node metadata)")
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
    pi.add_argument("--labels", metavar="LABELS.npy", default=None,
                    help="with --check: class labels (N,) of those inputs; also print the "
                         "accuracy of the float NIR reference and of the fixed-point "
                         "network against them")
    pi.set_defaults(func=cmd_import)
    pe = sub.add_parser("export-nir", help="export a NetX .net network to NIR",
                        description="Write a NetX network as a NIR graph (snnTorch's dt = 1e-4 "
                                    "convention).  Ternary spikes, ASA gates, sigma-delta "
                                    "neurons, average layers and delays are refused.")
    pe.add_argument("net", help="NetX network file (*.net)")
    pe.add_argument("--out", required=True, help="NIR file to write (*.nir)")
    pe.set_defaults(func=cmd_export_nir)

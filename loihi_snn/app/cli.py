"""The ``loihi-snn`` command.

    loihi-snn info NET.net [--json] [--loihi2]
    loihi-snn run NET.net --input X.npy [--steps N] [--backend lava-fixed] [--timeout S] --out Y.npy
    loihi-snn train (--preset NAME | --config FILE) --out DIR [--epochs N] [--seed S] ...
    loihi-snn export CHECKPOINT --out NET.net
    loihi-snn eval NET.net [--dataset NAME] [--limit N] [--cutoff] [--epsilon E] [--backend B] [--metrics] [--json]

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

from loihi_snn.app.evaluation import EvalError, evaluate, format_report
from loihi_snn.app.nir_cli import add_parsers as add_nir_parsers
from loihi_snn.core.errors import LoihiSnnError, OptionError, OutputError, ShapeError
from loihi_snn.core.limits import env_int
from loihi_snn.netx.describe import format_table, layer_table, summary
from loihi_snn.netx.resources import check, estimate
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.lava.hardware import is_loihi2_available
from loihi_snn.sim.runtime.guard import STALL_TIMEOUT_S, resolve_stall_timeout
from loihi_snn.app.files import save_npy
from loihi_snn.sim.runtime.io import load_npy, output_path
from loihi_snn.sim.runtime.run import (BACKENDS, check_steps, check_timeout, resolve_backend,
                                      run)
from loihi_snn.train.checkpoint import CHECKPOINT_NAME, export_checkpoint
from loihi_snn.train.config import list_presets, resolve_config
from loihi_snn.train.datasets import list_datasets
from loihi_snn.train.loop import train

EXIT_USAGE = 2

STALL_HELP = (f"end a Lava run whose processes make no progress (no process uses the CPU) "
              f"for this many seconds, with a one-line error naming what stalled (default "
              f"$LOIHI_SNN_STALL_TIMEOUT or {STALL_TIMEOUT_S:g}); a run that computes is "
              f"never ended by it")


def _print_json(obj: Dict[str, Any]) -> None:
    print(json.dumps(obj, indent=2,
                     default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o)))


def _shape_option(text: Optional[str], option: str):
    """``C,H,W`` -> (C, H, W) ints, None for None; OptionError otherwise."""
    if text is None:
        return None
    try:
        shape = tuple(int(p) for p in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise OptionError(f"{option} must be C,H,W (three positive integers), got {text!r}")
    return shape


def cmd_info(args: argparse.Namespace) -> int:
    spec = read_netx(args.net, input_shape=_shape_option(args.input_shape, "--input-shape"))
    rows = layer_table(spec)
    if getattr(args, "loihi2", False):
        return _info_loihi2(spec, rows, as_json=args.json)
    if args.json:
        _print_json(summary(spec, rows))
        return 0
    print(format_table(spec, rows))
    return 0


def _info_loihi2(spec, rows: List[Dict[str, Any]], as_json: bool) -> int:
    """``info --loihi2``: per-layer Loihi 2 resources and every limit violation.

    Violations are listed (never hidden) and clearly marked; the exit status stays 0
    because the file itself is valid -- it just does not fit Loihi 2 as is.
    """
    est = estimate(spec)
    violations = check(spec)
    n_err = sum(v.severity == "error" for v in violations)
    n_warn = len(violations) - n_err
    if as_json:
        _print_json({**summary(spec, rows),
                     "loihi2": {**est.to_dict(), "fits": n_err == 0,
                                "errors": n_err, "warnings": n_warn,
                                "violations": [v.to_dict() for v in violations],
                                "lava_loihi_installed": is_loihi2_available()}})
        return 0
    print(f"{spec.path}: input {tuple(spec.input_shape)} -> output {tuple(spec.output_shape)}, "
          f"{len(rows)} layers -- Loihi 2 resources (cores are estimates)")
    header = (f"{'#':>2}  {'type':<9} {'neuron':<8} {'neurons':>8} {'synapses':>10} "
              f"{'cores':>5} {'wbits':>5} {'wexp':>4} {'msgbits':>7} {'maxdelay':>8}  where")
    print(header)
    print("-" * len(header))
    for e in est.layers:
        def dash(v):
            return "-" if v is None else str(v)
        print(f"{e.index:>2}  {e.type:<9} {dash(e.neuron):<8} {e.neurons:>8} {e.synapses:>10} "
              f"{e.cores:>5} {dash(e.weight_bits):>5} {dash(e.weight_exp):>4} "
              f"{e.message_bits:>7} {dash(e.max_delay):>8}  {e.where}")
    print(f"total: {est.neurons} neurons, {est.synapses} synapses, ~{est.cores} NeuroCores "
          f"= {100 * est.chip_fraction:.1f}% of one chip (120 cores), {est.chips} chip(s)")
    if not violations:
        print("Loihi 2 check: OK, no limit exceeded")
    else:
        verdict = ("DOES NOT FIT Loihi 2 as is" if n_err else
                   "fits the hard limits; see the warnings")
        print(f"Loihi 2 check: {n_err} error(s), {n_warn} warning(s) -- {verdict}:")
        for v in violations:
            print(f"  {v}")
    return 0


def _number(text: Optional[str], option: str, *, integer: bool) -> Optional[float]:
    """An option's value as a number (``1e3`` is allowed for a count), or None; a
    one-line OptionError for anything else.  The run functions check the range."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        kind = "a positive integer" if integer else "a positive number of seconds"
        raise OptionError(f"{option} must be {kind}, got {text!r}") from None
    if integer and np.isfinite(value) and value == int(value):
        return int(value)
    return value


def cmd_run(args: argparse.Namespace) -> int:
    # every option is checked before the network is read or Lava is imported
    steps = _number(args.steps, "--steps", integer=True)
    if steps is not None:
        steps = check_steps(steps)
    timeout = check_timeout(_number(args.timeout, "--timeout", integer=False))
    stall = resolve_stall_timeout(_number(args.stall_timeout, "--stall-timeout", integer=False))
    out = output_path(args.out)             # the name written (.npy appended if missing)
    backend = resolve_backend(args.backend)
    x = load_npy(args.input)    # a regular file; header checked before reading
    y = run(args.net, x, steps=steps, backend=backend, timeout=timeout, stall_timeout=stall)
    save_npy(out, y)          # atomic: no partial file if the write fails
    print(f"{args.net}: ran {y.shape[-1]} steps on {backend}; output {y.shape} "
          f"({int(np.count_nonzero(y))} non-zero) written to {out}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``loihi-snn train``: config -> trained checkpoint, NetX file, Lava check, model card."""
    import shlex

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise OutputError(f"{args.out}: is a file; --out names the folder that receives "
                          f"the checkpoint, the network and the model card")
    output_path(os.path.join(args.out, CHECKPOINT_NAME), ext=None)   # writable, before training
    cfg = resolve_config(preset=args.preset, config=args.config, epochs=args.epochs,
                         seed=args.seed, device=args.device)
    command = "loihi-snn " + " ".join(shlex.quote(a) for a in (args.argv or []))
    world = env_int("WORLD_SIZE", 1, minimum=1)
    if world > 1:                                        # launched by torchrun
        command = (f"torchrun --standalone --nproc_per_node={world} -m "
                   f"loihi_snn.app.cli" + command[len("loihi-snn"):])
    result = train(cfg, args.out, progress=args.progress, lava=not args.no_lava,
                   lava_limit=args.lava_limit, command=command)
    if result.card is not None:
        print(f"wrote {result.net_path}, {result.checkpoint} and {', '.join(result.card_paths)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``loihi-snn export``: rebuild a checkpoint's model and write it as NetX."""
    path = export_checkpoint(args.checkpoint, args.out)
    print(f"{args.checkpoint}: exported to {path}")
    return 0


def _workers(text: Any) -> int:
    """``--workers`` as an int >= 1, else a one-line OptionError."""
    value = _number(text, "--workers", integer=True)
    if not isinstance(value, int) or value < 1:
        raise OptionError(f"--workers must be a positive integer, got {text!r}")
    return value


def cmd_eval(args: argparse.Namespace) -> int:
    """``loihi-snn eval``: accuracy, mean steps, spikes, NASFR and speed on a data split."""
    if args.epsilon is not None and not 0.0 <= args.epsilon < 1.0:
        raise EvalError(f"--epsilon must be in [0, 1), got {args.epsilon}")
    for name in ("limit", "calibration_limit", "T"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise EvalError(f"--{name.replace('_', '-')} must be a positive integer, got {value}")
    if args.input_scale is not None and not (np.isfinite(args.input_scale)
                                             and args.input_scale > 0):
        raise EvalError(f"--input-scale must be a positive number (real-valued inputs are "
                        f"multiplied by it and rounded), got {args.input_scale:g}")
    if args.seed is not None and args.seed < 0:
        raise EvalError(f"--seed must be a non-negative integer, got {args.seed}")
    result = evaluate(args.net, args.dataset, split=args.split, limit=args.limit,
                      cutoff=args.cutoff, epsilon=args.epsilon, backend=args.backend,
                      encoding=args.encoding, T=args.T, seed=args.seed,
                      input_scale=args.input_scale, calibration_limit=args.calibration_limit,
                      spikes=not args.no_spikes,
                      stall_timeout=resolve_stall_timeout(
                          _number(args.stall_timeout, "--stall-timeout", integer=False)),
                      workers=_workers(args.workers), metrics=args.metrics)
    if env_int("RANK", 0, minimum=0) > 0:               # torchrun: rank 0 reports for all
        return 0
    if args.json:
        print(json.dumps(result.to_dict(per_sample=args.per_sample)))
    else:
        print(format_report(result))
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    pi.add_argument("--loihi2", action="store_true",
                    help="print Loihi 2 resources per layer (neurons, synapses, estimated "
                         "NeuroCores, weight bits, message bits, max delay) and list every "
                         "Loihi 2 limit the network exceeds (exit status stays 0)")
    pi.add_argument("--input-shape", metavar="C,H,W", default=None,
                    help="input shape of a network whose first layer is conv or pool with "
                         "no input layer, as stock SLAYER exports it ('run' takes it from "
                         "the input)")
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
    pr.add_argument("--steps", default=None, metavar="N",
                    help="steps to run (default: the input's length T; input is zero after T)")
    pr.add_argument("--backend", default="lava-fixed", choices=sorted(BACKENDS),
                    help=f"where to run ({backends}); default lava-fixed")
    pr.add_argument("--out", required=True, metavar="Y.npy",
                    help="where to write the output, time last (.npy is appended when "
                         "missing); checked before the run, written through a temporary "
                         "file, so a failed write leaves an existing file unchanged")
    pr.add_argument("--timeout", default=None, metavar="SECONDS",
                    help="stop the Lava run after this many seconds (compile included) and "
                         "fail with a one-line error saying how many steps were done")
    pr.add_argument("--stall-timeout", default=None, metavar="SECONDS", help=STALL_HELP)
    pr.set_defaults(func=cmd_run)

    presets = "; ".join(f"{k}: {v}" for k, v in list_presets().items())
    pt = sub.add_parser(
        "train", help="train a network from a preset or config file, export it, check it on Lava",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train a spiking network with lava-dl SLAYER, keep the epoch the config's "
                    "'select' names ('last': the final epoch, what the digits presets use; "
                    "'best': the highest validation accuracy), export it to NetX, run the "
                    "test set on Lava "
                    "(fixed point) and on the torch quantized forward, and write a model card.\n\n"
                    "Writes into --out: checkpoint.pt (weights + config), <name>.net, "
                    "config.json, model_card.json and MODEL_CARD.md.\n\n"
                    "Data-parallel: launch with torchrun, e.g.\n"
                    "  torchrun --standalone --nproc_per_node=2 -m loihi_snn.app.cli train "
                    "--preset digits --out runs/digits\n"
                    "(gloo on CPU, nccl on CUDA; only rank 0 writes files).",
        epilog="presets: " + presets)
    src = pt.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", metavar="NAME",
                     help="start from a built-in configuration (" + ", ".join(list_presets()) + ")")
    src.add_argument("--config", metavar="FILE",
                     help="JSON (or YAML, with pyyaml) file of TrainConfig fields; may name "
                          "a 'preset' to start from")
    pt.add_argument("--out", required=True, metavar="DIR",
                    help="output directory (created if needed)")
    pt.add_argument("--epochs", type=int, default=None, metavar="N",
                    help="override the number of training epochs")
    pt.add_argument("--seed", type=int, default=None, metavar="S",
                    help="override the seed (weights, data encoding, validation split, shuffling)")
    pt.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                    help="where to train (default: the config's, 'auto' = CUDA when available)")
    pt.add_argument("--lava-limit", type=int, default=None, metavar="N",
                    help="run only the first N test samples on Lava (default: the config's "
                         "lava_limit, else the whole test split)")
    pt.add_argument("--no-lava", action="store_true",
                    help="skip the Lava run (the card then has torch results only)")
    pt.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                    help="progress bars (default: only when stderr is a terminal)")
    pt.set_defaults(func=cmd_train)

    pe = sub.add_parser("export", help="re-export a training checkpoint to a NetX .net file",
                        description="Rebuild the network stored in a checkpoint written by "
                                    "'loihi-snn train' (it holds the config and the weights) "
                                    "and write it as a NetX HDF5 file, atomically.")
    pe.add_argument("checkpoint", help="checkpoint.pt written by 'loihi-snn train'")
    pe.add_argument("--out", required=True, metavar="NET.net", help="NetX file to write")
    pe.set_defaults(func=cmd_export)

    pv = sub.add_parser(
        "eval", help="measure a network on a data set: accuracy, steps, spikes, NASFR, speed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a data split through a NetX network and print accuracy, mean time "
                    "steps per sample, spikes per sample, NASFR (spikes per neuron per step) "
                    "and wall-clock sample-steps per second (one sample advanced one time "
                    "step; the same unit on every backend).  Long runs report progress on "
                    "stderr: a bar on a terminal, else plain lines (start, every 5 s, end).\n\n"
                    "The data set, encoding, T, input scale and seed are read from the file "
                    "when 'loihi-snn train' wrote it, so the split is the one its model card "
                    "reports; name them for other networks.\n\n"
                    "--cutoff ends each sample once the Top-1/Top-2 gap of its output spike "
                    "counts passes the step's calibrated threshold (the thresholds stored in "
                    "the file); --epsilon E calibrates new thresholds on the training split "
                    "for an error tolerance E (implies --cutoff).  On Lava backends a cutoff "
                    "controller process streams the whole split through one run; lava-fused "
                    "and emulator apply the same rule to their (identical) outputs.\n\n"
                    "Spikes are counted by the bit-exact emulator over the steps each sample "
                    "used.  --metrics adds NeuroBench's metrics of the deployed network "
                    "(loihi_snn.metrics), measured the same way.",
        epilog="data sets: " + "; ".join(f"{k}: {v}" for k, v in list_datasets().items())
               + "\n\nexample:\n  loihi-snn eval netx_models/digits_cuba/digits_cuba.net "
                 "--cutoff --epsilon 0.03 --json\n  loihi-snn eval "
                 "netx_models/digits_lif/digits_lif.net --cutoff --backend emulator --metrics")
    pv.add_argument("net", help="NetX network file (*.net) with a 1-D output layer")
    pv.add_argument("--dataset", metavar="NAME", default=None,
                    help="data set (default: the one recorded in the file)")
    pv.add_argument("--split", choices=("test", "train"), default="test",
                    help="which split (default test)")
    pv.add_argument("--limit", type=int, default=None, metavar="N",
                    help="only the first N samples of the split")
    pv.add_argument("--cutoff", action="store_true",
                    help="end each sample early by the Top-K cutoff (thresholds stored in the "
                         "file, or calibrated with --epsilon)")
    pv.add_argument("--epsilon", type=float, default=None, metavar="E",
                    help="calibrate the cutoff thresholds now on the training split for error "
                         "tolerance E in [0, 1), e.g. 0.02 (implies --cutoff)")
    pv.add_argument("--calibration-limit", type=int, default=None, metavar="N",
                    help="calibrate on the first N training samples (default: all)")
    pv.add_argument("--backend", default="lava-fixed", choices=sorted(BACKENDS),
                    help=f"where to run ({backends}); default lava-fixed")
    pv.add_argument("--encoding", default=None, help="override the recorded encoding")
    pv.add_argument("--T", type=int, default=None, metavar="STEPS",
                    help="override the recorded number of time steps per sample")
    pv.add_argument("--seed", type=int, default=None,
                    help="seed of the data encoding (default: the recorded one, else 0)")
    pv.add_argument("--input-scale", type=float, default=None, metavar="S",
                    help="multiply real-valued inputs by S and round (default: the recorded "
                         "scale)")
    pv.add_argument("--no-spikes", action="store_true",
                    help="skip counting spikes (spikes_per_sample and nasfr become null)")
    pv.add_argument("--metrics", action="store_true",
                    help="also measure what the deployment costs, in NeuroBench's definitions "
                         "on the fixed-point network (bit-exact emulator, over the steps each "
                         "sample used): effective ACs/MACs and dense synaptic operations (per "
                         "connection), activation and connection sparsity, membrane updates, "
                         "footprint at Loihi precisions, latency, the Loihi 2 estimate")
    pv.add_argument("--json", action="store_true",
                    help="print one JSON object with keys accuracy, mean_steps, "
                         "spikes_per_sample, nasfr, steps_per_second, samples (and the "
                         "settings used; with --metrics a 'metrics' object)")
    pv.add_argument("--per-sample", action="store_true",
                    help="with --json: add each sample's prediction and steps used")
    pv.add_argument("--stall-timeout", default=None, metavar="SECONDS", help=STALL_HELP)
    pv.add_argument("--workers", default="1", metavar="N",
                    help="Lava backends: shard the samples over N supervised Lava runs side "
                         "by side (one per core is a good choice); the results equal one "
                         "run's (default 1).  Beyond one machine, launch eval with torchrun "
                         "(e.g. torchrun --nnodes 2 --nproc_per_node 4 -m loihi_snn.app.cli "
                         "eval NET ...): each rank runs its contiguous share of the samples "
                         "and rank 0 prints the gathered result, equal to one run's")
    pv.set_defaults(func=cmd_eval)
    add_nir_parsers(sub)         # loihi-snn import / export-nir (app/nir_cli.py)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
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

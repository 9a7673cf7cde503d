"""Running on Loihi 2: check that a network fits, pick the backend, run, and compare.

    python tutorials/07_loihi2.py --size small             # ~30 s, 30 test digits
    python tutorials/07_loihi2.py --size full              # the whole test split
    python tutorials/07_loihi2.py --net my.net --dataset digits

What a Loihi 2 user does before and after getting chip time:

1. **Does it fit?**  ``loihi-snn info NET --loihi2`` (in Python:
   :func:`loihi_snn.netx.resources.check` and :func:`~loihi_snn.netx.resources.estimate`) lists
   NeuroCores per layer, weight and message bits, delays, and every hardware limit the
   network exceeds.  A network with an ERROR does not run on the chip as is; the
   tutorial also shows one such network (odd weights of mixed sign: more than 8
   mantissa bits) and the message that says how to fix it.
2. **Which backend?**  ``backend="loihi2"`` needs Intel's lava-loihi extension (INRC
   members) and a Loihi 2 host; ``backend="auto"`` picks it when installed and falls back
   to ``lava-fixed``, Lava's bit-accurate CPU simulation of the same integer arithmetic.
   Without lava-loihi, ``loihi2`` fails with one line saying what to install.
3. **Run and compare.**  The test digits go through one run with the cutoff controller
   on the chosen backend (:func:`loihi_snn.app.evaluation.evaluate`), and through the
   simulator and the emulator: the three must agree sample for sample.  On a machine
   with lava-loihi the first column is the chip.  This tutorial was only ever run
   without lava-loihi (no chip here): the ``loihi2`` path is untested, see
   ``docs/hardware.md``.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NET = ROOT / "netx_models" / "digits_cuba" / "digits_cuba.net"
SIZES = {"small": 30, "full": None}


def fit_report(path: str) -> bool:
    """Print what ``loihi-snn info NET --loihi2`` prints; True when no limit is an error."""
    from loihi_snn.app.cli import main as loihi_snn_cli
    from loihi_snn.netx.resources import check, errors
    from loihi_snn.netx import read_netx
    loihi_snn_cli(["info", path, "--loihi2"])
    return not errors(check(read_netx(path)))


def broken_copy(path: str, out_dir: str) -> str:
    """A copy whose first weight matrix needs more than 8 mantissa bits (odd +-255)."""
    import h5py
    dst = os.path.join(out_dir, "too_wide_weights.net")
    shutil.copy(path, dst)
    with h5py.File(dst, "r+") as f:
        w = f["layer/0/weight"]
        arr = np.asarray(w)
        arr.flat[0] = 255
        arr.flat[1] = -255
        w[...] = arr
    return dst


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=tuple(SIZES), default="small",
                   help="small: the first 30 test samples; full: the whole test split")
    p.add_argument("--net", default=str(DEFAULT_NET),
                   help="NetX network with a 1-D output (default: netx_models/digits_cuba)")
    p.add_argument("--dataset", default=None,
                   help="data set (default: the one recorded in the file)")
    p.add_argument("--epsilon", type=float, default=0.02,
                   help="cutoff error tolerance, calibrated on the training split (default 0.02)")
    p.add_argument("--backend", default="auto", choices=("auto", "loihi2", "lava-fixed"),
                   help="where to run the first column (default auto: Loihi 2 when "
                        "lava-loihi is installed, else lava-fixed)")
    args = p.parse_args(argv)

    from loihi_snn.core.errors import BackendError
    from loihi_snn.app.evaluation import evaluate
    from loihi_snn.sim.lava.hardware import is_loihi2_available
    from loihi_snn.core.lavadl import ensure_lava_runtime
    from loihi_snn.sim.runtime.run import resolve_backend
    ensure_lava_runtime()

    print(f"1. does {os.path.relpath(args.net, ROOT) if args.net.startswith(str(ROOT)) else args.net} "
          f"fit Loihi 2?")
    fits = fit_report(args.net)
    print(f"   -> {'fits' if fits else 'DOES NOT FIT'} the hard limits")
    with tempfile.TemporaryDirectory() as tmp:
        print("   a copy with odd weights of mixed sign (more than 8 bits), for comparison:")
        fit_report(broken_copy(args.net, tmp))

    print("\n2. which backend?")
    print(f"   lava-loihi installed: {is_loihi2_available()}")
    try:
        resolve_backend("loihi2")
        print("   backend 'loihi2' is available")
    except BackendError as exc:
        print(f"   backend 'loihi2': {exc}")
    chosen = resolve_backend(args.backend)
    print(f"   backend '{args.backend}' resolves to '{chosen}'")

    limit = SIZES[args.size]
    print(f"\n3. run the test split ({'all' if limit is None else limit} samples) with the cutoff "
          f"(eps {args.epsilon}) on {chosen}, the simulator and the emulator")
    runs = {}
    for backend in dict.fromkeys((chosen, "lava-fixed", "emulator")):
        runs[backend] = evaluate(args.net, args.dataset, limit=limit, epsilon=args.epsilon,
                                 backend=backend, spikes=backend == "emulator")
    print(f"   {'backend':<12}{'accuracy':>10}{'mean steps':>12}{'steps/s':>10}")
    for name, r in runs.items():
        print(f"   {name:<12}{r.accuracy:>10.3f}{r.mean_steps:>12.2f}{r.steps_per_second:>10.0f}")
    ref = runs["lava-fixed"]
    same = all(r.predictions == ref.predictions and r.steps == ref.steps for r in runs.values())
    emu = runs["emulator"]
    print(f"   spikes per sample {emu.spikes_per_sample:.1f}, NASFR {emu.nasfr:.4f} "
          f"(within the steps used)")
    print(f"   every backend made the same decisions at the same steps: {same}")
    if chosen != "loihi2":
        print("   (no chip here: on a Loihi 2 host with lava-loihi, '--backend auto' runs the "
              "first row on the chip; the cutoff controller then runs on the host)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())

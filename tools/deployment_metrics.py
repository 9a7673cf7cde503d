"""What each shipped model costs deployed: ``results/metrics/metrics.{json,md}``.

    .venv/bin/python tools/deployment_metrics.py

For every ``netx_models/<name>/<name>.net``: NeuroBench's metrics of the fixed-point
network (:mod:`loihi_snn.sim.metrics`, one bit-exact emulator run) on the test split
``loihi-snn eval`` uses, at the full T and, for a file with cutoff thresholds, with the
cutoff -- the numbers ``loihi-snn eval --backend emulator --metrics [--cutoff]`` prints and
the model cards' ``deployment`` sections hold.  Written with its provenance
(:func:`loihi_snn.app.results.write_result`); run it from a clean, committed tree.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from loihi_snn.app.evaluation import load_eval_data
from loihi_snn.app.results import Table, provenance, write_result
from loihi_snn.core.cutoff import offline_cutoff
from loihi_snn.netx.calibration import load_calibration
from loihi_snn.netx.schema import read_netx
from loihi_snn.sim.metrics import ENERGY_NOTE, measure_activity, metrics_from_activity

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    started = provenance("python tools/deployment_metrics.py")
    rows, data = [], {}
    for net in sorted((ROOT / "netx_models").glob("*/*.net")):
        if net.parent.name == "demo":
            continue
        spec = read_netx(str(net))
        d = load_eval_data(spec)
        plan, act = measure_activity(spec, d.inputs)
        runs = {"full_T": (metrics_from_activity(plan, act), act.outputs.sum(-1).argmax(1))}
        cal = load_calibration(spec, steps=d.T)
        if cal is not None:
            pred, used = offline_cutoff(act.outputs, cal.beta, d.T)
            runs["cutoff"] = (metrics_from_activity(plan, act, used), pred)
        entry = {"samples": int(len(d.labels)), "T": d.T}
        for key, (m, pred) in runs.items():
            acc = float(np.mean(np.asarray(pred) == d.labels))
            entry[key] = {"accuracy": acc, **m.to_dict()}
            syn, fp = m.synaptic_operations, m.footprint
            rows.append([net.stem, "cutoff" if key == "cutoff" else f"T = {d.T}", len(d.labels),
                         acc, m.latency["mean_steps"], syn["effective_acs"],
                         syn["effective_macs"], syn["dense"],
                         m.activation_sparsity["overall"],
                         m.connection_sparsity["overall"],
                         m.membrane_updates["per_sample"], fp["bytes"], m.loihi2["cores"]])
        data[net.stem] = entry
        print(f"{net.stem}: done", flush=True)
    table = Table("Per sample, test split (bit-exact emulator = Lava fixed_pt)",
                  ["model", "steps", "samples", "accuracy", "mean steps", "effective ACs",
                   "effective MACs", "dense ops", "activation sparsity",
                   "connection sparsity", "membrane updates", "footprint bytes",
                   "Loihi 2 cores (estimate)"], rows, float_format=".6g")
    write_result("metrics", title="What a deployment costs: NeuroBench's metrics of the "
                                  "shipped networks, fixed point",
                 tables=[table], data={"models": data},
                 text=["NeuroBench's definitions (synaptic operations, activation and "
                       "connection sparsity, membrane updates; footprint at Loihi's "
                       "precisions) measured by `loihi_snn.metrics` on the deployed "
                       "fixed-point network over the steps each sample used, as "
                       "`loihi-snn eval --backend emulator --metrics [--cutoff]` prints them "
                       "and the model cards hold them.  tests/e2e/test_metrics_neurobench.py "
                       "checks the counts against NeuroBench 2.3 itself.",
                       f"Energy: {ENERGY_NOTE}."], started=started)
    return 0


if __name__ == "__main__":
    sys.exit(main())

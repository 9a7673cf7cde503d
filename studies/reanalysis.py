"""Study: paired 95 % intervals for the committed LIF-variant and ASA 2x2 results (no training).

    python -m studies.reanalysis [--size small|full] [--out RESULTS_DIR]

The LIF variants (results/lif_variants/) and ASA 2x2 (results/asa/gain2x2/) studies
report per-seed rows and mean ± std.  This reads their committed rows (nothing is
trained or re-run; the rows' own provenance stays theirs) and gives every claim-level
contrast its seed-paired 95 % t-interval, so each verdict can say whether the interval
includes 0:

* LIF variants, per task, the contrasts of ``studies.lif_variants.paired`` (leak on - off at
  equal reset and recurrence, recurrent - feed-forward, reset hard/soft - none) on each
  task's key metric; for the noise-robustness claim, the per-seed mean over the six
  variant pairs of (relative drop with leak - without);
* the ASA 2x2 design when its runs are committed (:data:`ASA_2X2`, one learning rate for
  every arm; :data:`ASA_2X2_TUNED`, every arm tuned on validation): the adaptive gate
  against a constant gain equal to its starting gain, at starting gains 0.5 and 0.953,
  and the interaction (does the gate's advantage depend on where it starts?).

The first ASA design's files (``results/asa/asa.json``, ``results/asa/epochs24_noise20/``:
a gate starting at gain 0.95, cross-entropy, a validation-picked epoch) were written from
an uncommitted tree and are superseded by the 2x2 design; they are no longer read here
(:func:`asa` still reads any file of that layout).

``--size`` is accepted for the harness's command line; both sizes do the same (seconds).
Writes ``<out>/reanalysis/reanalysis.{json,md}``.
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

if __package__ in (None, ""):      # run as a file: find `studies`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from studies import harness  # noqa: E402

SIZES = {"small": {}, "full": {}}
LIF_FILE = "results/lif_variants/lif_variants.json"
ASA_REFERENCE = "gain"
#: the 2x2 ASA design (issue 35): gate and constant gain at two starting gains, one run
#: each (python -m studies.asa --map-bias B --arms gain,adaptive ...); read when present
ASA_2X2 = {"0.5": "results/asa/gain2x2/start0.5/asa.json",
           "0.953": "results/asa/gain2x2/start0.95/asa.json"}
#: the same design with every arm's learning rate x surrogate width tuned on validation
#: (python -m studies.asa --tune ...), each seed trained on the whole training split
ASA_2X2_TUNED = {"0.5": "results/asa/tuned2x2/start0.5/asa.json",
                 "0.953": "results/asa/tuned2x2/start0.95/asa.json"}


def _read(rel: str) -> dict:
    with open(os.path.join(harness.ROOT, rel), encoding="utf-8") as fh:
        return json.load(fh)


def lif(doc: dict) -> dict:
    """Per task: every paired contrast with its 95 % interval (key metric and spikes)."""
    import itertools

    from studies.lif_variants import _mean_drop, key_metric, tag_of
    rows = doc["rows"]
    by = {(r["task"], r["tag"], r["seed"]): r for r in rows}
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        name, metric = key_metric(task)
        entries = []

        def diff(a, b, label):
            seeds = sorted(s for (t, g, s) in by if t == task and g == a and (task, b, s) in by)
            if not seeds:
                return
            d = [metric(by[(task, a, s)]) - metric(by[(task, b, s)]) for s in seeds]
            if any(x is None for x in d):
                return
            entries.append({"comparison": label, "a": a, "b": b,
                            "metric": harness.mean_ci(d), "sign": harness.sign(harness.mean_ci(d))})
        for reset, rec in itertools.product(("hard", "soft", "none"), (False, True)):
            diff(tag_of(True, reset, rec), tag_of(False, reset, rec), "leak on - off")
        for leak, reset in itertools.product((True, False), ("hard", "soft", "none")):
            diff(tag_of(leak, reset, True), tag_of(leak, reset, False), "recurrent - ff")
        for leak, rec in itertools.product((True, False), (False, True)):
            for reset in ("hard", "soft"):
                diff(tag_of(leak, reset, rec), tag_of(leak, "none", rec), f"reset {reset} - none")
        out[task] = {"metric": name, "differences": entries}
    # the robustness claim: per seed, the mean over the six (reset, recurrence) pairs of
    # the relative drop with leak minus without
    seeds = sorted({r["seed"] for r in rows if r["task"] == "lif_patterns"})
    per_seed = []
    for s in seeds:
        d = [_mean_drop(by[("lif_patterns", tag_of(True, rs, rc), s)])
             - _mean_drop(by[("lif_patterns", tag_of(False, rs, rc), s)])
             for rs, rc in itertools.product(("hard", "soft", "none"), (False, True))]
        per_seed.append(float(np.mean(d)))
    out["lif_patterns"]["leak_drop_pooled"] = harness.mean_ci(per_seed)
    rec = [e for e in out["lif_stream"]["differences"] if e["comparison"] == "recurrent - ff"]
    out["lif_stream"]["recurrent_minus_ff_range"] = [min(e["metric"]["mean"] for e in rec),
                                                     max(e["metric"]["mean"] for e in rec)]
    return out


def asa(doc: dict) -> dict:
    """Per noise rate and arm: paired differences against the gain control."""
    rows = doc["rows"]
    out = {}
    for noise in sorted({r["noise"] for r in rows}):
        ref = {r["seed"]: r for r in rows if r["noise"] == noise and r["arm"] == ASA_REFERENCE}
        cell = {}
        for arm in ("adaptive", "static", "plain"):
            a = {r["seed"]: r for r in rows if r["noise"] == noise and r["arm"] == arm}
            seeds = sorted(set(a) & set(ref))
            if not seeds:
                continue
            spk = harness.mean_ci([100 * (a[s]["spikes_per_sample"] /
                                          ref[s]["spikes_per_sample"] - 1) for s in seeds])
            acc = harness.mean_ci([100 * (a[s]["accuracy"] - ref[s]["accuracy"]) for s in seeds])
            cell[arm] = {"seeds": seeds, "spikes_percent": spk, "accuracy_points": acc,
                         "spikes_sign": harness.sign(spk), "accuracy_sign": harness.sign(acc),
                         "gate_gain_mean": float(np.mean([g["all"] for s in seeds
                                                          for g in a[s]["gate_gains"].values()]))
                         if a[seeds[0]].get("gate_gains") else None}
        out[f"{noise:g}"] = cell
    return out


def asa_2x2(docs: dict) -> dict:
    """Per starting gain: adaptive against the constant gain (spikes %, accuracy points),
    seed-paired; and the interaction: (adaptive - gain at 0.5) - (adaptive - gain at
    0.953) per seed, i.e. whether the gate's advantage depends on where it starts."""
    out, per_seed = {}, {}
    for start, doc in docs.items():
        rows = doc["rows"]
        (noise,) = sorted({r["noise"] for r in rows})
        out[start] = asa(doc)[f"{noise:g}"]
        ref = {r["seed"]: r for r in rows if r["arm"] == ASA_REFERENCE}
        a = {r["seed"]: r for r in rows if r["arm"] == "adaptive"}
        per_seed[start] = {s: (100 * (a[s]["spikes_per_sample"] / ref[s]["spikes_per_sample"]
                                      - 1), 100 * (a[s]["accuracy"] - ref[s]["accuracy"]))
                           for s in set(a) & set(ref)}
        out[start]["noise"] = noise
        out[start]["loss"] = doc["size_params"].get("loss", "cross_entropy")
        out[start]["select"] = doc["size_params"].get("select", "best")
        out[start]["gain_accuracy"] = harness.mean_ci([r["accuracy"] for r in ref.values()])
        out[start]["adaptive_accuracy"] = harness.mean_ci([r["accuracy"] for r in a.values()])
    if len(per_seed) == 2:
        lo, hi = per_seed["0.5"], per_seed["0.953"]
        seeds = sorted(set(lo) & set(hi))
        out["interaction"] = {
            "seeds": seeds,
            "spikes_percent": harness.mean_ci([lo[s][0] - hi[s][0] for s in seeds]),
            "accuracy_points": harness.mean_ci([lo[s][1] - hi[s][1] for s in seeds])}
    return out


WORD = {1: "above 0", -1: "below 0", 0: "includes 0", None: "one seed"}


def _asa_table(cells: dict, what: str):
    """The 2x2 table of :func:`asa_2x2`'s result ``cells`` (recipe described by ``what``)."""
    ci = harness.interval
    t2 = harness.Table(f"ASA 2x2 ({what}): the adaptive gate against a constant gain equal "
                       "to its starting gain, at two starting gains (seed-paired, 95 % "
                       "t-interval)",
                       ["starting gain", "seeds", "gain acc", "adaptive acc",
                        "Δ spikes/sample, % [95 % CI]", "Δ accuracy, pts [95 % CI]",
                        "mean gate gain"])
    for start, c in cells.items():
        if start == "interaction" or "adaptive" not in c:
            continue
        a = c["adaptive"]
        t2.rows.append([start, len(a["seeds"]), harness.pm(c["gain_accuracy"]),
                        harness.pm(c["adaptive_accuracy"]),
                        ci(a["spikes_percent"], 1, "+.1f"),
                        ci(a["accuracy_points"], 1, "+.1f"),
                        "-" if a["gate_gain_mean"] is None else f"{a['gate_gain_mean']:.3f}"])
    it = cells.get("interaction")
    if it:
        t2.rows.append(["difference 0.5 - 0.953 (interaction)", len(it["seeds"]), "", "",
                        ci(it["spikes_percent"], 1, "+.1f"),
                        ci(it["accuracy_points"], 1, "+.1f"), ""])
    return t2


def write(args, study, data: dict) -> None:
    Table = harness.Table
    ci = harness.interval
    lif_t = Table("LIF variants: seed-paired differences of each task's key metric (3 seeds, "
                  "95 % t-interval)", ["task (metric)", "comparison", "a", "b",
                                       "Δ [95 % CI]", "interval"])
    for task, t in data["lif"].items():
        for e in t["differences"]:
            lif_t.rows.append([f"{task} ({t['metric']})", e["comparison"], e["a"], e["b"],
                               ci(e["metric"], 1, "+.3f"), WORD[e["sign"]]])
    tables = [lif_t]
    for key, what in (("asa_2x2", "lr 0.01 for every arm"),
                      ("asa_2x2_tuned", "every arm's lr x surrogate width tuned on "
                                        "validation")):
        if data.get(key):
            tables.append(_asa_table(data[key], what))
    pooled = data["lif"]["lif_patterns"]["leak_drop_pooled"]
    rng = data["lif"]["lif_stream"]["recurrent_minus_ff_range"]
    text = [
        f"Inputs: `{LIF_FILE}` and " + ", ".join(
            f"`{f}`" for key in ("inputs_2x2", "inputs_2x2_tuned")
            for f in data.get(key, {}).values())
        + " (their rows as committed, each with its own provenance).  Nothing is trained "
        "here.",
        "LIF noise robustness: per seed, the mean over the six (reset, recurrence) pairs of "
        "the relative accuracy drop with leak minus without: "
        f"{ci(pooled, 1, '+.3f')} ({WORD[harness.sign(pooled)]}).  Streamed without resets, "
        f"recurrent - feed-forward over the six (leak, reset) pairs ranges "
        f"{rng[0]:+.3f} .. {rng[1]:+.3f}.",
        "With 3 seeds the t quantile is 4.30: intervals are wide, and 'includes 0' means "
        "not shown, not 'no effect'.",
    ]
    harness.write_result("reanalysis", study=study,
                         title="Paired 95 % intervals for the LIF-variant and ASA results "
                               "(re-analysis of committed rows)",
                         tables=tables,
                         data={"inputs": {"lif": LIF_FILE}, **data},
                         text=text, out=args.out)


def main(argv=None) -> int:
    p = harness.parser(__doc__, SIZES)
    p.add_argument("--out", default=str(harness.RESULTS),
                   help="results folder; writes OUT/reanalysis/reanalysis.{json,md}")
    args = p.parse_args(argv)
    study = harness.Study("reanalysis", argv)
    data = {"lif": lif(_read(LIF_FILE))}
    present = {k: f for k, f in ASA_2X2.items() if os.path.isfile(os.path.join(harness.ROOT, f))}
    if present:
        data["asa_2x2"] = asa_2x2({k: _read(f) for k, f in present.items()})
        data["inputs_2x2"] = present
    tuned = {k: f for k, f in ASA_2X2_TUNED.items()
             if os.path.isfile(os.path.join(harness.ROOT, f))}
    if tuned:
        data["asa_2x2_tuned"] = asa_2x2({k: _read(f) for k, f in tuned.items()})
        data["inputs_2x2_tuned"] = tuned
    write(args, study, data)
    print(f"results: {os.path.join(args.out, 'reanalysis', 'reanalysis.md')}")
    print("reanalysis: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

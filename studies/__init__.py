"""The studies: each one a module that trains arms x seeds, checks the networks on Lava
and writes a result file (JSON + Markdown, with its provenance) under ``results/``.

Run one from the repository root::

    python -m studies.lif_variants --size full      # results/lif_variants/
    python -m studies.ternary --size full           # results/ternary/
    python -m studies.asa --size full               # results/asa/
    python -m studies.cutoff --size full            # results/cutoff/
    python -m studies.rcs --size full               # results/rcs/
    python -m studies.training digits               # results/training_digits/
    python -m studies.nir_study --seeds 0 1 2 ...   # results/nir/

``--size small`` is a check that runs in minutes (tests/e2e/test_studies.py runs it).
What they share -- provenance, command lines, seeds, work folders, the arms x seeds
loop that rewrites the result after every model, paired intervals, verdict words and
the result files -- is :mod:`studies.harness`.  Studies import ``loihi_snn``; the
package never imports ``studies``.
"""

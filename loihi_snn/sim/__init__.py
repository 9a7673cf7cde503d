"""Layer 3 (beside ``torch``): running exported networks.

- :mod:`loihi_snn.sim.emulator` -- batched bit-exact numpy emulator (no Lava);
- :mod:`loihi_snn.sim.lava` -- Lava processes and the NetX loader;
- :mod:`loihi_snn.sim.runtime` -- the runners (run, run_many, run_cutoff, guard, io).
"""

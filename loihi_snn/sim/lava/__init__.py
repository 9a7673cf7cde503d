"""Lava side of the simulator: process folders (``procs/``), the NetX loader and the
Loihi 2 hardware run configuration."""

"""Lava process folders of the neuron families that stock Lava does not have.

Lava looks for a process's models in every ``.py`` file of the process's folder, so
each folder holds only its ``process.py`` and ``models.py``.  Importing these modules
imports Lava: the family modules import them lazily, inside their Lava builders.
"""

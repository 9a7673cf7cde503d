"""Layer 1: neuron families -- the ONE place a neuron type is registered.

Each module (``cuba``, ``lif``, ``ternary``, ``sdnn``, ``rf``, ``alif``) defines one
:class:`~loihi_snn.families.base.NeuronFamily`: its NetX fields and validation, its Lava
process builder, its emulator step and its training-config names.  The schema, the
Lava loader, the emulator, the Loihi 2 resource report and the trainer all look types
up here.  Adding a neuron type = one new module below + its entry in ``_MODULES`` +
its tests.

- :func:`get` -- the family of a NetX neuron type (``"CUBA"``, ``"LIF"``, ...);
  :data:`~loihi_snn.families.refused.REFUSED` -- types known and refused, with why.
- :func:`netx_types` -- every NetX type name, sorted.
- :func:`training_family` / :func:`training_names` / :func:`register_training` -- the
  training configs' ``neuron["type"]`` values.
"""
from __future__ import annotations

from typing import Dict, List, Optional

from loihi_snn.families import alif, cuba, lif, rf, sdnn, ternary
from loihi_snn.families.base import (DEFAULT_NEURON_PARAMS, LavaNeuron, NeuronFamily,  # noqa: F401
                                     NeuronStep, TrainingFamily)

__all__ = ["DEFAULT_NEURON_PARAMS", "FAMILIES", "LavaNeuron", "NeuronFamily", "NeuronStep",
           "TRAINING", "TrainingFamily", "get", "netx_types", "register", "register_training",
           "training_family", "training_names", "unregister", "unregister_training"]

_MODULES = (cuba, lif, ternary, sdnn, rf, alif)

FAMILIES: Dict[str, NeuronFamily] = {}
TRAINING: Dict[str, TrainingFamily] = {}


def register(family: NeuronFamily, *, replace: bool = False) -> NeuronFamily:
    """Add a neuron family under each of its NetX type names (and its training families).

    The built-in families register themselves from ``_MODULES``; tests and extensions may
    register more (remove them with :func:`unregister`).
    """
    names = [t.upper() for t in family.netx_types]
    taken = [t for t in names if t in FAMILIES]
    if taken and not replace:
        raise ValueError(f"neuron type(s) {', '.join(taken)} already registered")
    for t in names:
        FAMILIES[t] = family
    for tf in family.training:
        register_training(tf, replace=replace)
    return family


def unregister(netx_type: str) -> None:
    """Remove a neuron family added with :func:`register` (by one of its NetX types)."""
    family = FAMILIES.get(str(netx_type).upper())
    if family is None:
        return
    for t in family.netx_types:
        FAMILIES.pop(t.upper(), None)
    for tf in family.training:
        TRAINING.pop(tf.name, None)


def get(netx_type: str) -> Optional[NeuronFamily]:
    """The family of an (upper-case) NetX neuron type, or None when unknown."""
    return FAMILIES.get(str(netx_type).upper())


def netx_types() -> List[str]:
    """Every NetX neuron type name loihi_snn reads, sorted."""
    return sorted(FAMILIES)


def training_family(name: str) -> Optional[TrainingFamily]:
    """The training family a config's ``neuron["type"]`` names, or None."""
    return TRAINING.get(name)


def register_training(family: TrainingFamily, *, replace: bool = False) -> TrainingFamily:
    """Add a training family (e.g. one whose ``blocks`` is a ``make_block`` callable of
    your own) so configs can select it by ``neuron["type"]``; remove it with
    :func:`unregister_training`."""
    if family.name in TRAINING and not replace:
        raise ValueError(f"training family {family.name!r} is already registered")
    TRAINING[family.name] = family
    return family


def unregister_training(name: str) -> None:
    """Remove a training family added with :func:`register_training`."""
    TRAINING.pop(name, None)


def training_names() -> List[str]:
    """Every training-config neuron type, in registration order."""
    return list(TRAINING)


for _m in _MODULES:
    for _f in getattr(_m, "FAMILIES", (_m.FAMILY,)):
        register(_f)

"""A neuron family added by one module, with no edit anywhere else: ``MYCUBA``.

It is stock CUBA under a NetX type name of its own: the same field validation, Lava
process and emulator step, reached only through the registry
(:func:`loihi_snn.families.register`).  A file whose layers say ``MYCUBA`` must run
exactly as the same file saying ``CUBA`` on every backend.
"""
from __future__ import annotations

import dataclasses

from loihi_snn import families

TYPE = "MYCUBA"


def register_alias_family():
    cuba = families.get("CUBA")
    return families.register(dataclasses.replace(cuba, netx_types=(TYPE,), training=(),
                                                 description="test only: CUBA renamed"),
                             replace=True)

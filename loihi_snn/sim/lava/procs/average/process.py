"""GroupSum: the Lava side of a NetX ``average`` layer."""
from __future__ import annotations

from typing import Optional

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess


class GroupSum(AbstractProcess):
    """Sum each group of ``group_size`` consecutive inputs into one output per step.

    Parameters
    ----------
    num_outputs : int
        number of groups (output size).
    group_size : int
        inputs per group; ``a_in`` has ``num_outputs * group_size`` elements in the
        flattened order SLAYER's ``Average`` block reshapes them, (num_outputs, group).

    Ports
    -----
    a_in : (num_outputs * group_size,) spikes or graded values, received at step t.
    s_out : (num_outputs,) group sums sent at the same step t (no added latency),
        as graded integers (fixed_pt) or floats (floating_pt).  The population
        average is ``s_out / group_size``.
    """

    def __init__(self, *, num_outputs: int, group_size: int,
                 name: Optional[str] = None) -> None:
        super().__init__(num_outputs=num_outputs, group_size=group_size, name=name)
        self.a_in = InPort(shape=(num_outputs * group_size,))
        self.s_out = OutPort(shape=(num_outputs,))

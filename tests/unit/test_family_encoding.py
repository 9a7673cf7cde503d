"""The LIF family owns its NetX encoding: one rule that the torch export and the NIR
import write through, and its inverse that the NIR export reads through."""
from __future__ import annotations

import itertools

import pytest

from loihi_snn import families
from loihi_snn.families.lif_common import lif_netx_dynamics, lif_netx_neuron
from loihi_snn.netx.schema import _Checker


@pytest.mark.parametrize("reset,leak,ternary",
                         list(itertools.product(("hard", "soft", "none"), (True, False),
                                                (False, True))))
def test_encode_then_decode_is_the_identity(reset, leak, ternary):
    v_decay = 128 if leak else 0
    fields = lif_netx_neuron(1024, v_decay, 80, reset=reset, leak=leak, ternary=ternary)
    # binary hard reset is stock CUBA (stock netx loads it); the rest are our types
    want_type = "TERNARY" if ternary else ("CUBA" if reset == "hard" else "LIF")
    assert fields["type"] == want_type and fields["gradedSpike"] == ternary
    # the family registered for that type validates what the encoder wrote
    family = families.get(fields["type"])
    checked = family.validate(_Checker("x.net", 0), dict(fields))
    dyn = lif_netx_dynamics(fields["type"], checked)
    assert dyn.reset == reset and dyn.ternary == ternary
    assert (dyn.i_decay, dyn.v_decay, dyn.v_th_mant) == (1024, v_decay, 80)


def test_no_leak_is_read_as_a_zero_voltage_decay():
    dyn = lif_netx_dynamics("LIF", {"iDecay": 4096, "vDecay": 300, "vThMant": 5,
                                    "resetMode": "soft", "leak": False})
    assert dyn.v_decay == 0 and dyn.reset == "soft"


def test_the_torch_neuron_writes_through_the_family():
    torch = pytest.importorskip("torch")
    from loihi_snn.torch.neurons import LIF
    for reset, spike in (("hard", "binary"), ("soft", "binary"), ("hard", "ternary")):
        n = LIF(threshold=1.0, current_decay=0.25, voltage_decay=0.03, reset=reset,
                spike=spike)
        assert n.device_params == lif_netx_neuron(n.i_decay, n.v_decay, n.v_th_mant,
                                                  reset=reset, leak=True,
                                                  ternary=spike == "ternary")
    del torch

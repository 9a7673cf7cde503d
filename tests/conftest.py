"""Shared fixtures: where the lava-dl reference networks are.

Shared helper code (NetX writer, stock netx runs, SLAYER nets, CLI runs) lives in
``tests/helpers`` and is imported as ``from helpers import ...``.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import SHARED_NETX


@pytest.fixture(scope="session")
def shared_netx() -> Path:
    """Directory of lava-dl's reference NetX networks (tinynet, pilotnet_sdnn, oxford)."""
    if not (SHARED_NETX / "oxford" / "network.net").exists():
        pytest.fail(f"reference networks not found at {SHARED_NETX}; set "
                    f"LOIHI_SNN_SHARED_NETX to the lava-dl-netx directory")
    return SHARED_NETX

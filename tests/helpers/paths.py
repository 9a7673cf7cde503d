"""Where the tests find the repository and lava-dl's shared reference networks.

``LOIHI_SNN_SHARED_NETX`` overrides the directory of the lava-dl NetX reference
networks; the default is ``../shared/data/lava-dl-netx`` next to the repository root.
Every test that reads those networks goes through :data:`SHARED_NETX` (directly, via
:func:`shared_network`, or via the ``shared_netx`` fixture in ``tests/conftest.py``).
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_NETX = Path(os.environ.get("LOIHI_SNN_SHARED_NETX",
                                  REPO_ROOT.parent / "shared" / "data" / "lava-dl-netx"))

# short name -> file inside SHARED_NETX
NETWORKS = {
    "oxford": "oxford/network.net",           # 200-256-200 dense CUBA
    "tiny": "tinynet/tiny.net",               # input + 2 strided convs, LOIHI neurons
    "pilotnet": "pilotnet_sdnn/network.net",  # sigma-delta conv/dense, graded spikes
}


def shared_network(name: str, root: Path = SHARED_NETX) -> Path:
    """Path of shared reference network ``name`` (a key of :data:`NETWORKS`) under ``root``."""
    return Path(root) / NETWORKS[name]

"""Loihi 2 run configuration: detect lava-loihi and build ``Loihi2HwCfg``.

lava-loihi is Intel's closed extension (available to Intel Neuromorphic Research
Community members).  It installs NeuroCore process models, ``Loihi2HwCfg`` support
and ``lava.proc.embedded_io`` into the same ``lava`` namespace.  Detection uses
``lava.utils.loihi.is_installed()``, which only asks ``importlib`` whether the
``lava.utils.loihi2_profiler`` module exists: no import of lava-loihi, no environment
variables set (unlike ``lava.utils.system.Loihi2.is_loihi2_available``, which sets
``PARTITION``/``BOARD`` style variables as a side effect).
"""
from __future__ import annotations

from typing import Any

from loihi_snn.core.errors import BackendError

LAVA_LOIHI_HINT = (
    "backend 'loihi2' needs Intel's lava-loihi extension, which is not installed in this "
    "Python environment (lava.utils.loihi.is_installed() is False). lava-loihi is "
    "available to Intel Neuromorphic Research Community members; install it into this "
    "environment and run on a host with Loihi 2 access (see docs/hardware.md). Without "
    "it use backend 'lava-fixed' (bit-accurate CPU simulation of the same arithmetic) "
    "or 'auto' (hardware when available, else lava-fixed)")


def is_loihi2_available() -> bool:
    """True when lava-loihi (and so ``Loihi2HwCfg`` support) is installed.

    Has no side effects: it neither imports lava-loihi nor touches ``os.environ``.
    """
    try:
        from lava.utils.loihi import is_installed  # lazy: asking must not import Lava
    except ImportError:          # a lava without the helper has no lava-loihi either
        return False
    try:
        return bool(is_installed())
    except (ImportError, ValueError):   # a broken namespace package: treat as missing
        return False


def hardware_run_config(**kwargs: Any):
    """``Loihi2HwCfg(**kwargs)`` when lava-loihi is installed.

    Parameters
    ----------
    **kwargs
        passed to ``lava.magma.core.run_configs.Loihi2HwCfg`` (e.g.
        ``exception_proc_model_map`` to pick host-side models for I/O processes).

    Raises
    ------
    BackendError
        lava-loihi is not installed (one line saying what to install or use instead).
    """
    if not is_loihi2_available():
        raise BackendError(LAVA_LOIHI_HINT)
    from lava.magma.core.run_configs import Loihi2HwCfg  # lazy: importing Lava is slow
    return Loihi2HwCfg(**kwargs)

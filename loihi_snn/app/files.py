"""Files the command line writes: results atomically, never half-written.

The runners return arrays; writing them where the user asked (``loihi-snn run --out``)
is the application's business, so it lives here, above the runners.
"""
from __future__ import annotations

import os
from typing import Union

import numpy as np

from loihi_snn.core.errors import OutputError
from loihi_snn.core.files import atomic_path
from loihi_snn.core.paths import output_path


def save_npy(path: Union[str, os.PathLike], y: np.ndarray) -> str:
    """Write ``y`` to ``path`` as .npy atomically; return the path written.

    Like ``np.save``, ``.npy`` is appended to a path without it.  Missing folders are
    created.  The array goes to a temporary file beside ``path`` that replaces it only
    once complete: a failed write (a full disk, a read-only place) raises a one-line
    OutputError, leaves no file behind and an older one unchanged.
    """
    path = output_path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, y)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the output ({exc.strerror or exc}); "
                          f"nothing was written and an existing file is unchanged") from None
    return path

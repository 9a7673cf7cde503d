"""The records of a validated NetX network: :class:`NetSpec`, :class:`LayerSpec`,
:class:`NeuronSpec`, and the interface of the field checker that validates them.

Plain data (numpy only), in the lowest layer so that everything above can name them:
the neuron families (:mod:`loihi_snn.families`) type their validators, Lava builders and
emulator steps with them; :mod:`loihi_snn.netx.schema` fills them from a file; the
loader, the emulator and the runners read them.  Shapes are in the file's (SLAYER)
order: (C, H, W) for images, (N,) for vectors.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Protocol, Tuple

import numpy as np

LAYER_TYPES = ("input", "dense", "dense_rec", "dense_comp", "conv", "pool", "flatten", "average",
               "convT", "unpool", "concat")
#: values of the root attribute ``layer_start``: when each layer's neurons start.
#: ``step_1``: at Lava step 1 (a fresh run; a biased layer integrates its bias while the
#: input is still on its way through the synapses before it); ``first_input``: at the
#: step its first input arrives (block k is zeroed once, then; NIR's timing).
LAYER_STARTS = ("step_1", "first_input")


@dataclass
class NeuronSpec:
    """Neuron description of one layer.

    ``type`` is the upper-cased NetX neuron type (``CUBA``, ``LOIHI``, ``SDNN``, ...);
    ``params`` holds the raw fields of ``/layer/<i>/neuron`` (scalars as Python
    numbers, arrays as numpy arrays, strings decoded).
    """
    type: str
    params: Dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass
class LayerSpec:
    """One validated layer.

    Attributes
    ----------
    index : int
        position in the file (``/layer/<index>``).
    type : str
        layer type (one of ``LAYER_TYPES``).
    shape : tuple of int
        output shape in file order, (C, H, W) or (N,).
    in_shape : tuple of int
        shape of what the layer receives, same order; for ``input`` equal to ``shape``.
    fields : dict
        the layer's arrays (``weight``, ``bias``, ``delay``, ``weight_rec``, ...) and
        geometry (``kernel``, ``stride``, ``padding``, ``dilation``, ``groups`` as
        (H, W) pairs / ints).
    neuron : NeuronSpec or None
        ``None`` for layers without neurons (flatten, average) or an input layer
        given without one.
    """
    index: int
    type: str
    shape: Tuple[int, ...]
    in_shape: Tuple[int, ...]
    fields: Dict[str, Any] = field(default_factory=dict)
    neuron: Optional[NeuronSpec] = None

    def __repr__(self) -> str:      # short: the arrays are summarised, never dumped
        neuron = self.neuron.type if self.neuron is not None else None
        return (f"LayerSpec(index={self.index}, type={self.type!r}, shape={self.shape}, "
                f"in_shape={self.in_shape}, neuron={neuron!r}, "
                f"fields=[{', '.join(sorted(self.fields))}])")

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def num_synapses(self) -> int:
        """Number of non-zero synapses (feed-forward plus recurrent)."""
        n = 0
        w = self.fields.get("weight")
        if self.type in ("dense", "dense_rec") and w is not None:
            n += int(np.count_nonzero(w))
            wi = self.fields.get("weight_imag")          # a complex dense layer (RF)
            n += int(np.count_nonzero(wi)) if wi is not None else 0
        elif self.type == "conv" and w is not None:
            # every output neuron sees Cin/groups * kH * kW weights (ignoring borders)
            n += int(np.count_nonzero(w)) * int(np.prod(self.shape[1:]))
        elif self.type == "pool":
            kh, kw = self.fields["kernel"]
            n += self.size * kh * kw
        elif self.type in ("convT", "unpool") and w is not None:
            # every input pixel reaches Cout/groups * kH * kW outputs (ignoring borders)
            kh, kw = self.fields["kernel"]
            fan = (int(w.shape[1]) if self.type == "convT" else 1) * kh * kw
            n += int(np.prod(self.in_shape)) * fan
        wr = self.fields.get("weight_rec")
        if wr is not None:
            n += int(np.count_nonzero(wr))
        return n


@dataclass
class NetSpec:
    """A whole validated network file.

    ``input_shape`` and ``output_shape`` are in file order ((C, H, W) or (N,)).
    ``extensions`` maps names of non-layer top-level groups (e.g. ``cutoff``,
    ``loihi_snn``) to their contents as nested dicts.  ``layer_start`` (one of
    :data:`LAYER_STARTS`, the root attribute ``layer_start``; ``"step_1"`` when absent)
    says when each layer's neurons start; every runner applies ``"first_input"`` through
    the reset schedule of :func:`loihi_snn.netx.lower.reset_schedule`.
    """
    path: str
    layers: List[LayerSpec]
    input_shape: Tuple[int, ...]
    output_shape: Tuple[int, ...]
    extensions: Dict[str, Any] = field(default_factory=dict)
    layer_start: str = "step_1"

    def __repr__(self) -> str:      # short: one line, no weights (print(spec) stays readable)
        return (f"NetSpec(path={self.path!r}, {len(self.layers)} layers "
                f"[{', '.join(l.type for l in self.layers)}], input_shape={self.input_shape}, "
                f"output_shape={self.output_shape}, layer_start={self.layer_start!r}, "
                f"extensions=[{', '.join(sorted(self.extensions))}])")

    @property
    def neuron_types(self) -> List[str]:
        return sorted({l.neuron.type for l in self.layers if l.neuron is not None})


class FieldChecker(Protocol):
    """What a family's validator receives to read one ``/layer/<i>/neuron`` group: each
    method returns the checked value or raises a one-line
    :class:`~loihi_snn.core.errors.NetxFormatError` naming file, layer and field
    (:class:`loihi_snn.netx.schema` implements it)."""

    path: str
    index: Optional[int]

    def fail(self, field_name: Optional[str], message: str) -> None: ...

    def require(self, raw: Dict[str, Any], key: str, what: str) -> Any: ...

    def array(self, raw: Dict[str, Any], key: str, *, required: bool = True,
              integer: bool = False, lo: Optional[float] = None,
              hi: Optional[float] = None, what: str = "this layer") -> Optional[np.ndarray]: ...

    def scalar(self, raw: Dict[str, Any], key: str, *, required: bool = True,
               default: Any = None, lo: Optional[float] = None, hi: Optional[float] = None,
               integer: bool = True, what: str = "this layer") -> Any: ...

    def flag(self, raw: Dict[str, Any], key: str, default: bool = False) -> bool: ...

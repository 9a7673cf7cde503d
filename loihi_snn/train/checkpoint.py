"""Checkpoints and NetX export of a trained network.

A checkpoint (``checkpoint.pt``, written atomically by rank 0) stores the weights,
the :class:`~loihi_snn.train.config.TrainConfig` and the data description
(``input_shape``, ``num_classes``, ``T``, ``encoding``, ``input_scale``,
``dataset``), so :func:`load_checkpoint` can rebuild the model without the data.
:func:`export_model` writes the network as NetX HDF5 with a ``/training`` group
that says how its inputs were made.
"""
from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, Tuple

import torch

from loihi_snn.core.errors import OutputError
from loihi_snn.core.files import atomic_path
from loihi_snn.sim.runtime.io import output_path
from loihi_snn.torch.export import export_blocks
from loihi_snn.torch.fold import fold_amplitudes, has_ternary
from loihi_snn.train.config import ConfigError, TrainConfig
from loihi_snn.train.models import ArchitectureError, SpikingNet, build_model

__all__ = ["CHECKPOINT_FORMAT", "CHECKPOINT_NAME", "atomic_torch_save", "export_checkpoint",
           "export_model", "export_view", "load_checkpoint", "model_from_config",
           "save_checkpoint", "training_extension"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "loihi_snn.checkpoint/1"


def model_from_config(config: TrainConfig, input_shape, num_classes: int) -> SpikingNet:
    """:func:`loihi_snn.train.models.build_model` for ``config``'s architecture and neuron.

    Raises:
        ConfigError: the architecture does not fit ``input_shape`` or the neuron type.
    """
    try:
        return build_model(config.architecture, config.neuron, input_shape, num_classes)
    except ArchitectureError as exc:
        raise ConfigError(str(exc)) from None


def _state_dict(model) -> Dict[str, torch.Tensor]:
    model.reset_state()            # drop batch-sized neuron state buffers
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def atomic_torch_save(obj: Any, path: str) -> None:
    """``torch.save(obj, path)`` through a temporary file renamed over ``path``."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_checkpoint(path: str, model, config: TrainConfig, data: Dict[str, Any], *,
                    epoch: int, score: float, selected_on: str) -> None:
    """Write ``model``'s weights (on the CPU) with ``config`` and ``data`` to ``path``.

    Args:
        data: ``input_shape``, ``num_classes``, ``T``, ``encoding``, ``input_scale``,
            ``dataset`` (what :func:`load_checkpoint` and :func:`export_model` need).
        epoch: 1-based epoch of these weights; ``score`` their selection accuracy on
            the ``selected_on`` split (``"validation"`` or ``"test"``).
    """
    atomic_torch_save({"format": CHECKPOINT_FORMAT, "config": config.to_dict(),
                       "data": data, "state_dict": _state_dict(model),
                       "epoch": epoch, "score": score, "selected_on": selected_on}, path)


def load_checkpoint(path: str, map_location: str = "cpu") -> Tuple[SpikingNet, Dict[str, Any]]:
    """Rebuild the model stored by :func:`loihi_snn.train.loop.train`.

    Args:
        path: a ``checkpoint.pt`` written by :func:`loihi_snn.train.loop.train`.
        map_location: torch device for the weights.

    Returns:
        ``(model, checkpoint)``: the :class:`~loihi_snn.train.models.SpikingNet` in
        eval mode with SLAYER's lazy shapes set (one zero forward pass), and the
        checkpoint dict (``config``, ``data``, ``epoch``, ``score``, ...).

    Raises:
        ConfigError: missing or foreign file.
    """
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling problem is a bad file
        detail = _short(exc)
        if not detail.strip("()0123456789 "):       # torch gives '(101)' or '' for some files
            detail = f"unreadable {type(exc).__name__}"
        raise ConfigError(f"{path}: not a loihi-snn checkpoint ({detail})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not a loihi-snn checkpoint (no '{CHECKPOINT_FORMAT}' "
                          f"format tag); write one with 'loihi-snn train'")
    for key, kind in (("config", dict), ("data", dict), ("state_dict", dict)):
        if not isinstance(ckpt.get(key), kind):
            raise ConfigError(f"{path}: field '{key}' is "
                              f"{'missing' if key not in ckpt else type(ckpt[key]).__name__}; "
                              f"expected a {kind.__name__} (a checkpoint written by "
                              f"'loihi-snn train' has it)")
    if not ckpt["state_dict"]:
        raise ConfigError(f"{path}: field 'state_dict' is empty: the checkpoint has no weights")
    data = ckpt["data"]
    missing = [k for k in ("input_shape", "num_classes", "T") if k not in data]
    if missing:
        raise ConfigError(f"{path}: field 'data' lacks {', '.join(missing)}")
    try:
        config = TrainConfig.from_dict(ckpt["config"], validate=False)
        input_shape = tuple(int(s) for s in data["input_shape"])
        num_classes, T = int(data["num_classes"]), int(data["T"])
    except ConfigError as exc:
        raise ConfigError(f"{path}: field 'config': {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: fields 'config'/'data' are malformed "
                          f"({type(exc).__name__}: {_short(exc)})") from None
    model = model_from_config(config, input_shape, num_classes)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except (RuntimeError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ConfigError(f"{path}: field 'state_dict' does not fit the model its config "
                          f"describes ({_short(exc)})") from None
    model.eval()
    with torch.no_grad():
        model(torch.zeros((1, *input_shape, T)))
    return model, ckpt


def _short(exc: BaseException, limit: int = 240) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def training_extension(config: TrainConfig, data: Dict[str, Any]) -> Dict[str, Any]:
    """The NetX file's ``/training`` group: data set, encoding, T, classes, input scale,
    the data encoding's seed and options (JSON), and the decision rule."""
    ext = {"producer": "loihi_snn.train", "name": config.name, "dataset": config.dataset,
           "encoding": data["encoding"], "T": int(data["T"]), "num_classes": int(data["num_classes"]),
           "decision": "argmax of output spike counts"}
    if data.get("input_scale") is not None:
        ext["input_scale"] = float(data["input_scale"])
    ext["seed"] = int(config.seed)                       # the data encoding's seed
    if config.dataset_options:                           # as JSON: h5py stores strings
        ext["dataset_options"] = json.dumps(config.dataset_options, sort_keys=True)
    return ext


def export_model(model, net_path: str, config: TrainConfig, data: Dict[str, Any]) -> str:
    """Write ``model.blocks`` to ``net_path`` (NetX, atomic) with a ``/training`` group.

    A conv-first network gets an input layer stating its (C, H, W) input shape.

    Returns:
        ``net_path``.
    """
    input_shape = data["input_shape"] if len(data["input_shape"]) == 3 else None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*weight_norm.*")
        export_blocks(list(model.blocks), net_path, input_shape=input_shape,
                      extensions={"training": training_extension(config, data)})
    return net_path


def export_checkpoint(checkpoint: str, net_path: str) -> str:
    """Re-export a checkpoint written by :func:`loihi_snn.train.loop.train` to a NetX
    file; returns ``net_path``."""
    net_path = output_path(net_path, ext=None)       # before the model is rebuilt
    model, ckpt = load_checkpoint(checkpoint)
    config = TrainConfig.from_dict(ckpt["config"], validate=False)
    try:
        return export_model(model, net_path, config, ckpt["data"])
    except OutputError:
        raise
    except OSError as exc:        # full disk, read-only place: nothing written
        raise OutputError(f"{net_path}: cannot write the network "
                          f"({_short(getattr(exc, 'strerror', None) or exc)}); nothing was "
                          f"written and an existing file is unchanged") from None


def export_view(model) -> Tuple[SpikingNet, float]:
    """The network exactly as :func:`export_model` writes it, for torch evaluation.

    A network with ternary layers is exported with every amplitude folded into the
    next layer's weights (:func:`loihi_snn.torch.fold.fold_amplitudes`), and the
    folded weights are quantized again, so its quantized forward can differ from the
    unfolded one by a rounding step; the folded copy is what Lava runs.

    Returns:
        ``(net, output_scale)``: ``model`` itself and 1.0 when nothing is ternary, else
        a :class:`~loihi_snn.train.models.SpikingNet` over the folded blocks (spikes
        in {-1, 0, +1}) and the last layer's amplitude (the file's output scale).
    """
    if not has_ternary(model.blocks):
        return model, 1.0
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*weight_norm.*")
        blocks, output_scale = fold_amplitudes(model.blocks)
    net = SpikingNet(list(blocks), model.layers, model.neuron, model.input_shape,
                     model.num_classes)
    net.eval()
    return net, float(output_scale)

"""Save and load models as a folder: ``config.json`` + ``weights.safetensors``.

Nothing here unpickles: safetensors holds raw tensors only, and the JSON config is validated
field by field before any network is built, so a shared model file can never run code.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import torch

from .data import Normalisation
from .model import METHODS, Model, ModelSpec, build_network, build_noise_model

FORMAT = "napari-blindspot-model"
FORMAT_VERSION = 1
CONFIG, WEIGHTS = "config.json", "weights.safetensors"


class ModelFileError(ValueError):
    """The model folder is missing, corrupt or not ours."""


def _spec_to_json(spec: ModelSpec) -> dict:
    from .. import __version__

    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "method": spec.method, "axes": spec.axes, "spatial_ndim": spec.spatial_ndim,
        "channels": spec.channels, "network": spec.network,
        "normalisation": {"mean": list(spec.normalisation.mean), "std": list(spec.normalisation.std)},
        "noise": spec.noise, "noise_params": spec.noise_params,
        "input_dtype": spec.input_dtype, "history": spec.history,
    }


def save_model(model: Model, path) -> Path:
    """Write the model folder atomically (a temporary folder renamed into place)."""
    from safetensors.torch import save_file

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{path} exists and is not a folder: choose a folder name for the model")
    if path.is_dir() and any(path.iterdir()) and not _holds_only_our_model(path):
        raise ModelFileError(f"{path} holds files that are not a napari-blindspot model: "
                             "save the model into a new or empty folder")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in model.net.state_dict().items()}
    if model.noise is not None:
        tensors.update({f"noise.{k}": v.detach().cpu().contiguous() for k, v in model.noise.state_dict().items()})
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    aside = None
    try:
        save_file(tensors, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(json.dumps(_spec_to_json(model.spec), indent=2))
        if path.exists():  # our old model (or an empty folder): set aside until the new one is in place
            aside = Path(tempfile.mkdtemp(prefix=".old-", dir=path.parent))
            os.replace(path, aside / "model")
        os.replace(tmp, path)
    except BaseException:
        if aside is not None and not path.exists():
            os.replace(aside / "model", path)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    return path


def _holds_only_our_model(path: Path) -> bool:
    """Replace a folder only if it holds our two files and nothing else: never anyone else's data."""
    if not {p.name for p in path.iterdir()} <= {CONFIG, WEIGHTS}:
        return False
    try:
        return json.loads((path / CONFIG).read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise ModelFileError(f"invalid model config: {what}")


def _parse_spec(cfg: dict) -> ModelSpec:
    _require(isinstance(cfg, dict) and cfg.get("format") == FORMAT, f"not a {FORMAT} config")
    _require(cfg.get("format_version") == FORMAT_VERSION,
             f"format_version {cfg.get('format_version')!r} is not {FORMAT_VERSION}: "
             "update napari-blindspot to load it")
    _require(cfg.get("method") in METHODS, f"method must be one of {METHODS}")
    _require(isinstance(cfg.get("axes"), str) and set(cfg["axes"]) <= set("STCZYX"), "bad axes")
    _require(cfg.get("spatial_ndim") in (2, 3), "spatial_ndim must be 2 or 3")
    channels = cfg.get("channels")
    _require(isinstance(channels, int) and 1 <= channels <= 64, "channels must be 1..64")
    network = cfg.get("network")
    _require(isinstance(network, dict) and all(isinstance(v, (int, bool, float)) or v is None
                                               for v in network.values()), "bad network settings")
    groups = network.get("groups", 1)  # absent in models saved before independent channel models
    _require(type(groups) is int and groups in (1, channels),
             f"network groups must be 1 (one model for all channels) or {channels} (one per channel)")
    norm = cfg.get("normalisation") or {}
    mean, std = norm.get("mean"), norm.get("std")
    _require(isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == channels
             and all(isinstance(v, (int, float)) and math.isfinite(v) for v in mean + std)
             and all(s > 0 for s in std), "normalisation must list a finite mean and positive std per channel")
    noise = cfg.get("noise")
    _require(noise is None or (isinstance(noise, dict) and all(
        isinstance(v, (str, int, float)) or v is None for v in noise.values())), "bad noise settings")
    _require(cfg["method"] != "hqssl" or noise is not None, "an hqssl model needs a noise config")
    return ModelSpec(
        method=cfg["method"], axes=cfg["axes"], spatial_ndim=cfg["spatial_ndim"], channels=channels,
        network=network, normalisation=Normalisation(tuple(map(float, mean)), tuple(map(float, std))),
        noise=noise, noise_params=cfg.get("noise_params"), input_dtype=str(cfg.get("input_dtype", "float32")),
        history=cfg.get("history") or {},
    )


def load_model(path, device: str = "auto") -> Model:
    """Load a model folder written by `Model.save`. Refuses anything but JSON + safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import choose_device

    path = Path(path)
    if path.is_file():
        raise ModelFileError(f"{path} is a file; a napari-blindspot model is a folder holding "
                             f"{CONFIG} and {WEIGHTS} (pickled .pt/.ckpt files are never loaded)")
    if not (path / CONFIG).is_file() or not (path / WEIGHTS).is_file():
        raise ModelFileError(f"{path} is not a napari-blindspot model: expected {CONFIG} and {WEIGHTS} in it")
    try:
        cfg = json.loads((path / CONFIG).read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path / CONFIG} is not valid JSON ({err})") from None
    spec = _parse_spec(cfg)
    try:
        tensors = load_file(str(path / WEIGHTS))
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{path / WEIGHTS} is not a valid safetensors file ({err})") from None
    try:
        net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network)
    except TypeError as err:
        raise ModelFileError(f"invalid model config: network settings rejected ({err})") from None
    noise = build_noise_model(spec)
    _load_into(net, tensors, "net.", path)
    if noise is not None:
        _load_into(noise, tensors, "noise.", path)
    return Model(spec, net, noise).to(choose_device(device))


def _load_into(module: torch.nn.Module, tensors: dict, prefix: str, path: Path) -> None:
    state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ModelFileError(
            f"{path / WEIGHTS} does not fit the network in {CONFIG}: "
            f"{len(missing)} missing, {len(unexpected)} unexpected, {len(wrong)} wrongly shaped tensors"
        )
    module.load_state_dict(state)

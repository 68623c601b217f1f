"""A model's description (`ModelSpec`) and its JSON form, checked field by field on reading.

A model file comes from anyone: its config is checked for types, ranges and consistency
before a single tensor is built, so a small file can never ask for gigabytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import methods
from .calibration import SCALE_RANGE
from .config import MAX_CONTEXT_PLANES, NOISE_MODELS
from .data import Normalisation

FORMAT = "napari-blindspot-model"
FORMAT_VERSION = 1
MAX_CHANNELS = 64
MAX_FEATURES = 512  # wider than any preset by 5x
MAX_DEPTH = 6
MAX_ABS = 1e30  # normalisation values beyond this overflow float32 arithmetic


class ModelFileError(ValueError):
    """The model folder is missing, corrupt or not ours."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model; saved as JSON next to the weights."""

    method: str
    axes: str
    spatial_ndim: int
    channels: int
    network: dict
    normalisation: Normalisation
    noise: dict | None = None  # HQ-SSL noise model config
    noise_params: dict | None = None  # learned values, in input units (for people to read)
    input_dtype: str = "float32"
    history: dict = field(default_factory=dict)  # steps, seconds, final losses
    context_planes: int = 0  # neighbour planes on each side seen as channels (window.py); 0: none
    context_axis: str | None = None  # the axis they lie along, T or Z (None when context_planes is 0)
    uncertainty_scale: tuple[float, ...] | None = None  # HQ-SSL, per channel (calibration.py); None: 1
    data_noise: tuple[tuple[float, float], ...] | None = None  # HQ-SSL: the data's var = slope z + offset per channel


def spec_to_json(spec: ModelSpec) -> dict:
    from . import __version__

    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "package_version": __version__,
        "method": spec.method, "axes": spec.axes, "spatial_ndim": spec.spatial_ndim,
        "channels": spec.channels, "network": spec.network,
        "normalisation": {"mean": list(spec.normalisation.mean), "std": list(spec.normalisation.std)},
        "noise": spec.noise, "noise_params": spec.noise_params,
        "input_dtype": spec.input_dtype, "history": spec.history,
        "context_planes": spec.context_planes, "context_axis": spec.context_axis,
        "uncertainty_scale": None if spec.uncertainty_scale is None else list(spec.uncertainty_scale),
        "data_noise": None if spec.data_noise is None else [list(c) for c in spec.data_noise],
    }


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise ModelFileError(f"invalid model config: {what}")


def _is_int(v) -> bool:
    return type(v) is int


def _is_number(v) -> bool:
    return type(v) in (int, float) and math.isfinite(v)


def _check_network(method: str, channels: int, network) -> None:
    keys = methods.get(method).network_keys
    _require(isinstance(network, dict) and set(network) <= keys, f"network settings must be a subset of {sorted(keys)}")
    for key in ("features", "decoder_features"):
        if key in network:
            _require(_is_int(network[key]) and 1 <= network[key] <= MAX_FEATURES,
                     f"network {key} must be an integer in 1..{MAX_FEATURES}")
    if "depth" in network:
        _require(_is_int(network["depth"]) and 1 <= network["depth"] <= MAX_DEPTH,
                 f"network depth must be an integer in 1..{MAX_DEPTH}")
    if "batch_norm" in network:
        _require(type(network["batch_norm"]) is bool, "network batch_norm must be true or false")
    groups = network.get("groups", 1)  # absent in models saved before independent channel models
    _require(_is_int(groups) and groups in (1, channels),
             f"network groups must be 1 (one model for all channels) or {channels} (one per channel)")


def _check_normalisation(norm, channels: int) -> Normalisation:
    norm = norm if isinstance(norm, dict) else {}
    mean, std = norm.get("mean"), norm.get("std")
    _require(isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) == channels
             and all(_is_number(v) for v in mean + std),
             "normalisation must list a finite mean and std per channel")
    _require(all(abs(m) <= MAX_ABS and 1 / MAX_ABS <= s <= MAX_ABS and abs(m) / s <= MAX_ABS
                 for m, s in zip(mean, std)),
             f"normalisation out of range: each channel needs a positive std in [1e-30, 1e30] and "
             f"|mean| / std at most {MAX_ABS:g}")
    return Normalisation(tuple(map(float, mean)), tuple(map(float, std)))


def _check_noise(method: str, channels: int, noise) -> None:
    if not methods.get(method).uses_noise_model:
        _require(noise is None, f"a {method} model has no noise model")
        return
    _require(isinstance(noise, dict) and set(noise) <= {"kind", "sigma"} and noise.get("kind") in NOISE_MODELS,
             f"a {method} model needs a noise config: kind one of {', '.join(NOISE_MODELS)}")
    sigma = noise.get("sigma")
    values = sigma if isinstance(sigma, list) else [sigma]
    _require(sigma is None or (len(values) in (1, channels) and all(_is_number(v) and v > 0 for v in values)),
             "noise sigma must be a positive number per channel (normalised units)")
    _require(sigma is None or noise["kind"] == "gaussian", "noise sigma applies to gaussian noise only")


_HISTORY_COUNTS = ("steps", "best_step")
_HISTORY_NUMBERS = ("seconds", "loss", "val_loss", "estimated_psnr_gain_db")


def _check_history(history: dict) -> None:
    """The run's record is shown and added to: its counts whole, its numbers finite (or absent)."""
    for key in _HISTORY_COUNTS:
        v = history.get(key)
        _require(v is None or (_is_int(v) and 0 <= v <= 1 << 62), f"history {key} must be a whole number >= 0")
    for key in _HISTORY_NUMBERS:
        v = history.get(key)
        _require(v is None or (_is_number(v) and abs(v) <= MAX_ABS) or (key == "loss" and type(v) is float),
                 f"history {key} must be a finite number")
    _require(history.get("seconds") is None or history["seconds"] >= 0, "history seconds must be >= 0")


def spec_from_json(cfg) -> ModelSpec:
    """The spec in a config.json, or ModelFileError saying which field is wrong."""
    _require(isinstance(cfg, dict) and cfg.get("format") == FORMAT, f"not a {FORMAT} config")
    _require(cfg.get("format_version") == FORMAT_VERSION,
             f"format_version {cfg.get('format_version')!r} is not {FORMAT_VERSION}: "
             "update napari-blindspot to load it")
    method = cfg.get("method")
    _require(isinstance(method, str) and method in methods.names(), f"method must be one of {methods.names()}")
    _require(cfg.get("spatial_ndim") in (2, 3) and _is_int(cfg["spatial_ndim"]), "spatial_ndim must be 2 or 3")
    axes = cfg.get("axes")
    _require(isinstance(axes, str) and 2 <= len(axes) <= 6 and set(axes) <= set("STCZYX")
             and len(set(axes)) == len(axes) and {"Y", "X"} <= set(axes), "axes must be distinct letters "
             "from S, T, C, Z, Y, X including Y and X")
    channels = cfg.get("channels")
    _require(_is_int(channels) and 1 <= channels <= MAX_CHANNELS, f"channels must be 1..{MAX_CHANNELS}")
    _check_network(method, channels, cfg.get("network"))
    norm = _check_normalisation(cfg.get("normalisation"), channels)
    _check_noise(method, channels, cfg.get("noise"))
    for key in ("noise_params", "history"):
        _require(cfg.get(key) is None or isinstance(cfg[key], dict), f"{key} must be an object")
    _check_history(cfg.get("history") or {})
    _require(isinstance(cfg.get("input_dtype", "float32"), str), "input_dtype must be a string")
    k, along = cfg.get("context_planes", 0), cfg.get("context_axis")  # absent in models before neighbour planes
    _require(_is_int(k) and 0 <= k <= MAX_CONTEXT_PLANES, f"context_planes must be an integer in 0..{MAX_CONTEXT_PLANES}")
    _require((k == 0 and along is None) or (k > 0 and along in ("T", "Z") and along in axes),
             "context_axis must be T or Z, one of the model's axes, when context_planes is above 0 (else null)")
    scale = cfg.get("uncertainty_scale")  # absent in models before the calibration: 1
    low, high = SCALE_RANGE
    _require(scale is None or (methods.get(method).has_uncertainty and isinstance(scale, list) and len(scale) == channels
                               and all(_is_number(v) and low <= v <= high for v in scale)),
             f"uncertainty_scale must be null or, for a model with an uncertainty, one number in {low:g}..{high:g} "
             "per channel")
    line = cfg.get("data_noise")  # absent in models before the calibration: the posterior variance
    _require(line is None or (methods.get(method).has_uncertainty and isinstance(line, list) and len(line) == channels
                              and all(isinstance(c, list) and len(c) == 2 and all(_is_number(v) and abs(v) <= MAX_ABS
                                                                               for v in c) and c[0] >= 0 for c in line)),
             "data_noise must be null or, for a model with an uncertainty, [slope >= 0, offset] per channel")
    return ModelSpec(method=method, axes=axes, spatial_ndim=cfg["spatial_ndim"], channels=channels,
                     network=cfg["network"], normalisation=norm, noise=cfg.get("noise"),
                     noise_params=cfg.get("noise_params"), input_dtype=cfg.get("input_dtype", "float32"),
                     history=cfg.get("history") or {}, context_planes=k, context_axis=along,
                     uncertainty_scale=None if scale is None else tuple(map(float, scale)),
                     data_noise=None if line is None else tuple((float(a), float(b)) for a, b in line))

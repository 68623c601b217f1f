"""Training settings and the checks on what a user hands us, before anything is built.

The choice lists here are the ones the command line and the widget offer.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field, fields

import numpy as np

from . import methods
from .data import validate_scale

METHODS = methods.names()  # the registry's (methods/__init__.py), in the order offered
NOISE_MODELS = ("auto", "gaussian", "poisson", "poisson-gaussian")
DEVICES = ("auto", "cpu", "cuda", "mps")
CHANNEL_MODES = ("independent", "joint")
NETWORK_PRESETS = ("cpu", "gpu", "reference")  # HQ-SSL widths; cpu and gpu are one network
PRECISIONS = ("auto", "float32", "bfloat16")
MIN_SIDE = 16  # smallest image side (pixels) we train on
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit
MAX_CONTEXT_PLANES = 8


@dataclass(frozen=True)
class Option:
    """How the front ends offer one TrainConfig field (the one table both are built from).

    `cli`: the command line's option; `widget`: the form's section ("basic", "advanced"), or
    "custom" for a field the form lays out by hand; None where a front end does not offer the
    field, and then `why` says why. `auto`: None means "the default", which the form shows as
    "auto" at the bottom of its range."""

    label: str
    help: str
    cli: str | None = None
    widget: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    step: float = 1
    auto: bool = False
    why: str = ""


def _field(default, **option):
    return field(default=default, metadata={"option": Option(**option)})


@dataclass(frozen=True)
class TrainConfig:
    """All training settings. `None` means "the default for this method, layout and device"."""

    method: str = _field("n2v", label="Method", help="n2v, n2v2, hqssl (blind-spot network with a noise "
                         "model) or n2n (two recordings)", cli="--method", widget="custom", choices=METHODS)
    axes: str | None = _field(None, label="Axes", help="axes of the input, e.g. YX, ZYX, TCYX (default: from "
                              "the metadata, else guessed)", cli="--axes", widget="custom")
    time_budget_s: float | None = _field(60.0, label="Train for (seconds)", help="train for this long "
                                         "(default 60)", cli="--time-budget", widget="custom", low=1e-9)
    steps: int | None = _field(None, label="Train for (steps)", help="train for N steps (whichever of "
                               "steps and time comes first)", cli="--steps", widget="custom", low=1)
    seed: int = _field(0, label="Seed", help="seed of the random patches, masks and weights", cli="--seed",
                       widget="advanced", low=0, high=MAX_SEED)
    device: str = _field("auto", label="Device", help="where to train", cli="--device", widget="advanced",
                         choices=DEVICES)
    noise: str = _field("auto", label="Noise", help="HQ-SSL noise model (cameras: poisson-gaussian, shot + "
                        "read noise)", cli="--noise", widget="custom", choices=NOISE_MODELS)
    sigma: float | None = _field(None, label="σ", help="known Gaussian noise level, in the image's units",
                                 cli="--sigma", widget="custom", low=0, auto=True)
    patch_size: int | None = _field(None, label="Patch size", help="side of the square training patches, in "
                                    "pixels", cli="--patch-size", widget="advanced", low=8, high=1024, step=8,
                                    auto=True)
    batch_size: int | None = _field(None, label="Batch size", help="patches per training step (smaller uses "
                                    "less memory)", cli="--batch-size", widget="advanced", low=1, high=1024,
                                    auto=True)
    learning_rate: float | None = _field(None, label="Learning rate", help="Adam's learning rate",
                                         cli="--learning-rate", widget="advanced", low=0, high=0.1, step=1e-4,
                                         auto=True)
    features: int | None = _field(None, label="Network width", help="base number of filters: wider learns "
                                  "more but trains slower on a CPU", cli="--features", widget="advanced", low=1,
                                  high=256, step=4, auto=True)
    depth: int | None = _field(None, label="Network depth", help="levels of the UNet", cli="--depth",
                               widget="advanced", low=1, high=6, auto=True)
    network_preset: str | None = _field(None, label="HQ-SSL widths", help="HQ-SSL network widths (default: the "
                                        "small cpu/gpu network)", cli="--network-preset", choices=NETWORK_PRESETS,
                                        why="the widget offers width and depth, which cover the presets")
    three_d: bool | None = _field(None, label="Z", help="train Z in 3D or slice by slice (default: by the "
                                  "voxel size)", cli="--3d/--2d", widget="custom")
    scale: tuple[float, ...] | None = _field(None, label="Scale", help="voxel spacing, one value per axis "
                                             "(default: from the file); decides 3D or 2D", cli="--scale",
                                             why="the widget reads the layer's scale")
    mask_percent: float = _field(1.5, label="Masked pixels (%)", help="N2V: share of pixels masked per patch",
                                 cli="--mask-percent", widget="advanced", low=0.01, high=20, step=0.1)
    patch_context: int = _field(0, label="Patch context", help="pixels read around each patch as context "
                                "only, never a target", cli="--patch-context", widget="advanced", low=0,
                                high=64, step=4)
    context_planes: int | None = _field(None, label="Neighbour planes", help="planes on each side along Z or "
                                        "T seen as context (0: planes alone; default: chosen from the stack)",
                                        cli="--context-planes", widget="advanced", low=0,
                                        high=MAX_CONTEXT_PLANES, auto=True)
    precision: str = _field("auto", label="Precision", help="arithmetic of the network (auto: bfloat16 where "
                            "the CPU or GPU has it; weights, losses and HQ-SSL's head stay float32)", cli="--precision", widget="advanced", choices=PRECISIONS)
    preview_every_s: float | None = _field(2.0, label="Preview every (s)", help="seconds between previews",
                                           why="the widget's preview pace is kept within a share of training "
                                           "time; the command line shows no preview")
    validation_every_s: float = _field(2.0, label="Validate every (s)", help="held-out loss at most this often",
                                       why="its pace is kept within a share of training time, nothing to choose")
    until_converged: bool = _field(False, label="or until it stops improving", help="end when the held-out "
                                   "loss stops improving (the time or steps cap it)", cli="--until-converged",
                                   widget="custom")
    frames_are_repeats: bool = _field(False, label="frames are repeats", help="N2N without a second "
                                      "recording: neighbouring T (or S) frames are repeated recordings",
                                      cli="--frames-are-repeats", widget="custom")
    amp: bool = _field(True, label="Mixed precision (CUDA)", help="float16 mixed precision on CUDA",
                       why="`precision` is the setting users choose; this switch is for tests and benchmarks")
    num_threads: int | None = _field(None, label="CPU threads", help="CPU threads for torch (default: all "
                                     "cores; the widget leaves one to napari)", cli="--threads",
                                     widget="advanced", low=1, high=256, auto=True)
    # axis C: "independent", one full-width model per channel (a grouped network); "joint", one
    # model sees all channels (they can help each other). A continued model keeps its own.
    channels: str = _field("independent", label="Channels", help="axis C: one model per channel "
                           "(independent: no channel leaks into another) or one model for all (joint)",
                           cli="--channels", widget="custom", choices=CHANNEL_MODES)

    def __post_init__(self):
        for name in _WHOLE + _REAL:  # numpy numbers are numbers; strings and bools are not
            object.__setattr__(self, name, _number(name, getattr(self, name), whole=name in _WHOLE))
        _choice("method", self.method, methods.names())  # live: a registered method is accepted
        _choice("noise model", self.noise, NOISE_MODELS)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        if self.network_preset is not None:
            _choice("network preset", self.network_preset, NETWORK_PRESETS)
        if self.channels not in CHANNEL_MODES:
            raise ValueError(f"unknown channels mode {self.channels!r}: use 'joint' (one model for all "
                             "channels) or 'independent' (one model per channel)")
        if self.patch_context < 0:
            raise ValueError(f"patch_context must be 0 or more pixels, got {self.patch_context}")
        if self.context_planes is not None and not 0 <= self.context_planes <= MAX_CONTEXT_PLANES:
            raise ValueError(f"context_planes must be 0 (planes alone) to {MAX_CONTEXT_PLANES} planes on each "
                             f"side, got {self.context_planes}")
        if self.time_budget_s is None and self.steps is None and not self.until_converged:
            raise ValueError("give a time budget or a number of steps (or both), or until_converged")
        if self.time_budget_s is not None and not (self.time_budget_s > 0 and math.isfinite(self.time_budget_s)):
            raise ValueError(f"time budget must be a positive number of seconds, got {self.time_budget_s}")
        if self.steps is not None and (not isinstance(self.steps, int) or self.steps < 1):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if self.sigma is not None and not (self.sigma > 0 and math.isfinite(self.sigma)):
            raise ValueError(f"sigma must be a positive number in the image's units, got {self.sigma}")
        if self.sigma is not None and self.noise not in ("gaussian", "auto"):
            raise ValueError(f"sigma is a Gaussian noise level; it does not apply to noise={self.noise!r}")
        for name in ("patch_size", "batch_size", "features", "depth", "num_threads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.patch_size is not None and self.patch_size < 8:
            raise ValueError(f"patch_size {self.patch_size} is too small: use at least 8 (64 is typical)")
        if self.learning_rate is not None and not (0 < self.learning_rate < 1):
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 < self.mask_percent <= 20:
            raise ValueError(f"mask_percent must be in (0, 20], got {self.mask_percent}")
        if self.preview_every_s is not None and self.preview_every_s <= 0:
            raise ValueError("preview_every_s must be positive (or None for no previews)")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"seed must be a whole number from 0 to {MAX_SEED}, got {self.seed}")
        object.__setattr__(self, "scale", validate_scale(self.scale))


OPTIONS: dict[str, Option] = {f.name: f.metadata["option"] for f in fields(TrainConfig)}


def field_type(name: str) -> type:
    """bool, int, float or str: the type of TrainConfig's field `name` (from its annotation)."""
    annotation = next(f.type for f in fields(TrainConfig) if f.name == name)
    return next(k for k in (bool, int, float, str) if k.__name__ in str(annotation))


_WHOLE = ("steps", "seed", "patch_size", "batch_size", "features", "depth", "num_threads", "patch_context",
          "context_planes")
_REAL = ("time_budget_s", "sigma", "learning_rate", "mask_percent", "preview_every_s", "validation_every_s")


def _number(name: str, value, whole: bool):
    """`value` as a Python int (whole) or float, None as None; anything else is a TypeError naming `name`."""
    if value is None:
        return None
    kind = numbers.Integral if whole else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "a whole number" if whole else "a number"
        raise TypeError(f"{name} must be {what}, got {value!r} ({type(value).__name__})")
    return int(value) if whole else float(value)


def _choice(what: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}: use one of {', '.join(choices)}")


def validate_image(image) -> None:
    """Reject what no method can denoise, with a message that says what to do."""
    shape = getattr(image, "shape", None)
    dtype = getattr(image, "dtype", None)
    if shape is None or dtype is None:
        raise TypeError(f"expected an array (numpy, dask or zarr), got {type(image).__name__}")
    dtype = np.dtype(dtype)
    if dtype.kind not in "uif":
        raise TypeError(f"images must be integer or floating point, got dtype {dtype}: convert "
                        "with image.astype(np.float32)")
    if not 2 <= len(shape) <= 6:
        raise ValueError(f"images must have 2 to 6 dimensions (axes from S, T, C, Z, Y, X), got shape {tuple(shape)}")
    if 0 in shape:
        raise ValueError(f"the image is empty (shape {tuple(shape)})")
    if isinstance(image, np.ma.MaskedArray):
        raise TypeError("the image is a masked array, whose mask no method would see: fill the masked pixels "
                        "(image.filled(value)) or pass image.data")


def refuse_upscaled(block: np.ndarray) -> None:
    """Refuse an image whose pixels repeat in 2x2 blocks (nearest-neighbour upscaled): its noise is
    not independent between neighbours, which every self-supervised method needs. `block`: a
    central crop, (C, ..., Y, X)."""
    y, x = block.shape[-2] // 2 * 2, block.shape[-1] // 2 * 2
    b = block[..., :y, :x]
    if y < 8 or x < 8 or b.min() == b.max():
        return  # too small to tell, or constant (refused with its own words)
    if np.array_equal(b[..., 0::2, :], b[..., 1::2, :]) and np.array_equal(b[..., :, 0::2], b[..., :, 1::2]):
        raise ValueError("every pixel of the image is repeated in 2x2 blocks (a nearest-neighbour upscaled "
                         "image): its noise is not independent between pixels, so it cannot be denoised "
                         "self-supervised; denoise the original recording before it was upscaled")


def validate_second(second, image):
    """N2N's second recording: an image like `image`, of the same shape."""
    validate_image(second)
    if tuple(second.shape) != tuple(image.shape):
        raise ValueError(f"the second recording has shape {tuple(second.shape)} and the first "
                         f"{tuple(image.shape)}: N2N needs two recordings of the same field, alike in shape")
    for index in np.ndindex(*second.shape[:-2]) if len(second.shape) > 2 else [()]:  # plane by plane: lazy stays lazy
        if not np.isfinite(np.asarray(second[index])).all():
            raise ValueError(f"the second recording holds NaN or Inf values (plane {index}): replace them "
                             "(e.g. np.nan_to_num) first")
    probe = tuple(slice(None, None, max(1, s // 64)) for s in image.shape)  # a spread-out sample of pixels
    if np.array_equal(np.asarray(second[probe]), np.asarray(image[probe])):
        raise ValueError("the second recording is the same as the first: N2N needs a second, independent "
                         "recording of the same field (or use n2v on one)")
    return second

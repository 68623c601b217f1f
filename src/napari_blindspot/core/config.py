"""Training settings and the checks on what a user hands us, before anything is built.

The choice lists here are the ones the command line and the widget offer.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .data import validate_scale

METHODS = ("n2v", "n2v2", "hqssl", "n2n")
NOISE_MODELS = ("auto", "gaussian", "poisson", "poisson-gaussian")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32", "bfloat16")  # auto: bfloat16 where the CPU or GPU has it (precision.py)
CHANNEL_MODES = ("joint", "independent")
NETWORK_PRESETS = ("cpu", "gpu", "reference")  # HQ-SSL widths, see blindspot.PRESETS
MIN_SIDE = 16  # smallest image side (pixels) we train on
MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are 32-bit
_WHOLE = ("steps", "seed", "patch_size", "batch_size", "features", "depth", "num_threads", "patch_context")
_REAL = ("time_budget_s", "sigma", "learning_rate", "mask_percent", "preview_every_s", "validation_every_s")


@dataclass(frozen=True)
class TrainConfig:
    """All training settings. `None` means "the default for this method, layout and device"."""

    method: str = "n2v"
    axes: str | None = None  # None: guessed from the image shape
    time_budget_s: float | None = 60.0
    steps: int | None = None  # whichever of steps / time budget comes first
    seed: int = 0
    device: str = "auto"
    noise: str = "auto"  # HQ-SSL noise model
    sigma: float | None = None  # known Gaussian sigma, in input units
    patch_size: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    features: int | None = None  # network width
    depth: int | None = None  # network levels
    network_preset: str | None = None  # HQ-SSL widths (None: by device)
    three_d: bool | None = None  # train Z in 3D; None: decided by data.choose_three_d from `scale`
    scale: tuple[float, ...] | None = None  # voxel spacing, one per image axis (napari's layer.scale)
    mask_percent: float = 1.5  # N2V: share of pixels masked per patch
    patch_context: int = 0  # pixels read around each patch as context only, never a target
    preview_every_s: float | None = 2.0  # None: no previews
    validation_every_s: float = 2.0  # held-out loss at most this often (and within its share of time)
    until_converged: bool = False  # end when the held-out loss stops improving (the budget caps it)
    frames_are_repeats: bool = False  # N2N without a second recording: neighbouring T (or S) frames
    amp: bool = True  # mixed precision on CUDA
    precision: str = "auto"  # the network's number format; weights, losses and HQ-SSL's head stay float32
    num_threads: int | None = None  # CPU threads for torch (default: all available cores)
    # axis C: "joint", one model sees all channels (they can help each other); "independent",
    # one full-width model per channel (a grouped network). A continued model keeps its own.
    channels: str = "independent"

    def __post_init__(self):
        for name in _WHOLE + _REAL:  # numpy numbers are numbers; strings and bools are not
            object.__setattr__(self, name, _number(name, getattr(self, name), whole=name in _WHOLE))
        _choice("method", self.method, METHODS)
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
        for name in ("patch_size", "batch_size", "features", "depth"):
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


def validate_second(second, image):
    """N2N's second recording: an image like `image`, of the same shape."""
    validate_image(second)
    if tuple(second.shape) != tuple(image.shape):
        raise ValueError(f"the second recording has shape {tuple(second.shape)} and the first "
                         f"{tuple(image.shape)}: N2N needs two recordings of the same field, alike in shape")
    return second

"""The training loop, as a generator of progress events.

    run = train(image, TrainConfig(method="n2v", axes="YX", time_budget_s=60))
    for p in run:        # Progress(step, total, elapsed_s, loss, val_loss, preview, ...)
        ...
    model = run.model

The widget, the command line's progress bar and the tests all consume the same events.
Training stops at `steps`, at `time_budget_s` or at `run.stop()`, whichever comes first.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace

import numpy as np
import torch

from .blindspot import PRESETS
from .data import (PatchSampler, StackView, choose_three_d, guess_axes, measure_normalisation, validate_axes,
                   validate_scale)
from .masking import mask_batch, masked_mse
from .model import METHODS, Model, ModelSpec, build_network, build_noise_model, choose_device

NOISE_MODELS = ("auto", "gaussian", "poisson", "poisson-gaussian")
CHANNEL_MODES = ("joint", "independent")


@dataclass(frozen=True)
class TrainConfig:
    """All training settings. `None` means "the default for this method, layout and device"."""

    method: str = "n2v"
    axes: str | None = None  # None: guessed from the image shape
    time_budget_s: float | None = 60.0
    steps: int | None = None  # whichever of steps / time budget comes first
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | mps
    noise: str = "auto"  # HQ-SSL noise model
    sigma: float | None = None  # known Gaussian sigma, in input units
    patch_size: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    features: int | None = None  # network width
    depth: int | None = None  # network levels
    network_preset: str | None = None  # HQ-SSL widths: cpu | gpu | reference (None: by device)
    three_d: bool | None = None  # train Z in 3D; None: decided by data.choose_three_d from `scale`
    scale: tuple[float, ...] | None = None  # voxel spacing, one per image axis (napari's layer.scale)
    mask_percent: float = 1.5  # N2V: share of pixels masked per patch
    preview_every_s: float | None = 2.0  # None: no previews
    validation_every_s: float = 2.0
    amp: bool = True  # mixed precision on CUDA
    num_threads: int | None = None  # CPU threads for torch (default: all available cores)
    # axis C: "joint", one model sees all channels (they can help each other); "independent",
    # one full-width model per channel (a grouped network). A continued model keeps its own.
    channels: str = "independent"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: use one of {', '.join(METHODS)}")
        if self.noise not in NOISE_MODELS:
            raise ValueError(f"unknown noise model {self.noise!r}: use one of {', '.join(NOISE_MODELS)}")
        if self.network_preset is not None and self.network_preset not in PRESETS:
            raise ValueError(f"unknown network preset {self.network_preset!r}: use {', '.join(PRESETS)}")
        if self.channels not in CHANNEL_MODES:
            raise ValueError(f"unknown channels mode {self.channels!r}: use 'joint' (one model for all "
                             "channels) or 'independent' (one model per channel)")
        if self.time_budget_s is None and self.steps is None:
            raise ValueError("give a time budget or a number of steps (or both)")
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
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        object.__setattr__(self, "scale", validate_scale(self.scale))


@dataclass
class Progress:
    """One training event. `preview` is a denoised view of `preview_region` (or None)."""

    step: int
    total: int
    elapsed_s: float
    loss: float
    val_loss: float | None = None
    preview: np.ndarray | None = None
    preview_region: tuple | None = None
    steps_per_s: float = 0.0
    eta_s: float = 0.0
    noise_params: dict | None = None
    done: bool = False


@dataclass(frozen=True)
class _Settings:
    """Defaults filled in for one run."""

    patch: tuple[int, ...]
    batch: int
    lr: float
    network: dict


MIN_SIDE = 16  # smallest image side (pixels) we train on
NOISE_INIT_PATCHES = 32  # patches for the quick noise estimate that starts HQ-SSL's noise model
NOISE_LR_FACTOR = 10.0  # noise parameters are few and well determined: let them move faster
PREVIEW_SHARE = 0.05  # previews take at most this share of training time (at 1/13, HQ-SSL's
# previews cost 9.9 % of its throughput in the widget: benchmarks/widget_latency.py)


def _fit_patch(default: tuple[int, ...], spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Shrink a default patch to fit the image (multiples of 8), keeping squares square."""
    fitted = tuple(min(p, s // 8 * 8) for p, s in zip(default, spatial))
    if len(set(default)) == 1:  # square/cubic patches (HQ-SSL rotations) stay so
        fitted = (min(fitted),) * len(fitted)
    return fitted


# Default (patch, batch) by method family, spatial dimensions and GPU. The CPU 3D values come
# from 60 s runs on benchmarks/bench3d.py's stack (48x128x128): 3D convolutions cost about 9x
# more per voxel than 2D ones on the CPU, so N2V at 32x64x64 x 16 managed 7 steps (18.0 dB)
# where 16x32x32 x 8 made 120 (30.7 dB), and HQ-SSL at 32^3 x 8 made 13 (23.4 dB) where
# 24^3 x 4 made 96 (31.3 dB). On a lent H100 (benchmarks/curve.py --probe) a step is
# launch-bound near 50 steps/s, so larger batches cost little: N2V 64x64 x 64 trained 14.6
# Mpx/s and gave the best PSNR of the settings tried (moon, 20 s: 36.4 dB).
_PATCH_BATCH = {
    ("n2v", 2, False): ((64, 64), 16), ("n2v", 2, True): ((64, 64), 64),
    ("n2v", 3, False): ((16, 32, 32), 8), ("n2v", 3, True): ((32, 64, 64), 16),
    ("hqssl", 2, False): ((64, 64), 8), ("hqssl", 2, True): ((64, 64), 16),
    ("hqssl", 3, False): ((24, 24, 24), 4), ("hqssl", 3, True): ((32, 32, 32), 8),
}


# HQ-SSL's UNet halves the patch at each level; on a lent H100 the reference-width network
# (depth 5) on 64-px patches, a 2-px bottleneck, lost 12 dB in 20 s of training (moon: 29.5 dB
# at 5 s, 17.4 at 20 s) and on 32-px patches never beat the noisy input. A user's depth always
# wins; otherwise it is capped so that the smallest level keeps this many pixels.
HQSSL_MIN_BOTTLENECK = 4


def _settings(config: TrainConfig, spatial: tuple[int, ...], device: torch.device, channels: int = 1) -> _Settings:
    """Fill in the defaults for this method, image and device; a user's setting always wins."""
    gpu, ndim = device.type != "cpu", len(spatial)
    family = "hqssl" if config.method == "hqssl" else "n2v"
    patch, batch = _PATCH_BATCH[family, ndim, gpu]
    batch = config.batch_size or batch
    if config.patch_size is not None:  # HQ-SSL's rotations need square/cubic patches; N2V 3D: half depth
        side = config.patch_size
        patch = (side,) * ndim if family == "hqssl" or ndim == 2 else (max(8, side // 2), side, side)
    if family == "hqssl":
        network = dict(PRESETS[config.network_preset or ("gpu" if gpu else "cpu")])
        lr = config.learning_rate or 2e-3
    else:
        network = {"depth": 2, "features": 32 if gpu else 16, "batch_norm": False}
        lr = config.learning_rate or (4e-4 if gpu else 2e-3)
    if config.patch_size is None:
        patch = _fit_patch(patch, spatial)
    if config.features is not None:
        network["features"] = config.features
    if config.depth is not None:
        network["depth"] = config.depth
    elif family == "hqssl":  # keep the bottleneck at least 4 pixels wide (see HQSSL_MIN_BOTTLENECK)
        network["depth"] = max(1, min(network["depth"], int(math.log2(min(patch) / HQSSL_MIN_BOTTLENECK))))
    network["groups"] = channels if config.channels == "independent" else 1  # one network per channel
    return _Settings(patch, batch, lr, network)


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


@contextmanager
def _threads(n: int | None):
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class TrainingRun:
    """Iterate to train; `stop()` from any thread; `model` is usable during and after."""

    def __init__(self, image, config: TrainConfig, model: Model | None = None):
        validate_image(image)
        scale = validate_scale(config.scale, len(image.shape))
        axes = validate_axes(config.axes or (model.spec.axes if model else guess_axes(image.shape, scale)),
                             image.shape)
        self.config = replace(config, axes=axes)
        self.image = image
        self.device = choose_device(config.device)
        self.three_d, self.three_d_reason = self._choose_three_d(config, model, axes, image.shape, scale,
                                                                  self.device)
        self.view = StackView.of(image, axes, three_d=self.three_d)
        if min(self.view.spatial_shape) < MIN_SIDE:
            raise ValueError(f"the image is too small to train on ({'x'.join(map(str, self.view.spatial_shape))} "
                             f"pixels): every spatial side must be at least {MIN_SIDE}")
        ndim = self.view.spatial_ndim
        settings = _settings(self.config, self.view.spatial_shape, self.device, self.view.channels)
        if model is not None:
            self._check_compatible(model)
            self.model = model.to(self.device)
            settings = replace(settings, network=model.spec.network)
        else:
            norm = measure_normalisation(self.view, seed=config.seed)
            noise_cfg = None
            if config.method == "hqssl":
                sigma = None if config.sigma is None else [config.sigma / s for s in norm.std]  # per channel
                noise_cfg = {"kind": "gaussian" if config.sigma is not None else config.noise, "sigma": sigma}
            spec = ModelSpec(config.method, axes, ndim, self.view.channels, settings.network, norm,
                             noise=noise_cfg, input_dtype=str(np.dtype(image.dtype)))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                net = build_network(spec.method, ndim, spec.channels, spec.network)
                noise = build_noise_model(spec)
            self.model = Model(spec, net, noise).to(self.device)
        self.settings = settings
        self._fresh_noise_model = model is None and self.model.noise is not None
        self._stop = threading.Event()
        self._preview_region: tuple | None = None
        self.timings = {"data": 0.0, "network": 0.0, "validation": 0.0, "preview": 0.0}  # seconds

    @staticmethod
    def _choose_three_d(config: TrainConfig, model: Model | None, axes: str, shape, scale,
                        device: torch.device) -> tuple[bool, str]:
        """An explicit setting wins, then a continued model's layout, then the voxel anisotropy."""
        if model is not None and config.three_d is None:
            return model.spec.spatial_ndim == 3, "as the model was trained"
        if config.three_d is not None:
            if config.three_d and "Z" not in axes:
                raise ValueError(f"3D training needs a Z axis, axes are '{axes}'")
            return config.three_d, ("3D" if config.three_d else "slice by slice in 2D") + ", as set"
        return choose_three_d(axes, shape, scale, gpu=device.type != "cpu")

    def _check_compatible(self, model: Model) -> None:
        spec = model.spec
        if spec.method != self.config.method:
            raise ValueError(f"the model was trained with {spec.method}; continue it with method={spec.method!r}")
        if spec.channels != self.view.channels or spec.spatial_ndim != self.view.spatial_ndim:
            raise ValueError(f"the model expects {spec.channels} channel(s) in {spec.spatial_ndim}D, the image "
                             f"gives {self.view.channels} in {self.view.spatial_ndim}D (axes '{self.config.axes}')")

    def stop(self) -> None:
        """Ask training to end after the current step (thread-safe)."""
        self._stop.set()

    def set_preview_region(self, region: tuple | None) -> None:
        """Where previews are computed: one int or slice per image axis (thread-safe)."""
        self._preview_region = region

    def __iter__(self):
        with _threads(self.config.num_threads):
            yield from self._loop()

    # -- the loop -------------------------------------------------------------------------

    def _loop(self):
        cfg, settings, model = self.config, self.settings, self.model
        sampler = PatchSampler(self.view, model.spec.normalisation, settings.patch, seed=cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        if self._fresh_noise_model:  # start the noise parameters near the truth, not at a guess
            model.noise.initialise_from(torch.from_numpy(sampler.batch(NOISE_INIT_PATCHES)).to(self.device))
            self._fresh_noise_model = False
        groups = [{"params": list(model.net.parameters()), "base_lr": settings.lr}]
        noise_params = list(model.noise.parameters()) if model.noise is not None else []
        if noise_params:  # a known sigma has none
            groups.append({"params": noise_params, "base_lr": settings.lr * NOISE_LR_FACTOR})
        optimiser = torch.optim.Adam(groups, lr=settings.lr)
        use_amp = cfg.amp and self.device.type == "cuda"
        scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
        autocast = (lambda: torch.autocast("cuda", dtype=torch.float16)) if use_amp else nullcontext
        val_batch = self._validation_batch(sampler, generator)

        start = time.perf_counter()
        step, loss_value, val_loss = 0, float("nan"), None
        next_val = cfg.validation_every_s
        next_preview = min(1.0, cfg.preview_every_s) if cfg.preview_every_s else math.inf
        history = model.spec.history
        while True:
            elapsed = time.perf_counter() - start
            fraction = max(step / cfg.steps if cfg.steps else 0.0,
                           elapsed / cfg.time_budget_s if cfg.time_budget_s else 0.0)
            if fraction >= 1.0 or self._stop.is_set():
                break
            for group in optimiser.param_groups:  # cosine decay to 5% over the run
                group["lr"] = group["base_lr"] * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * fraction)))
            model.net.train()
            t0 = time.perf_counter()
            x = torch.from_numpy(sampler.batch(settings.batch)).to(self.device, memory_format=model.memory_format)
            inputs, coords = self._blind_spot_input(x, generator)
            t1 = time.perf_counter()
            with autocast():
                loss = self._loss(inputs, x, coords)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            step += 1
            self.timings["data"] += t1 - t0
            self.timings["network"] += time.perf_counter() - t1
            loss_value = float(loss.detach())
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training diverged at step {step} (loss {loss_value}): "
                                         "lower the learning rate")
            elapsed = time.perf_counter() - start
            event = self._event(step, elapsed, loss_value)
            if elapsed >= next_val:
                t0 = time.perf_counter()
                val_loss = event.val_loss = self._validation_loss(val_batch)
                next_val = elapsed + cfg.validation_every_s
                self.timings["validation"] += time.perf_counter() - t0
            if elapsed >= next_preview:
                t0 = time.perf_counter()
                event.preview_region, event.preview = self._preview()
                preview_cost = time.perf_counter() - t0
                self.timings["preview"] += preview_cost
                wait = preview_cost * (1 / PREVIEW_SHARE - 1)  # cost / (cost + wait) = PREVIEW_SHARE
                next_preview = time.perf_counter() - start + max(cfg.preview_every_s, wait)
            yield event
        elapsed = time.perf_counter() - start
        if step:
            val_loss = self._validation_loss(val_batch)
        history.update(steps=history.get("steps", 0) + step, seconds=round(history.get("seconds", 0) + elapsed, 2),
                       loss=loss_value, val_loss=val_loss)
        if model.noise is not None:
            model.spec = replace(model.spec, noise_params=self._noise_params())
        final = self._event(step, elapsed, loss_value)
        final.total, final.eta_s, final.done, final.val_loss = step, 0.0, True, val_loss
        yield final
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _event(self, step: int, elapsed: float, loss: float) -> Progress:
        cfg = self.config
        rate = step / elapsed if elapsed > 0 else 0.0
        if cfg.steps and (not cfg.time_budget_s or cfg.steps / max(rate, 1e-9) < cfg.time_budget_s):
            total = cfg.steps
            eta = (total - step) / max(rate, 1e-9)
        else:
            total = max(step, int(rate * cfg.time_budget_s))
            eta = max(0.0, cfg.time_budget_s - elapsed)
        noise = self._noise_params() if self.model.noise is not None else None
        return Progress(step, total, elapsed, loss, steps_per_s=rate, eta_s=eta, noise_params=noise)

    def _blind_spot_input(self, x: torch.Tensor, generator: torch.Generator):
        """N2V hides the masked pixels from the input; HQ-SSL's network is blind by construction."""
        if self.config.method == "hqssl":
            return x, None
        return mask_batch(x, self.config.mask_percent, generator, median=self.config.method == "n2v2")

    def _loss(self, inputs: torch.Tensor, x: torch.Tensor, coords: torch.Tensor | None) -> torch.Tensor:
        out = self.model.net(inputs)
        if coords is not None:
            return masked_mse(out, x, coords)
        from .blindspot import split_prior

        mu, prior_var = split_prior(out, self.model.spec.channels, self.model.net.groups)
        return self.model.noise.loss(x, mu, prior_var)

    def _validation_batch(self, sampler: PatchSampler, generator: torch.Generator):
        """A fixed batch (with fixed masks for N2V), so validation losses compare across steps."""
        x = torch.from_numpy(sampler.batch(max(4, self.settings.batch // 2))).to(self.device)
        return (x,) + tuple(self._blind_spot_input(x, generator))

    @torch.no_grad()
    def _validation_loss(self, val_batch) -> float:
        x, inputs, coords = val_batch
        self.model.net.eval()
        return float(self._loss(inputs, x, coords))

    def _noise_params(self) -> dict:
        norm = self.model.spec.normalisation
        return self.model.noise.describe(torch.tensor(norm.mean), torch.tensor(norm.std))

    def _preview(self):
        region = self._preview_region or default_preview_region(self.image.shape, self.config.axes)
        return region, preview_of(self.model, self.image, self.config.axes, region)


def default_preview_region(shape: tuple[int, ...], axes: str, max_side: int = 512) -> tuple:
    """The middle plane of every non-YX axis and a central crop of at most `max_side` in YX."""
    region = []
    for size, axis in zip(shape, axes):
        if axis in "YX":
            side = min(size, max_side)
            region.append(slice((size - side) // 2, (size - side) // 2 + side))
        elif axis == "C":
            region.append(slice(None))
        else:
            region.append(size // 2)
    return tuple(region)


def preview_of(model: Model, image, axes: str, region: tuple, context: int = 16) -> np.ndarray:
    """Denoise just `region` of `image` (ints pick planes, slices pick ranges), with context.

    Spatial axes of the model are read `context` pixels wider than asked so the preview has
    no border artefacts; the result is cropped back to exactly `region`.
    """
    spatial = "ZYX" if model.spec.spatial_ndim == 3 else "YX"
    read, crop = [], []
    for size, axis, want in zip(image.shape, axes, region):
        if isinstance(want, slice):
            start, stop, _ = want.indices(size)
        else:
            start, stop = int(want), int(want) + 1
        if axis in spatial:
            lo, hi = max(0, start - context), min(size, stop + context)
        elif axis == "C":
            lo, hi = 0, size
        else:
            lo, hi = start, stop
        read.append(slice(lo, hi))
        crop.append(slice(start - lo, stop - lo) if isinstance(want, slice) else want - lo)
    denoised = model.predict(image[tuple(read)], axes)
    return denoised[tuple(crop)]


def train(image, config: TrainConfig | None = None, model: Model | None = None, **overrides) -> TrainingRun:
    """Start training on `image` (iterate the returned run to make progress).

    `model`: continue training an existing model ("train more"). `overrides` are TrainConfig
    fields, e.g. ``train(image, method="hqssl", time_budget_s=120)``.
    """
    config = replace(config or TrainConfig(), **overrides) if overrides else (config or TrainConfig())
    return TrainingRun(image, config, model)

"""Training, as a generator of progress events around one `step()`.

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

from . import hqssl
from .config import MIN_SIDE, TrainConfig, validate_image
from .data import PatchSampler, StackView, choose_three_d, guess_axes, measure_normalisation, validate_axes, validate_scale
from .defaults import Settings, settings
from .device import choose_device, torch_threads
from .masking import mask_batch, masked_mse
from .model import Model, ModelSpec, build_network, build_noise_model
from .preview import PreviewTimer, central_region, preview_of

NOISE_INIT_PATCHES = 32  # patches for the quick noise estimate that starts HQ-SSL's noise model
NOISE_LR_FACTOR = 10.0  # noise parameters are few and well determined: let them move faster
FINAL_LR = 0.05  # the cosine schedule ends at this share of the learning rate


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


# -- one step -------------------------------------------------------------------------------


def blind_spot_input(model: Model, x: torch.Tensor, generator: torch.Generator, mask_percent: float):
    """(network input, masked coordinates): N2V hides the pixels it trains on; HQ-SSL's
    network is blind by construction and trains on every pixel (coordinates None)."""
    if model.method == "hqssl":
        return x, None
    return mask_batch(x, mask_percent, generator, median=model.method == "n2v2")


def loss(model: Model, x: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None) -> torch.Tensor:
    """N2V: MSE on the masked pixels; HQ-SSL: the noise model's negative log-likelihood."""
    out = model.net(inputs)
    if coords is not None:
        return masked_mse(out, x, coords)
    return hqssl.loss(model.noise, x, out, model.net.groups)


class _Amp:
    """Mixed precision on CUDA (autocast + gradient scaling); plain float32 elsewhere."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled)

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.enabled else nullcontext()


def step(model: Model, optimiser: torch.optim.Optimizer, amp: _Amp, x, inputs, coords) -> float:
    """One optimiser step on one batch; returns its loss."""
    model.net.train()
    with amp.autocast():
        value = loss(model, x, inputs, coords)
    optimiser.zero_grad(set_to_none=True)
    amp.scaler.scale(value).backward()
    amp.scaler.step(optimiser)
    amp.scaler.update()
    return float(value.detach())


# -- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Schedule:
    """How far a run is (the larger of its step and time shares) and the learning rate then."""

    steps: int | None
    seconds: float | None

    def fraction(self, count: int, elapsed: float) -> float:
        return max(count / self.steps if self.steps else 0.0, elapsed / self.seconds if self.seconds else 0.0)

    @staticmethod
    def set_lr(optimiser: torch.optim.Optimizer, fraction: float) -> None:
        """Cosine decay from the base rate to FINAL_LR of it."""
        for group in optimiser.param_groups:
            group["lr"] = group["base_lr"] * (FINAL_LR + (1 - FINAL_LR) * 0.5 * (1 + math.cos(math.pi * fraction)))


class _Stopwatch:
    """Seconds spent per kind of work, for profiles and the preview share."""

    def __init__(self):
        self.totals = dict.fromkeys(("data", "network", "validation", "preview"), 0.0)
        self.last = 0.0

    @contextmanager
    def time(self, kind: str):
        start = time.perf_counter()
        yield
        self.last = time.perf_counter() - start
        self.totals[kind] += self.last


# -- a run ----------------------------------------------------------------------------------


def _new_model(config: TrainConfig, view: StackView, run_settings: Settings, image_dtype, device) -> Model:
    norm = measure_normalisation(view, seed=config.seed)
    noise_cfg = None
    if config.method == "hqssl":  # a known sigma, in each channel's normalised units
        sigma = None if config.sigma is None else [config.sigma / s for s in norm.std]
        noise_cfg = {"kind": "gaussian" if config.sigma is not None else config.noise, "sigma": sigma}
    spec = ModelSpec(config.method, config.axes, view.spatial_ndim, view.channels, run_settings.network, norm,
                     noise=noise_cfg, input_dtype=str(np.dtype(image_dtype)))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network)
        noise = build_noise_model(spec)
    return Model(spec, net, noise).to(device)


class TrainingRun:
    """Iterate to train; `stop()` from any thread; `model` is usable during and after."""

    def __init__(self, image, config: TrainConfig, model: Model | None = None):
        validate_image(image)
        scale = validate_scale(config.scale, len(image.shape))
        axes = validate_axes(config.axes or (model.spec.axes if model else guess_axes(image.shape, scale)),
                             image.shape)
        self.config = config = replace(config, axes=axes)
        self.image = image
        self.device = choose_device(config.device)
        self.three_d, self.three_d_reason = _choose_three_d(config, model, image.shape, scale, self.device)
        self.view = StackView.of(image, axes, three_d=self.three_d)
        if min(self.view.spatial_shape) < MIN_SIDE:
            raise ValueError(f"the image is too small to train on ({'x'.join(map(str, self.view.spatial_shape))} "
                             f"pixels): every spatial side must be at least {MIN_SIDE}")
        self.settings = settings(config, self.view.spatial_shape, self.device, self.view.channels)
        if model is None:
            self.model = _new_model(config, self.view, self.settings, image.dtype, self.device)
        else:
            self._check_compatible(model)
            self.model = model.to(self.device)
            self.settings = replace(self.settings, network=model.spec.network)
        self._fresh_noise_model = model is None and self.model.noise is not None
        self._stop = threading.Event()
        self._preview_region: tuple | None = None
        self._stopwatch = _Stopwatch()
        self.timings = self._stopwatch.totals  # seconds per kind of work

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
        with torch_threads(self.config.num_threads):
            yield from self._train()

    def _train(self):
        cfg, model, watch = self.config, self.model, self._stopwatch
        sampler = PatchSampler(self.view, model.spec.normalisation, self.settings.patch, seed=cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        if self._fresh_noise_model:  # start the noise parameters near the truth, not at a guess
            model.noise.initialise_from(torch.from_numpy(sampler.batch(NOISE_INIT_PATCHES)).to(self.device))
            self._fresh_noise_model = False
        optimiser = self._optimiser()
        amp = _Amp(cfg.amp and self.device.type == "cuda")
        val_batch = self._validation_batch(sampler, generator)
        schedule, previews = _Schedule(cfg.steps, cfg.time_budget_s), PreviewTimer(cfg.preview_every_s)
        start, count, loss_value, val_loss = time.perf_counter(), 0, float("nan"), None
        next_validation = cfg.validation_every_s
        while (fraction := schedule.fraction(count, time.perf_counter() - start)) < 1 and not self._stop.is_set():
            schedule.set_lr(optimiser, fraction)
            with watch.time("data"):
                x = torch.from_numpy(sampler.batch(self.settings.batch)).to(self.device,
                                                                             memory_format=model.memory_format)
                inputs, coords = blind_spot_input(model, x, generator, cfg.mask_percent)
            with watch.time("network"):
                loss_value = step(model, optimiser, amp, x, inputs, coords)
            count += 1
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training diverged at step {count} (loss {loss_value}): "
                                         "lower the learning rate")
            event = self._event(count, time.perf_counter() - start, loss_value)
            if event.elapsed_s >= next_validation:
                with watch.time("validation"):
                    val_loss = event.val_loss = self._validation_loss(val_batch)
                next_validation = event.elapsed_s + cfg.validation_every_s
            if previews.due(event.elapsed_s):
                with watch.time("preview"):
                    event.preview_region, event.preview = self._preview()
                previews.took(watch.last, time.perf_counter() - start)
            yield event
        yield self._finish(count, time.perf_counter() - start, loss_value, val_loss, val_batch)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _optimiser(self) -> torch.optim.Optimizer:
        lr = self.settings.lr
        groups = [{"params": list(self.model.net.parameters()), "base_lr": lr}]
        noise_params = list(self.model.noise.parameters()) if self.model.noise is not None else []
        if noise_params:  # a known sigma has none
            groups.append({"params": noise_params, "base_lr": lr * NOISE_LR_FACTOR})
        return torch.optim.Adam(groups, lr=lr)

    def _finish(self, count: int, elapsed: float, loss_value: float, val_loss, val_batch) -> Progress:
        """Record the run in the model's history and make the final event."""
        model = self.model
        if count:
            val_loss = self._validation_loss(val_batch)
        history = model.spec.history
        history.update(steps=history.get("steps", 0) + count, seconds=round(history.get("seconds", 0) + elapsed, 2),
                       loss=loss_value, val_loss=val_loss)
        if model.noise is not None:
            model.spec = replace(model.spec, noise_params=self._noise_params())
        final = self._event(count, elapsed, loss_value)
        final.total, final.eta_s, final.done, final.val_loss = count, 0.0, True, val_loss
        return final

    def _event(self, count: int, elapsed: float, loss_value: float) -> Progress:
        cfg = self.config
        rate = count / elapsed if elapsed > 0 else 0.0
        if cfg.steps and (not cfg.time_budget_s or cfg.steps / max(rate, 1e-9) < cfg.time_budget_s):
            total, eta = cfg.steps, (cfg.steps - count) / max(rate, 1e-9)
        else:
            total, eta = max(count, int(rate * cfg.time_budget_s)), max(0.0, cfg.time_budget_s - elapsed)
        noise = self._noise_params() if self.model.noise is not None else None
        return Progress(count, total, elapsed, loss_value, steps_per_s=rate, eta_s=eta, noise_params=noise)

    def _validation_batch(self, sampler: PatchSampler, generator: torch.Generator):
        """A fixed batch (with fixed masks for N2V), so validation losses compare across steps."""
        x = torch.from_numpy(sampler.batch(max(4, self.settings.batch // 2))).to(self.device)
        return (x,) + tuple(blind_spot_input(self.model, x, generator, self.config.mask_percent))

    @torch.no_grad()
    def _validation_loss(self, val_batch) -> float:
        self.model.net.eval()
        return float(loss(self.model, *val_batch))

    def _noise_params(self) -> dict:
        norm = self.model.spec.normalisation
        return self.model.noise.describe(torch.tensor(norm.mean), torch.tensor(norm.std))

    def _preview(self):
        region = self._preview_region or central_region(self.image.shape, self.config.axes)
        return region, preview_of(self.model, self.image, self.config.axes, region)


def _choose_three_d(config: TrainConfig, model: Model | None, shape, scale, device: torch.device) -> tuple[bool, str]:
    """An explicit setting wins, then a continued model's layout, then the voxel anisotropy."""
    if model is not None and config.three_d is None:
        return model.spec.spatial_ndim == 3, "as the model was trained"
    if config.three_d is not None:
        if config.three_d and "Z" not in config.axes:
            raise ValueError(f"3D training needs a Z axis, axes are '{config.axes}'")
        return config.three_d, ("3D" if config.three_d else "slice by slice in 2D") + ", as set"
    return choose_three_d(config.axes, shape, scale, gpu=device.type != "cpu")


def train(image, config: TrainConfig | None = None, model: Model | None = None, **overrides) -> TrainingRun:
    """Start training on `image` (iterate the returned run to make progress).

    `model`: continue training an existing model ("train more"). `overrides` are TrainConfig
    fields, e.g. ``train(image, method="hqssl", time_budget_s=120)``.
    """
    config = replace(config or TrainConfig(), **overrides) if overrides else (config or TrainConfig())
    return TrainingRun(image, config, model)

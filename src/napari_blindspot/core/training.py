"""Training, as a generator of progress events around one `step()`.

    run = train(image, TrainConfig(method="n2v", axes="YX", time_budget_s=60))
    for p in run:        # Progress(step, total, elapsed_s, loss, val_loss, preview, ...)
        ...
    model = run.model

The widget, the command line's progress bar and the tests all consume the same events.
Training stops at `steps`, at `time_budget_s`, when the held-out loss stops improving
(`until_converged`) or at `run.stop()`, whichever comes first.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, replace

import numpy as np
import torch

from . import methods
from .config import MIN_SIDE, TrainConfig, refuse_upscaled, validate_image, validate_second
from .data import StackView, choose_three_d, guess_axes, measure_normalisation, validate_axes, validate_scale
from .defaults import Settings, settings
from .device import choose_device, torch_threads
from .heldout import ValidationSet
from .model import Model, ModelSpec, build_network, build_noise_model
from .neighbours import Context, context_for
from .patches import Pairs, PatchSampler
from .preview import PREVIEW_SHARE, central_region, preview_of
from .schedule import Best, Pacer, Schedule, Stopwatch
from .step import blind_spot_input, step
from .window import PlaneWindow, windowed

NOISE_INIT_PATCHES = 32  # patches for the quick noise estimate that starts HQ-SSL's noise model
NOISE_LR_FACTOR = 10.0  # noise parameters are few and well determined: let them move faster
VALIDATION_SHARE = 0.1  # held-out validations take at most this share of training time
VALIDATIONS_PER_RUN = 10  # ...or, in a run of a fixed number of steps, this many, evenly spaced


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
    best_step: int | None = None  # the step of the best held-out loss so far (the final weights')
    estimated_psnr_gain_db: float | None = None  # output PSNR minus input PSNR, estimated (heldout.py)
    estimated_psnr_gain_db_interval: tuple[float, float] | None = None  # its 90 % interval; None: open


def _rounded(gain):
    """A gain or (low, high) interval to 0.01 dB for the history; None stays None."""
    if gain is None:
        return None
    return round(gain, 2) if isinstance(gain, float) else [round(g, 2) for g in gain]


# -- a run ----------------------------------------------------------------------------------


def _new_model(config: TrainConfig, view: StackView, run_settings: Settings, image_dtype, device,
               context: Context) -> Model:
    norm = measure_normalisation(view, seed=config.seed)
    noise_cfg = methods.get(config.method).noise_config(config, norm)
    spec = ModelSpec(config.method, config.axes, view.spatial_ndim, view.channels, run_settings.network, norm,
                     noise=noise_cfg, input_dtype=str(np.dtype(image_dtype)), context_planes=context.k,
                     context_axis=context.axis)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network, spec.context_planes)
        noise = build_noise_model(spec)
    return Model(spec, net, noise).to(device)


class TrainingRun:
    """Iterate to train; `stop()` from any thread; `model` is usable during and after."""

    def __init__(self, image, config: TrainConfig, model: Model | None = None, target=None):
        validate_image(image)
        scale = validate_scale(config.scale, len(image.shape))
        axes = validate_axes(config.axes or (model.spec.axes if model else guess_axes(image.shape, scale)),
                             image.shape)
        self.config = config = replace(config, axes=axes)
        self.image = image
        self.device = choose_device(config.device)
        self.three_d, self.three_d_reason = _choose_three_d(config, model, image.shape, scale, self.device)
        self.view = StackView.of(image, axes, three_d=self.three_d)
        with np.errstate(over="ignore", invalid="ignore"):  # values beyond float32 are refused with their own words
            refuse_upscaled(self.view.read(0, tuple(slice((s - min(s, 64)) // 2, (s + min(s, 64)) // 2)
                                                    for s in self.view.spatial_shape)))
        if min(self.view.spatial_shape) < MIN_SIDE:
            raise ValueError(f"the image is too small to train on ({'x'.join(map(str, self.view.spatial_shape))} "
                             f"pixels): every spatial side must be at least {MIN_SIDE}")
        self.context = context_for(config, model.spec if model else None, self.view, self.three_d)
        self.settings = settings(config, self.view.spatial_shape, self.device, self.view.channels)
        if model is None:
            self.model = _new_model(config, self.view, self.settings, image.dtype, self.device, self.context)
        else:
            self._check_compatible(model)
            self.model = model.to(self.device)
            self.settings = replace(self.settings, network=model.spec.network)
        self.model.set_precision(config.precision, config.amp)  # training, validation and previews
        norm = self.model.spec.normalisation
        self.window = windowed(self.view, self.context.axis, self.context.k, norm)  # what patches and tiles read
        self.pairs = _pairs(config, image, target, self.window)
        self.second = target  # N2N's second recording: the result denoises both (Model.predict)
        self._fresh_noise_model = model is None and self.model.noise is not None
        self._continued = model is not None  # its weights so far compete with the new ones
        self.converged_at: int | None = None  # until_converged: the step it stopped at, having stopped improving
        self._stop = threading.Event()
        self._preview_region: tuple | None = None
        self._stopwatch = Stopwatch()
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
        context = _context(cfg.patch_context, self.settings.patch, self.view.spatial_shape)
        sampler = PatchSampler(self.window, model.spec.normalisation, tuple(p + 2 * context for p in self.settings.patch),
                               seed=cfg.seed, pairs=self.pairs)
        generator = torch.Generator().manual_seed(cfg.seed)
        if self._fresh_noise_model:  # start the noise parameters near the truth, not at a guess
            patches = sampler.batch(NOISE_INIT_PATCHES)[:, : self.view.channels]  # the target planes
            model.noise.initialise_from(torch.from_numpy(patches).to(self.device))
            self._fresh_noise_model = False
        optimiser = self._optimiser()
        validation, best = self._validation_set(), Best()
        if self._continued:  # Train more keeps the weights it started from unless it beats them on this set
            best.offer(model, validation.evaluate(model), 0, 0.0)
        schedule = Schedule(cfg.steps, cfg.time_budget_s)
        previews = Pacer(cfg.preview_every_s, PREVIEW_SHARE)
        validations = Pacer(cfg.validation_every_s, VALIDATION_SHARE,
                            every_steps=max(1, cfg.steps // VALIDATIONS_PER_RUN) if cfg.time_budget_s is None and cfg.steps else None)
        start, count, loss_value, validated_at = time.perf_counter(), 0, float("nan"), -1
        while (fraction := schedule.fraction(count, time.perf_counter() - start)) < 1 and not self._stop.is_set():
            schedule.set_lr(optimiser, fraction)
            with watch.time("data"):
                x, held = (torch.from_numpy(a).to(self.device) for a in _with_context(sampler.batch_and_heldout(self.settings.batch), context))
                x = x.contiguous(memory_format=model.memory_format)
                inputs, target, coords = blind_spot_input(model, x, generator, cfg.mask_percent, held)
            with watch.time("network"):
                loss_value = step(model, optimiser, model.precision, target, inputs, coords, held)
            count += 1
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"training diverged at step {count} (loss {loss_value}): "
                                         "lower the learning rate")
            event = self._event(count, time.perf_counter() - start, loss_value)
            if validations.due(event.elapsed_s, count):
                with watch.time("validation"):
                    self._validate(validation, best, count, event)
                validations.took(watch.last, time.perf_counter() - start)
                validated_at = count
                if cfg.until_converged and best.converged(event.elapsed_s):
                    self.converged_at = count
                    self._stop.set()
            if previews.due(event.elapsed_s, count):
                with watch.time("preview"):
                    event.preview_region, event.preview = self._preview()
                previews.took(watch.last, time.perf_counter() - start)
            yield event
        elapsed = time.perf_counter() - start
        if count and validated_at != count:
            self._validate(validation, best, count, self._event(count, elapsed, loss_value))
        best.restore(model)
        yield self._finish(count, elapsed, loss_value, best)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _validation_set(self) -> ValidationSet:
        """The held-out tiles; their noise level (the data's, or a known sigma) is HQ-SSL's V too (calibration.py)."""
        validation = ValidationSet(self.window, self.model.spec.normalisation, self.model.method, self.config.seed, sigma=self.config.sigma, device=self.device, pairs=self.pairs)
        if self.model.algorithm.has_uncertainty:
            self.model.spec = replace(self.model.spec, data_noise=validation.noise_line)
        return validation

    def _validate(self, validation: ValidationSet, best: Best, count: int, event: Progress) -> None:
        quality = validation.evaluate(self.model)
        best.offer(self.model, quality, count, event.elapsed_s)
        event.val_loss, event.estimated_psnr_gain_db, event.best_step = (
            quality.loss, quality.psnr_gain_db, best.step)
        event.estimated_psnr_gain_db_interval = quality.psnr_gain_db_interval

    def _optimiser(self) -> torch.optim.Optimizer:
        lr = self.settings.lr
        groups = [{"params": list(self.model.net.parameters()), "base_lr": lr}]
        noise_params = list(self.model.noise.parameters()) if self.model.noise is not None else []
        if noise_params:  # a known sigma has none
            groups.append({"params": noise_params, "base_lr": lr * NOISE_LR_FACTOR})
        return torch.optim.Adam(groups, lr=lr)

    def _finish(self, count: int, elapsed: float, loss_value: float, best: Best) -> Progress:
        """Record the run in the model's history and make the final event (best weights')."""
        model, quality = self.model, best.quality
        history = model.spec.history
        earlier = history.get("steps", 0)
        history.update(steps=earlier + count, seconds=round(history.get("seconds", 0) + elapsed, 2),
                       loss=loss_value, val_loss=None if quality is None else quality.loss,
                       best_step=earlier + best.step if quality and best.step else history.get("best_step"),
                       estimated_psnr_gain_db=_rounded(quality and quality.psnr_gain_db),
                       estimated_psnr_gain_db_interval=_rounded(quality and quality.psnr_gain_db_interval),
                       precision=model.precision.name)
        if model.noise is not None:
            model.spec = replace(model.spec, noise_params=self._noise_params())
        if quality is not None and quality.calibration is not None:  # the best weights' own scale, and why
            model.spec, history["uncertainty_note"] = replace(model.spec, uncertainty_scale=quality.calibration.scale), quality.calibration.note
        final = self._event(count, elapsed, loss_value)
        final.total, final.eta_s, final.done = count, 0.0, True
        if quality is not None:
            final.val_loss, final.best_step, final.estimated_psnr_gain_db = quality.loss, best.step, quality.psnr_gain_db
            final.estimated_psnr_gain_db_interval = quality.psnr_gain_db_interval
        return final

    def _event(self, count: int, elapsed: float, loss_value: float) -> Progress:
        cfg = self.config
        rate = count / elapsed if elapsed > 0 else 0.0
        if cfg.steps and (not cfg.time_budget_s or cfg.steps / max(rate, 1e-9) < cfg.time_budget_s):
            total, eta = cfg.steps, (cfg.steps - count) / max(rate, 1e-9)
        elif cfg.time_budget_s:
            total, eta = max(count, int(rate * cfg.time_budget_s)), max(0.0, cfg.time_budget_s - elapsed)
        else:  # until converged, uncapped: the end is not known (total 0, as Qt's busy bar)
            total, eta = 0, 0.0
        noise = self._noise_params() if self.model.noise is not None else None
        return Progress(count, total, elapsed, loss_value, steps_per_s=rate, eta_s=eta, noise_params=noise)

    def _noise_params(self) -> dict:
        norm = self.model.spec.normalisation
        return self.model.noise.describe(torch.tensor(norm.mean), torch.tensor(norm.std))

    def _preview(self):
        region = self._preview_region or central_region(self.image.shape, self.config.axes)
        return region, preview_of(self.model, self.image, self.config.axes, region)


def _context(wanted: int, patch: tuple[int, ...], spatial: tuple[int, ...]) -> int:
    """Context pixels on each side of a patch: as many as asked, as far as the image allows."""
    return max(0, min([wanted] + [(s - p) // 2 for p, s in zip(patch, spatial)]))


def _with_context(batch: tuple[np.ndarray, np.ndarray], context: int) -> tuple[np.ndarray, np.ndarray]:
    """The patches' outer `context` pixels are marked held out: seen, never a target, so the
    network learns from real surroundings instead of padding at the patch's edge."""
    patches, held = batch
    if context:
        inner = (slice(None), slice(None)) + (slice(context, -context),) * (held.ndim - 2)
        edge = np.ones_like(held)
        edge[inner] = False
        held = held | edge
    return patches, held


def _pairs(config: TrainConfig, image, target, view: StackView) -> Pairs | None:
    """N2N's second recordings: `target`, or the neighbouring frames of a stack of repeats."""
    if not methods.get(config.method).needs_pairs:
        if target is not None:
            paired = [m for m in methods.names() if methods.get(m).needs_pairs]
            raise ValueError(f"a second recording is for method {' or '.join(map(repr, paired))} (Noise2Noise), "
                             f"not {config.method!r}")
        return None
    if target is None:
        if not config.frames_are_repeats:
            raise ValueError("N2N needs a second recording of the same field (target=..., --target) "
                             "or a stack whose frames are repeats (frames_are_repeats=True)")
        return Pairs.of_frames(view)
    validate_second(target, image)
    second = StackView.of(target, config.axes, three_d=view.spatial_ndim == 3)
    return Pairs(windowed(second, view.axis, view.k, view.norm) if isinstance(view, PlaneWindow) else second)


def _choose_three_d(config: TrainConfig, model: Model | None, shape, scale, device: torch.device) -> tuple[bool, str]:
    """An explicit setting wins, then a continued model's layout, then the voxel anisotropy."""
    if model is not None and config.three_d is None:
        return model.spec.spatial_ndim == 3, "as the model was trained"
    if config.three_d is not None:
        if config.three_d and "Z" not in config.axes:
            raise ValueError(f"3D training needs a Z axis, axes are '{config.axes}'")
        return config.three_d, ("3D" if config.three_d else "slice by slice in 2D") + ", as set"
    return choose_three_d(config.axes, shape, scale, gpu=device.type != "cpu")


def train(image, config: TrainConfig | None = None, model: Model | None = None, target=None,
          **overrides) -> TrainingRun:
    """Start training on `image` (iterate the returned run to make progress).

    `model`: continue training an existing model ("train more"). `target`: N2N's second
    recording of the same field. `overrides` are TrainConfig fields, e.g.
    ``train(image, method="hqssl", time_budget_s=120)``.
    """
    config = replace(config or TrainConfig(), **overrides) if overrides else (config or TrainConfig())
    return TrainingRun(image, config, model, target)

"""What the widget's worker threads run: plain generators over the core, no Qt, no napari.

A job yields small events that the main thread turns into layer and widget changes:

    Started(run) -> [StepEstimate] -> Progress ... (core events) -> Predicting -> Result   (training)
    Predicting -> Result                                                     (apply a model)
    Failed(message) instead of the rest when anything goes wrong; NoSteps after a run of no steps

Errors cross the thread boundary as a `Failed` event, never as an exception: napari's
generator workers silently swallow a `RuntimeError` (torch's out-of-memory is one), and the
message a user needs ("use a smaller patch") is best written here, next to the cause.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ..core.config import TrainConfig
from ..core.preview import central_region

if TYPE_CHECKING:
    from ..core import training
# torch and the core's training modules are imported by the warm-up thread (`warm_up_torch`) and
# the workers: imported with the dock, they held napari's UI for seconds (docs/benchmarks.md)

LAZY_BYTES = 256 * 2**20  # results for sources larger than this (as float32) stay lazy


def wants_lazy_result(image, multiscale: bool = False) -> bool:
    """A lazy (dask) result for lazy sources (dask, zarr, ...), multiscale layers and sources
    over `LAZY_BYTES` as float32: each plane is then denoised when napari shows it."""
    return multiscale or not isinstance(image, np.ndarray) or image.size * 4 > LAZY_BYTES


def worker_threads() -> int:
    """CPU threads for torch in a worker: all cores but one, which stays with napari's UI
    (with every core busy, torch's threads wait on each other: docs/benchmarks.md, "Widget latency")."""
    import torch

    return max(1, torch.get_num_threads() - 1)


class Cancelled(Exception):
    """Raised inside a job when the widget asks it to give up (layer removed, widget closed)."""


@dataclass
class JobStatus:
    """Shared between the widget (main thread) and one job (worker thread)."""

    cancelled: threading.Event = field(default_factory=threading.Event)
    tiles_done: float = 0.0  # prediction progress (fractions within a batch), polled by the widget's timer
    tiles_total: int = 0
    predict_started: float | None = None  # time.monotonic() when the tiles were first counted

    def cancel(self) -> None:
        self.cancelled.set()

    def eta_s(self) -> float | None:
        """Seconds of prediction left at the rate so far; None until a first share is done."""
        if not self.tiles_done or self.predict_started is None:
            return None
        elapsed = time.monotonic() - self.predict_started
        return elapsed * (self.tiles_total - self.tiles_done) / self.tiles_done

    def _predict_progress(self, done: float, total: int) -> None:
        if self.predict_started is None:
            self.predict_started = time.monotonic()
        self.tiles_done, self.tiles_total = done, total
        if self.cancelled.is_set():
            raise Cancelled()


@dataclass
class Started:
    run: training.TrainingRun  # the main thread keeps it to call stop() and set_preview_region()


@dataclass
class StepEstimate:
    """Before a 3D run on the CPU trains: about how many seconds one of its steps will take."""

    step_s: float


def estimate_step_s(run) -> float:
    """A training step's seconds, from a forward pass of one patch, timed the second time (the
    first pays one-time costs): forward and backward cost about three forwards, for each patch
    of the batch. Taken before the run's clock starts, so it costs no budget."""
    import torch

    from ..core.device import torch_threads

    model = run.model
    x = torch.zeros((1, model.window_channels, *run.settings.patch), device=run.device)
    with torch_threads(run.config.num_threads), torch.no_grad():
        for _ in range(2):
            start = time.perf_counter()
            model.forward(x)
    return 3 * run.settings.batch * (time.perf_counter() - start)


@dataclass
class Predicting:
    """Training is over; the full image is being denoised."""


@dataclass
class Result:
    model: object
    method: str
    denoised: np.ndarray  # or a lazy dask array (see `predict_lazy`)
    uncertainty: np.ndarray | None = None
    steps: int = 0
    seconds: float = 0.0
    lazy: bool = False
    limits: tuple[float, float] | None = None  # display range (contrast limits) of the denoised layer
    uncertainty_limits: tuple[float, float] | None = None  # ...and of the uncertainty layer


@dataclass
class Failed:
    message: str


@dataclass
class NoSteps:
    """Training ended before its first step: an untrained network gives no result."""

    message: str = ("Training stopped before its first step, so there is no result: an untrained "
                    "network would only blur the image. Train again, for longer.")


def describe_error(err: BaseException, doing: str) -> str:
    """One message that says what went wrong and what to do about it."""
    text = str(err)
    if "out of memory" in text.lower() or type(err).__name__ == "OutOfMemoryError":
        return (f"Out of memory while {doing}: choose a smaller patch size or batch size under "
                "Advanced, or set the device to 'cpu'.")
    if isinstance(err, (ValueError, TypeError, FloatingPointError)):  # core messages say what to do
        return text
    return f"{doing.capitalize()} failed ({type(err).__name__}: {text})"


def display_range(image: np.ndarray, samples: int = 2**20) -> tuple[float, float]:
    """Contrast limits that show `image` well: its 0.1 and 99.9 percentiles (from at most
    `samples` evenly spaced pixels). A denoised image spans much less than its noisy source,
    whose limits would show it flat grey."""
    flat = np.asarray(image).ravel()
    low, high = np.percentile(flat[:: max(1, flat.size // samples)], [0.1, 99.9])
    return (float(low), float(high)) if high > low else (float(low), float(low) + 1.0)


def predict(model, image, axes: str, status: JobStatus, lazy: bool = False, second=None) -> Result:
    """The full prediction (and HQ-SSL's uncertainty) with display ranges for both, reporting
    tiles done through `status`; with `lazy`, dask arrays that denoise a plane (or volume)
    when it is read. `second` (N2N's second recording, not lazy): denoise both, give the mean."""
    from ..core.device import torch_threads
    from ..core.lazy import predict_lazy

    uncertain, history = model.algorithm.has_uncertainty, model.spec.history
    if lazy:
        out = predict_lazy(model, image, axes, return_uncertainty=uncertain)
        sample = _central_block(model, image, axes)
    else:
        with torch_threads(worker_threads()):
            out = model.predict(image, axes, return_uncertainty=uncertain, progress=status._predict_progress,
                                second=second)
        sample = out
    denoised, std = out if uncertain else (out, None)
    sample_denoised, sample_std = sample if uncertain else (sample, None)
    return Result(model, model.method, denoised, std, history.get("steps", 0), history.get("seconds", 0.0),
                  lazy, display_range(sample_denoised),
                  None if sample_std is None else (0.0, display_range(sample_std)[1]))


def _central_block(model, image, axes: str):
    """The prediction (and uncertainty) of a small central block of a lazy source, for display
    ranges: without them napari would compute whole planes of the layers just to pick a contrast."""
    from ..core.device import torch_threads

    spatial = "ZYX" if model.spec.spatial_ndim == 3 else "YX"
    block = list(central_region(image.shape, axes.upper(), side=128, spatial=spatial, keep_dims=True))
    k, along, planes = model.spec.context_planes, model.spec.context_axis, None
    if k and along in axes.upper():  # the central plane is read with its neighbour planes
        i, plane = axes.upper().index(along), block[axes.upper().index(along)].start
        lo, hi = max(0, plane - k), min(image.shape[i], plane + k + 1)
        block[i], planes = slice(lo, hi), (plane - lo, plane - lo + 1)
    with torch_threads(worker_threads()):
        return model.predict(image[tuple(block)], axes, return_uncertainty=model.algorithm.has_uncertainty,
                             planes=planes)


def train_job(image, config: TrainConfig, model, region: tuple | None, status: JobStatus,
              lazy: bool = False, target=None):
    """Train (or continue training `model`; N2N on `target`, the second recording), then denoise
    the whole image (or, with `lazy`, give a lazy result)."""
    from ..core import training

    try:
        run = training.train(image, config, model=model, target=target)
        run.set_preview_region(region)
        yield Started(run)
        if run.three_d and run.device.type == "cpu" and run.config.time_budget_s:  # minutes a step, maybe
            yield StepEstimate(estimate_step_s(run))
        steps = 0
        for event in run:
            yield event
            steps = event.step
            if status.cancelled.is_set():
                run.stop()
        if status.cancelled.is_set():
            return
        if steps == 0:
            yield NoSteps()
            return
        yield Predicting()
        yield predict(run.model, image, run.config.axes, status, lazy, second=None if lazy else run.second)
    except Cancelled:
        return
    except Exception as err:  # noqa: BLE001 - every error becomes a notification, see above
        yield Failed(describe_error(err, "training"))


def predict_job(model, image, axes: str, status: JobStatus, lazy: bool = False):
    """Apply a trained or loaded model to an image."""
    try:
        yield Predicting()
        yield predict(model, image, axes, status, lazy)
    except Cancelled:
        return
    except Exception as err:  # noqa: BLE001
        yield Failed(describe_error(err, "applying the model"))

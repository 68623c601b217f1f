"""One-call denoising: train on the image, then predict it."""

from __future__ import annotations

import math

from .core.config import TrainConfig
from .core.training import train


def denoise(image, method: str = "n2v", axes: str | None = None, time_budget_s: float | None = 60.0,
            seed: int = 0, *, return_uncertainty: bool = False, target=None, **settings):
    """Denoise `image` by self-supervised training on itself.

    Returns float32 in the image's units and shape (and, for HQ-SSL with
    `return_uncertainty`, each pixel's typical error as a second array, docs/methods.md). `target`: N2N's
    second recording of the same field; the result is the mean of both denoised. Other
    keyword arguments are `TrainConfig` fields (steps, noise, sigma, patch_size, device, ...).
    """
    image = as_image(image)
    config = TrainConfig(method=method, axes=axes, time_budget_s=time_budget_s, seed=seed,
                         preview_every_s=None, **settings)
    run = train(image, config, target=target)
    for progress in run:
        pass
    if progress.step == 0:
        raise ValueError(f"training made no step in {progress.elapsed_s:.2g} s (a busy machine, or a large "
                         "image): give a longer time_budget_s or steps=N; the untrained network's output "
                         "would be meaningless")
    return run.model.predict(image, run.config.axes, return_uncertainty=return_uncertainty, second=run.second)


def as_image(image):
    """Arrays as the core takes them: a torch tensor becomes numpy; unknown dask chunks are refused."""
    if type(image).__module__.startswith("torch"):
        return image.detach().cpu().numpy()
    shape = getattr(image, "shape", None)
    if shape is not None and any(isinstance(s, float) and math.isnan(s) for s in shape):
        raise ValueError(f"the image's shape is unknown ({shape}: a dask array with unknown chunk sizes): "
                         "call image.compute_chunk_sizes() first")
    return image

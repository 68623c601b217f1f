"""One-call denoising: train on the image, then predict it."""

from __future__ import annotations


from .core.config import TrainConfig
from .core.training import train


def denoise(image, method: str = "n2v", axes: str | None = None, time_budget_s: float | None = 60.0,
            seed: int = 0, *, return_uncertainty: bool = False, **settings):
    """Denoise `image` by self-supervised training on itself.

    Returns float32 in the image's units and shape (and, for HQ-SSL with
    `return_uncertainty`, the posterior standard deviation as a second array). Other
    keyword arguments are `TrainConfig` fields (steps, noise, sigma, patch_size, device, ...).
    """
    config = TrainConfig(method=method, axes=axes, time_budget_s=time_budget_s, seed=seed,
                         preview_every_s=None, **settings)
    run = train(image, config)
    for _ in run:
        pass
    return run.model.predict(image, run.config.axes, return_uncertainty=return_uncertainty)

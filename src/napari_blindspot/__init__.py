"""napari-blindspot: self-supervised denoising (N2V, N2V2, HQ-SSL) of one noisy stack.

    import napari_blindspot as nb
    out = nb.denoise(image, method="hqssl", axes="YX", time_budget_s=60, seed=0)

Nothing heavy (torch, napari) is imported until it is used.
"""

from __future__ import annotations

from .core import __version__

__all__ = ["TrainConfig", "Progress", "Model", "denoise", "train", "load_model", "__version__"]

_LAZY = {
    "TrainConfig": "core.config",
    "Progress": "core.training",
    "TrainingRun": "core.training",
    "train": "core.training",
    "Model": "core.model",
    "load_model": "core.model",
    "denoise": "api",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'napari_blindspot' has no attribute {name!r}")

"""Patch, batch, learning rate and network by method, layout and device; a user's setting wins.

Each method's values live on its object (`methods/`); every one was chosen by measurement:
docs/benchmarks.md ("Defaults") has the runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import methods
from .config import TrainConfig

# Prediction tiles and their overlap margin per spatial axis.
_TILES = {2: ((512, 512), (32, 32)), 3: ((64, 128, 128), (16, 16, 16))}


@dataclass(frozen=True)
class Settings:
    """The defaults filled in for one run."""

    patch: tuple[int, ...]
    batch: int
    lr: float
    network: dict


def _fit_patch(default: tuple[int, ...], spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Shrink a default patch to fit the image (multiples of 8), keeping squares square."""
    fitted = tuple(min(p, s // 8 * 8) for p, s in zip(default, spatial))
    if len(set(default)) == 1:  # HQ-SSL's rotations need square/cubic patches
        fitted = (min(fitted),) * len(fitted)
    return fitted


def settings(config: TrainConfig, spatial: tuple[int, ...], device: torch.device, channels: int = 1) -> Settings:
    """Fill in the method's defaults (`Method.patch_batch`, `default_network`, ...) for this image and device."""
    gpu, ndim, method = device.type != "cpu", len(spatial), methods.get(config.method)
    patch, batch = method.patch_batch[ndim, gpu]
    batch = config.batch_size or batch
    if config.patch_size is not None:
        patch = method.patch_of_side(config.patch_size, ndim)
    else:
        patch = _fit_patch(patch, spatial)
    network = method.default_network(config.network_preset, gpu)
    lr = config.learning_rate or method.default_lr(gpu)
    if config.features is not None:
        network["features"] = config.features
    if config.depth is not None:
        network["depth"] = config.depth
    else:
        network["depth"] = method.default_depth(network["depth"], patch)
    network["groups"] = channels if config.channels == "independent" else 1
    return Settings(patch, batch, lr, network)


def prediction_tiles(spatial_ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Tile and overlap margin per spatial axis."""
    return _TILES[spatial_ndim]

"""Patch, batch, learning rate and network by method, layout and device; a user's setting wins.

Every value here was chosen by measurement: docs/benchmarks.md ("Defaults") has the runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .blindspot import PRESETS
from .config import TrainConfig

# (family, spatial dims, GPU) -> (patch, batch). 3D convolutions cost far more per voxel on a
# CPU, so CPU 3D patches are small; a GPU step is launch-bound, so GPU batches are large.
_PATCH_BATCH = {
    ("n2v", 2, False): ((64, 64), 16), ("n2v", 2, True): ((64, 64), 64),
    ("n2v", 3, False): ((16, 32, 32), 8), ("n2v", 3, True): ((32, 64, 64), 16),
    ("hqssl", 2, False): ((64, 64), 8), ("hqssl", 2, True): ((64, 64), 16),
    ("hqssl", 3, False): ((24, 24, 24), 4), ("hqssl", 3, True): ((32, 32, 32), 8),
}
# HQ-SSL's UNet halves the patch at each level; a bottleneck of 1-2 px lost PSNR quickly
# (docs/benchmarks.md, "Defaults"), so the default depth keeps at least this many pixels there.
HQSSL_MIN_BOTTLENECK = 4
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
    """Fill in the defaults for this method, image and device."""
    gpu, ndim = device.type != "cpu", len(spatial)
    family = "hqssl" if config.method == "hqssl" else "n2v"
    patch, batch = _PATCH_BATCH[family, ndim, gpu]
    batch = config.batch_size or batch
    if config.patch_size is not None:  # N2V in 3D: half as deep as wide
        side = config.patch_size
        patch = (side,) * ndim if family == "hqssl" or ndim == 2 else (max(8, side // 2), side, side)
    else:
        patch = _fit_patch(patch, spatial)
    if family == "hqssl":
        network = dict(PRESETS[config.network_preset or ("gpu" if gpu else "cpu")])
        lr = config.learning_rate or 2e-3
    else:
        network = {"depth": 2, "features": 32 if gpu else 16, "batch_norm": False}
        lr = config.learning_rate or (4e-4 if gpu else 2e-3)
    if config.features is not None:
        network["features"] = config.features
    if config.depth is not None:
        network["depth"] = config.depth
    elif family == "hqssl":
        network["depth"] = max(1, min(network["depth"], int(math.log2(min(patch) / HQSSL_MIN_BOTTLENECK))))
    network["groups"] = channels if config.channels == "independent" else 1
    return Settings(patch, batch, lr, network)


def prediction_tiles(spatial_ndim: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Tile and overlap margin per spatial axis."""
    return _TILES[spatial_ndim]

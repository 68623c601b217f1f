"""Sample data: noisy microscopy images made from data that scikit-image ships, with seeded
camera-like noise (Poisson shot noise plus Gaussian read noise), so no download is needed."""

from __future__ import annotations

import numpy as np

PHOTONS_AT_PEAK = 30.0  # a dim fluorescence image: few photons per pixel
READ_NOISE = 2.0  # camera read noise, in photo-electrons
OFFSET = 100.0  # camera baseline


def _camera(clean: np.ndarray, seed: int) -> np.ndarray:
    """Simulated camera counts: offset + Poisson(clean photons) + Gaussian read noise."""
    rng = np.random.default_rng(seed)
    photons = clean / clean.max() * PHOTONS_AT_PEAK
    counts = rng.poisson(photons) + rng.normal(0.0, READ_NOISE, clean.shape) + OFFSET
    return np.clip(np.round(counts), 0, None).astype(np.uint16)


def noisy_cells_2d():
    """scikit-image's `cell` (a fluorescence micrograph) at ~30 photons at peak."""
    from skimage import data

    return [(_camera(data.cell().astype(np.float64), seed=0),
             {"name": "noisy cells", "colormap": "gray"}, "image")]


def nuclei_3d(shape=(48, 160, 160), seed: int = 0) -> np.ndarray:
    """A clean synthetic 3D stack of blurred round blobs (scikit-image's binary_blobs)."""
    from scipy import ndimage
    from skimage import data

    side = max(shape)
    blobs = data.binary_blobs(length=side, n_dim=3, volume_fraction=0.2, blob_size_fraction=0.12,
                              rng=seed)[: shape[0], : shape[1], : shape[2]]
    return ndimage.gaussian_filter(blobs.astype(np.float64), sigma=(1.5, 1.0, 1.0))


def noisy_nuclei_3d():
    """A Z stack of blurred blobs at ~30 photons at peak, with anisotropic voxels."""
    return [(_camera(nuclei_3d(), seed=1),
             {"name": "noisy nuclei 3D", "colormap": "gray", "scale": (2.0, 1.0, 1.0)}, "image")]

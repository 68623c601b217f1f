"""A simulated fluorescence micrograph with its ground truth: a field of textured nuclei of
varied size and brightness, blurred by a Gaussian PSF and recorded by a camera with
Poisson-Gaussian noise on a baseline. numpy and scipy only, seeded, no download.

    noisy, clean = simulate_fluorescence((512, 512), seed=0)
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

NUCLEUS_RADIUS = 11.0  # mean nucleus radius, in pixels (physical units when `spacing` is given)
AREA_FRACTION = 0.3  # share of the field covered by nuclei
BACKGROUND = 0.03  # autofluorescence, relative to a typical nucleus
HAZE = 0.12  # out-of-focus light, relative to the nuclei it comes from


def simulate_fluorescence(shape=(512, 512), seed: int = 0, *, photons: float = 10.0,
                          read_noise: float = 2.0, offset: float = 100.0, gain: float = 1.0,
                          spacing=None, psf_sigma: float = 1.2, recordings: int = 1):
    """A noisy camera image of a simulated field of nuclei, and its noise-free expected value.

    `shape`: (Y, X) or (Z, Y, X). `spacing`: the voxel size per axis in pixel units (e.g.
    (2, 1, 1) for Z steps of two pixels); nuclei are round in physical space and the PSF is
    `psf_sigma` pixels wide in the plane and 3x that along Z. `photons`: expected
    photo-electrons in a typical nucleus pixel (bright nuclei and foci reach a few times that).
    `recordings` > 1 gives that many independent noise draws of the same field (for
    Noise2Noise), stacked on a leading axis.

    Noise statistics, per pixel, independent across pixels and recordings:

        p      = photons * field                      expected photo-electrons
        noisy  = round(offset + gain * (Poisson(p) + Normal(0, read_noise^2)))   (uint16)
        clean  = offset + gain * p                    = E[noisy]   (float32, same units)
        Var[noisy] = gain * (clean - offset) + gain^2 * read_noise^2 (+ 1/12 from rounding)

    i.e. Poisson-Gaussian noise with alpha = gain and beta = (gain * read_noise)^2 on a baseline
    `offset`. Values are clipped to 0..65535 (out of reach with the defaults).
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) not in (2, 3) or min(shape) < 8:
        raise ValueError(f"shape {shape} is not a 2D (Y, X) or 3D (Z, Y, X) shape of at least 8 "
                         "pixels per axis: try (512, 512) or (48, 192, 192)")
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, float)
    if spacing.shape != (len(shape),) or np.any(spacing <= 0):
        raise ValueError(f"spacing {tuple(spacing)} needs one positive voxel size per axis of {shape}")
    if recordings < 1 or photons < 0:
        raise ValueError(f"recordings={recordings}, photons={photons}: ask for at least one recording "
                         "and a photon count of 0 or more")
    field = fluorescence_field(shape, seed, spacing=spacing, psf_sigma=psf_sigma)
    electrons = photons * field
    rngs = [np.random.default_rng([seed, 1, k]) for k in range(recordings)]
    noisy = np.stack([_camera(electrons, rng, read_noise, offset, gain) for rng in rngs])
    clean = (offset + gain * electrons).astype(np.float32)
    return (noisy if recordings > 1 else noisy[0]), clean


def fluorescence_field(shape, seed: int = 0, *, spacing=None, psf_sigma: float = 1.2) -> np.ndarray:
    """The noise-free field (float64), scaled so that a typical nucleus pixel is 1 (the median over
    the nuclei); bright nuclei and foci reach a few times that, the background a few hundredths."""
    rng = np.random.default_rng([seed, 0])
    spacing = np.ones(len(shape)) if spacing is None else np.asarray(spacing, float)
    extent = np.asarray(shape) * spacing
    nuclei = _nuclei(shape, spacing, _place(rng, extent), rng)
    chromatin = 1 + 0.3 * _smooth_noise(rng, shape, 1.0 / spacing) + 0.25 * _smooth_noise(rng, shape, 3.0 / spacing)
    stained = nuclei * np.clip(chromatin, 0.2, None) + _foci(rng, nuclei, spacing)
    haze = HAZE * ndimage.gaussian_filter(stained, 8.0 / spacing, truncate=3.0)
    background = BACKGROUND * np.exp(0.3 * _smooth_noise(rng, shape, extent.max() / 6 / spacing))
    psf = psf_sigma / spacing * np.where(np.arange(len(shape)) < len(shape) - 2, 3.0, 1.0)  # 3x longer along Z
    field = ndimage.gaussian_filter(stained + haze, psf, truncate=3.0) + background
    return field / (np.median(field[nuclei > 0]) if np.any(nuclei > 0) else field.max())


def _ball(ndim: int) -> float:
    """Area (2D) or volume (3D) of a nucleus of mean radius."""
    return np.pi * NUCLEUS_RADIUS ** 2 if ndim == 2 else 4 / 3 * np.pi * NUCLEUS_RADIUS ** 3


def _place(rng, extent: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Centres and semi-axes of nuclei: lognormal sizes, little overlap, denser in some places."""
    ndim = len(extent)
    wanted = max(1, int(AREA_FRACTION * np.prod(extent) / _ball(ndim)))
    crowding = rng.uniform(0, 1, (3, ndim)) * extent  # denser near a few points, like a colony
    centres, radii, axes = [], [], []
    for _ in range(20 * wanted):
        if len(centres) == wanted:
            break
        centre = rng.uniform(0, 1, ndim) * extent
        nearest = np.min(np.linalg.norm(crowding - centre, axis=1)) / extent.max()
        if rng.uniform() > 0.25 + np.exp(-((nearest / 0.3) ** 2)):
            continue
        radius = NUCLEUS_RADIUS * np.exp(rng.normal(0, 0.3))
        distances = np.linalg.norm(np.array(centres) - centre, axis=1) if centres else np.inf
        if np.any(distances < 0.85 * (np.array(radii) + radius)):  # touching, barely overlapping
            continue
        centres.append(centre)
        radii.append(radius)
        axes.append(radius * np.exp(rng.normal(0, 0.15, ndim)))
    return list(zip(centres, axes))


def _nuclei(shape, spacing, placed, rng) -> np.ndarray:
    """Each nucleus: a rotated ellipsoid, a wobbly border, a slightly domed and varied brightness."""
    out = np.zeros(shape)
    wobble = _smooth_noise(rng, shape, 4.0 / spacing)
    for centre, semi in placed:
        reach = 1.3 * semi.max()
        lo = np.maximum(np.floor((centre - reach) / spacing), 0).astype(int)
        hi = np.minimum(np.ceil((centre + reach) / spacing) + 1, shape).astype(int)
        if np.any(hi <= lo):
            continue
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        offsets = np.ix_(*[np.arange(a, b) * s - c for a, b, s, c in zip(lo, hi, spacing, centre)])
        rotation, _ = np.linalg.qr(rng.normal(size=(len(shape), len(shape))))
        rho2 = sum(sum(d * rotation[i, j] for i, d in enumerate(offsets)) ** 2 / semi[j] ** 2
                   for j in range(len(shape)))
        rho = np.sqrt(rho2) / (1 + 0.1 * wobble[box])
        inside = np.clip((1 - rho) * semi.mean() + 0.5, 0, 1)  # a one-pixel soft edge
        bright = np.exp(rng.normal(0, 0.35)) * (1.6 if rng.uniform() < 0.05 else 1.0)  # a few mitotic, condensed
        out[box] = np.maximum(out[box], bright * inside * (0.8 + 0.2 * np.clip(1 - rho ** 2, 0, 1)))
    return out


def _foci(rng, nuclei: np.ndarray, spacing) -> np.ndarray:
    """Small bright spots inside nuclei (chromocentres), about three per nucleus."""
    candidates = np.flatnonzero(nuclei.ravel() > 0.3)
    n = min(len(candidates), int(3 * nuclei.size * np.prod(spacing) * AREA_FRACTION / _ball(nuclei.ndim)))
    spots = np.zeros(nuclei.size)
    chosen = rng.choice(candidates, n, replace=False) if n else []
    spots[chosen] = nuclei.ravel()[chosen] * rng.uniform(0.3, 0.8, n)
    sigma = 1.2 / spacing
    peak = (2 * np.pi) ** (nuclei.ndim / 2) * np.prod(sigma)  # a blurred spot keeps its height
    return ndimage.gaussian_filter(spots.reshape(nuclei.shape), sigma) * peak


def _smooth_noise(rng, shape, sigma) -> np.ndarray:
    """White noise smoothed by a Gaussian of `sigma` pixels per axis (in Fourier space: any sigma
    costs the same), scaled to unit standard deviation."""
    white = np.fft.rfftn(rng.normal(size=shape))
    sigma = np.broadcast_to(sigma, (len(shape),))
    smooth = np.fft.irfftn(ndimage.fourier_gaussian(white, sigma, n=shape[-1]), shape, axes=range(len(shape)))
    return smooth / max(smooth.std(), 1e-12)


def _camera(electrons: np.ndarray, rng, read_noise: float, offset: float, gain: float) -> np.ndarray:
    """Camera counts: shot noise on the photo-electrons, read noise, gain, baseline, whole counts."""
    counts = offset + gain * (rng.poisson(electrons) + rng.normal(0.0, read_noise, electrons.shape))
    return np.clip(np.round(counts), 0, np.iinfo(np.uint16).max).astype(np.uint16)

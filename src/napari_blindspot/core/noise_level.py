"""The noise level of noisy data, measured from the data: a noise-level function var = a mu + b.

One estimator for every method (docs/methods.md, "Noise level"): Gaussian noise is a = 0,
Poisson b = 0, Poisson-Gaussian both. Following Foi et al. (2008), the finest diagonal Haar
detail of 2x2(x2) blocks cancels signal that is locally linear and keeps the noise; it is
grouped into blocks of `BLOCK`^ndim details, and in each intensity bin only the flattest blocks
(the `KEEP` fraction of lowest detail energy) are kept, so texture and edges leak in little.
The bias of keeping the lowest energies is known for noise alone (a chi-square truncated at
its KEEP quantile) and divided out. The uncertainty of the result comes from a bootstrap over
blocks and from how far the estimate moves when half as many blocks are kept (texture leaking).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

BLOCK = 6  # details per block side: 6x6 in 2D
KEEP = 0.3  # the fraction of flattest blocks kept per intensity bin
BINS = 8
BOOTSTRAP = 24


@dataclass
class NoiseLevel:
    """var = slope * mu + offset per channel, in the data's units; `rel_stderr`: the relative
    standard error of the mean noise variance; `means`, `variances`: (bins, C) measured points."""

    slope: np.ndarray
    offset: np.ndarray
    rel_stderr: np.ndarray
    means: np.ndarray
    variances: np.ndarray

    def variance(self, mu: np.ndarray, channel_axis: int = 1) -> np.ndarray:
        """The noise variance of pixels of intensity mu (channels along `channel_axis`)."""
        shape = [1] * np.ndim(mu)
        shape[channel_axis] = -1
        return self.slope.reshape(shape) * mu + self.offset.reshape(shape)


def _detail(z: np.ndarray):
    """Second differences along every axis ([1, -2, 1] per axis, cancelling any quadratic signal),
    scaled to keep the noise variance, and the data they are centred on, of (C, *spatial) data."""
    detail, ndim = z, z.ndim - 1
    for axis in range(1, ndim + 1):
        n = detail.shape[axis]
        take = lambda a, b: detail[(slice(None),) * axis + (slice(a, n - b),)]
        detail = take(0, 2) - 2 * take(1, 1) + take(2, 0)
    centre = z[(slice(None),) + (slice(1, -1),) * ndim]
    return detail / math.sqrt(6.0**ndim), centre


def _blocks(a: np.ndarray, size: int) -> np.ndarray:
    """(C, *spatial) -> (C, n_blocks, size^ndim), whole blocks only."""
    ndim = a.ndim - 1
    a = a[(slice(None),) + tuple(slice(0, s // size * size) for s in a.shape[1:])]
    shape = [a.shape[0]]
    for s in a.shape[1:]:
        shape += [s // size, size]
    a = a.reshape(shape).transpose([0, *range(1, 2 * ndim, 2), *range(2, 2 * ndim + 1, 2)])
    return a.reshape(a.shape[0], -1, size**ndim)


def _flat_variance(energy: np.ndarray, ndim: int, keep: float) -> float:
    """Noise variance from block energies (mean squared detail of k details): the mean of the
    lowest `keep` fraction, divided by what that mean is for noise alone (chi-square, k dof)."""
    n = max(1, int(round(keep * energy.size)))
    return float(np.partition(energy, n - 1)[:n].mean() / _calibration(ndim, keep))


@functools.lru_cache
def _calibration(ndim: int, keep: float) -> float:
    """The mean of the lowest `keep` block energies of unit white noise (the filter correlates
    neighbouring details, so no textbook distribution holds): measured once, seeded."""
    noise = np.random.default_rng(0).standard_normal((1,) + (1024 if ndim == 2 else 96,) * ndim)
    energy = (_blocks(_detail(noise)[0], BLOCK)[0] ** 2).mean(1)
    n = max(1, int(round(keep * energy.size)))
    return float(np.partition(energy, n - 1)[:n].mean())


def _per_bin(energy, mean, ndim, keep, bins):
    order = np.argsort(mean, kind="stable")
    parts = np.array_split(order, bins)
    return (np.array([np.median(mean[p]) for p in parts]),
            np.array([_flat_variance(energy[p], ndim, keep) for p in parts]))


def _fit(mu: np.ndarray, var: np.ndarray, signal_dependent: bool) -> tuple[float, float]:
    """Least squares var = a mu + b, each bin weighted by the fitted line's inverse (every bin's
    variance is known to about the same relative error; weights from the measured values would
    favour the bins that came out low); a >= 0 (noise does not fall with intensity)."""
    if not signal_dependent or np.ptp(mu) == 0:
        return 0.0, float(var.mean())
    a, b = np.polyfit(mu, var, 1)
    w = 1 / np.clip(a * mu + b, var.mean() * 1e-3, None)
    a, b = np.linalg.lstsq(np.stack([mu * w, w], 1), var * w, rcond=None)[0]
    if a < 0:
        return 0.0, float(var.mean())
    return float(a), float(b)


def estimate_noise_level(z: np.ndarray, signal_dependent: bool = True, seed: int = 0) -> NoiseLevel:
    """Noise-level function of noisy (N, C, *spatial) data; `signal_dependent=False` fits a
    constant (Gaussian noise)."""
    z = np.asarray(z, dtype=np.float64)
    channels, ndim = z.shape[1], z.ndim - 2
    rng = np.random.default_rng(seed)
    slope, offset, rel, means, variances = [], [], [], [], []
    for c in range(channels):
        parts = [_detail(s[c : c + 1]) for s in z]
        energy = np.concatenate([(_blocks(d, BLOCK)[0] ** 2).mean(1) for d, _ in parts])
        mean = np.concatenate([_blocks(m, BLOCK)[0].mean(1) for _, m in parts])
        bins = max(1, min(BINS, energy.size // 64))
        mu, var = _per_bin(energy, mean, ndim, KEEP, bins)
        a, b = _fit(mu, var, signal_dependent)
        level = a * mean.mean() + b
        boot = []
        for _ in range(BOOTSTRAP):
            pick = rng.integers(0, energy.size, energy.size)
            a_, b_ = _fit(*_per_bin(energy[pick], mean[pick], ndim, KEEP, bins), signal_dependent)
            boot.append(a_ * mean.mean() + b_)
        a_h, b_h = _fit(*_per_bin(energy, mean, ndim, KEEP / 2, bins), signal_dependent)
        leak = abs(a_h * mean.mean() + b_h - level)  # texture leaking into the kept blocks
        rel.append(math.hypot(np.std(boot), leak) / max(level, 1e-30))
        slope.append(a), offset.append(b), means.append(mu), variances.append(var)
    return NoiseLevel(np.array(slope), np.array(offset), np.array(rel), np.stack(means, 1), np.stack(variances, 1))

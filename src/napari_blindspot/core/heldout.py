"""Held-out pixels: a fixed, seeded ~1.5 % of pixel positions that are never a training target.

They still serve as context for other pixels (memorising a pixel's noise needs it as a
target), so a loss on them measures what the model does on pixels it has not fitted. The
validation set is a few tiles of the size prediction uses, so it also measures what the user
gets (full-image context, not patch borders).

Quality without clean data (Noise2Self; docs/methods.md, "Held-out pixels"): for an output f
that does not see the pixel y_p = x_p + n_p, E[(f_p - y_p)^2] = E[(f_p - x_p)^2] + E[var n_p].
HQ-SSL's posterior mean x_hat = w y + (1 - w) mu with w = s_x^2 / (s_x^2 + s_n^2) uses y_p
itself; with mu and w independent of n_p, E[(x_hat - x)^2] = w^2 s_n^2 + (1 - w)^2 (E[(mu - y)^2] - s_n^2).
The PSNR gain over the input is 10 log10(E[var n] / MSE): the input's MSE is the noise variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import hqssl
from .data import Normalisation, StackView
from .defaults import prediction_tiles
from .masking import replace_pixels

HELDOUT_FRACTION = 0.015
VALIDATION_PIXELS = 2**19  # at most this many pixels per validation tile, to bound its cost
_MIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """A well-mixed 64-bit hash of each integer (SplitMix64's finaliser)."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)).astype(np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _MIX[0]
    x = (x ^ (x >> np.uint64(27))) * _MIX[1]
    return x ^ (x >> np.uint64(31))


def heldout_mask(sample: int, region: tuple[slice, ...], spatial_shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Which pixels of `region` of flat sample `sample` are held out: a bool array of the
    region's shape, the same whatever patch or tile the pixel is read in."""
    linear = np.full((1,) * len(region), sample, dtype=np.uint64)
    with np.errstate(over="ignore"):  # the hash wraps around by design
        for axis, (r, size) in enumerate(zip(region, spatial_shape)):
            along = np.arange(r.start, r.stop, dtype=np.uint64).reshape([-1 if a == axis else 1 for a in range(len(region))])
            linear = linear * np.uint64(size) + along
        keyed = _splitmix64(linear ^ _splitmix64(np.array([seed], np.uint64)))
    return keyed < np.uint64(int(HELDOUT_FRACTION * 2.0**64))


@dataclass
class Quality:
    """What a validation measured, in normalised units (noise_var: the mean noise variance;
    mse_stderr: the standard error of `mse` from the number of held-out pixels)."""

    loss: float
    mse: float
    noise_var: float
    mse_stderr: float = 0.0

    @property
    def psnr_gain_db(self) -> float:
        """Estimated PSNR of the output minus that of the input, against the clean image. An
        MSE below its own standard error cannot be told from it: the gain is then a lower bound."""
        return 10 * math.log10(self.noise_var / max(self.mse, self.mse_stderr, 1e-6 * self.noise_var))


def estimate_noise_variance(z: np.ndarray) -> np.ndarray:
    """Mean noise variance per channel of noisy ``(N, C, *spatial)`` data.

    The finest diagonal wavelet detail of 2x2(x2) blocks cancels smooth signal and keeps
    the mean noise variance of the block; its robust variance ((1.4826 MAD)^2) per intensity bin,
    averaged over equally full bins, is the mean over pixels (edges are outliers to the MAD).
    """
    ndim = z.ndim - 2
    z = z[(...,) + tuple(slice(0, s // 2 * 2) for s in z.shape[2:])].astype(np.float64)
    detail, mean = np.zeros_like(z[(...,) + (slice(None, None, 2),) * ndim]), 0.0
    for corner in np.ndindex(*(2,) * ndim):
        part = z[(...,) + tuple(slice(c, None, 2) for c in corner)]
        detail = detail + (-1) ** sum(corner) * part
        mean = mean + part
    detail /= math.sqrt(2**ndim)
    variances = []
    for c in range(z.shape[1]):
        d, m = detail[:, c].ravel(), mean[:, c].ravel()
        bins = np.array_split(d[np.argsort(m, kind="stable")], 16)
        variances.append(np.mean([(1.4826 * np.median(np.abs(b - np.median(b)))) ** 2 for b in bins]))
    return np.asarray(variances)


class ValidationSet:
    """A few fixed prediction-size tiles and their held-out pixels, for the held-out loss.

    For N2N (`pairs`), the input is the first recording and the target the second: the output
    never sees the target's noise, so the same estimate holds with the second's noise level,
    which two recordings give pixel by pixel without a model: E[(a - b)^2] / 2 (equal noise).
    A `PlaneWindow` view gives each tile its neighbour planes; targets are the target plane's."""

    def __init__(self, view: StackView, norm: Normalisation, method: str, seed: int = 0,
                 sigma: float | None = None, device="cpu", pairs=None):
        tile = list(min(t, s) for t, s in zip(prediction_tiles(view.spatial_ndim)[0], view.spatial_shape))
        while math.prod(tile) > VALIDATION_PIXELS:
            tile[tile.index(max(tile))] //= 2
        rng = np.random.default_rng([seed, 7])
        places = set()
        total = view.n_samples * math.prod(view.spatial_shape)
        for _ in range(max(1, min(VALIDATION_PIXELS, total // 8) // math.prod(tile))):  # read little of a big stack
            start = tuple(int(rng.integers(0, s - t + 1)) for s, t in zip(view.spatial_shape, tile))
            places.add((int(rng.integers(view.n_samples)), start))
        tiles, seconds, held = [], [], []
        for sample, start in sorted(places):
            region = tuple(slice(a, a + t) for a, t in zip(start, tile))
            tiles.append(norm.apply(view.read(sample, region)))
            if pairs is not None:  # N2N: the other recording is the target
                seconds.append(norm.apply(pairs.view.read(pairs.partner(sample), region)))
            held.append(heldout_mask(sample, region, view.spatial_shape, seed)[None])
        # with neighbour planes (window.py) a tile holds its window: the target plane's channels first
        channels = view.channels
        self.inputs = torch.from_numpy(np.stack(tiles)).to(device)
        self.targets = self.inputs[:, :channels]
        if seconds:
            self.targets = torch.from_numpy(np.stack(seconds)[:, :channels]).to(device)
        self.held = torch.from_numpy(np.stack(held)).to(device)
        self.method = method
        if method in ("n2v", "n2v2"):  # N2V's output sees its pixel: hide the held-out ones, as in training
            coords = torch.nonzero(self.held[:, 0])
            generator = torch.Generator().manual_seed(seed)
            hidden = replace_pixels(self.targets, coords, generator, median=method == "n2v2")
            self.inputs = torch.cat([hidden, self.inputs[:, channels:]], dim=1)  # neighbours keep their pixels
        self.pair_var = (self.inputs[:, :channels] - self.targets).double() ** 2 / 2 if seconds else None
        if sigma is not None:  # a known Gaussian sigma, in input units
            self.noise_var = torch.tensor([(sigma / s) ** 2 for s in norm.std], dtype=torch.float64)
        else:
            self.noise_var = torch.from_numpy(estimate_noise_variance(self.targets.cpu().numpy()))

    @torch.no_grad()
    def evaluate(self, model) -> Quality:
        """Held-out loss (the training loss on held-out pixels), estimated MSE and noise variance."""
        model.net.eval()
        totals = torch.zeros(4, dtype=torch.float64)
        count = 0
        for i in range(len(self.targets)):
            y = self.targets[i : i + 1].double()
            out = model.net(self.inputs[i : i + 1].contiguous(memory_format=model.memory_format)).double()
            held = self.held[i : i + 1].expand_as(y)
            if self.method == "hqssl":
                mu, prior_var = hqssl.prior(out, y.shape[1], model.net.groups)
                noise_var = model.noise.variance(mu)
                total = prior_var + noise_var
                loss = (y - mu) ** 2 / total + torch.log(total)
                w = prior_var / total
                mse = w**2 * noise_var + (1 - w) ** 2 * ((mu - y) ** 2 - noise_var)
            else:
                noise_var = (self.pair_var[i : i + 1] if self.pair_var is not None else
                             self.noise_var.to(y.device).reshape(1, -1, *([1] * (y.dim() - 2))).expand_as(y))
                loss = (out - y) ** 2
                mse = loss - noise_var
            totals += torch.stack([loss[held].sum(), mse[held].sum(), noise_var[held].sum(),
                                   (mse[held] ** 2).sum()]).cpu()
            count += int(held.sum())
        loss, mse, noise_var, mse_squares = (totals / max(count, 1)).tolist()
        return Quality(loss, mse, noise_var, math.sqrt(max(mse_squares - mse**2, 0.0) / max(count, 1)))

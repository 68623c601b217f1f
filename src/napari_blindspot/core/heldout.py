"""Held-out pixels: a fixed, seeded ~1.5 % of pixel positions that are never a training target.

They still serve as context for other pixels (memorising a pixel's noise needs it as a
target), so a loss on them measures what the model does on pixels it has not fitted. The
validation set is a few tiles of the size prediction uses, so it also measures what the user
gets (full-image context, not patch borders).

Quality without clean data (Noise2Self; docs/methods.md, "Held-out pixels"): for an output f
that does not see the pixel y_p = x_p + n_p, E[(f_p - y_p)^2] = E[(f_p - x_p)^2] + E[var n_p].
HQ-SSL's posterior mean x_hat = w y + (1 - w) mu with w = s_x^2 / (s_x^2 + s_n^2) uses y_p
itself; with mu and w independent of n_p, E[(x_hat - x)^2] = w^2 s_n^2 + (1 - w)^2 (E[(mu - y)^2] - s_n^2).
The PSNR gain over the input is 10 log10(E[var n] / MSE): the input's MSE is the noise variance,
measured from the data (core/noise_level.py) for every method, with a 90 % interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from . import methods
from .calibration import Calibration, calibrate
from .data import Normalisation, StackView
from .defaults import prediction_tiles
from .noise_level import estimate_noise_level

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


WIDEST_DB = 3.0  # an interval wider than this cannot tell the gain
Z = 1.645  # the interval: a 90 % one, 1.645 standard errors each side


@dataclass
class Quality:
    """What a validation measured, in normalised units (noise_var: the mean noise variance;
    mse_stderr: the standard error of `mse` from the number of held-out pixels;
    noise_var_rel_stderr: the noise level's relative standard error; mse_slope: d mse / d noise_var)."""

    loss: float
    mse: float
    noise_var: float
    mse_stderr: float = 0.0
    noise_var_rel_stderr: float = 0.0
    mse_slope: float = -1.0
    calibration: Calibration | None = None  # HQ-SSL: the uncertainty's scale (calibration.py)

    @property
    def psnr_gain_db_interval(self) -> tuple[float, float] | None:
        """(low, high) of the PSNR gain over the input, Z standard errors of the noise level
        and of the MSE each side; None where the MSE could be 0 or less (no upper end)."""
        ends = []
        for dv in (-Z * self.noise_var_rel_stderr, Z * self.noise_var_rel_stderr):
            var = self.noise_var * (1 + dv)
            mse = self.mse + self.mse_slope * (var - self.noise_var)
            if var <= 0 or mse - Z * self.mse_stderr <= 0:
                return None
            ends += [10 * math.log10(var / (mse + Z * self.mse_stderr)), 10 * math.log10(var / (mse - Z * self.mse_stderr))]
        return min(ends), max(ends)

    @property
    def psnr_gain_db(self) -> float | None:
        """Estimated PSNR of the output minus that of the input, against the clean image; None
        where it cannot be told (the interval is open or wider than WIDEST_DB)."""
        interval = self.psnr_gain_db_interval
        if interval is None or interval[1] - interval[0] > WIDEST_DB or self.mse <= 0:
            return None
        return 10 * math.log10(self.noise_var / self.mse)


class ValidationSet:
    """A few fixed prediction-size tiles and their held-out pixels, for the held-out loss.

    For N2N (`pairs`), the input is the first recording and the target the second: the output
    never sees the target's noise, so the same estimate holds with the second's noise level,
    which two recordings give pixel by pixel without a model: E[(a - b)^2] / 2 (equal noise).
    `noise_line`: the data's noise level, (slope, offset) per channel in normalised units.
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
        self.method, self.algorithm = method, methods.get(method)
        hidden = self.algorithm.validation_inputs(self.inputs[:, :channels], self.held, seed)  # N2V hides pixels
        self.inputs = torch.cat([hidden, self.inputs[:, channels:]], dim=1)  # neighbours keep theirs
        self.pair_var = (self.inputs[:, :channels] - self.targets).double() ** 2 / 2 if seconds else None
        targets = self.targets.cpu().numpy()
        self.noise_var_rel_stderr = 0.0
        if sigma is not None:  # a known Gaussian sigma, in input units
            self.noise_var = torch.tensor([(sigma / s) ** 2 for s in norm.std], dtype=torch.float64)
            self.noise_line = tuple((0.0, v) for v in self.noise_var.tolist())
            self.noise_map = self.noise_var.reshape(1, -1, *([1] * (self.targets.dim() - 2))).expand(self.targets.shape)
        else:  # var = a y + b per pixel: unbiased, as E[y] is the clean value
            level = estimate_noise_level(targets, seed=seed)
            self.noise_map = torch.from_numpy(level.variance(targets.astype(np.float64)))
            self.noise_var = self.noise_map.mean(dim=[d for d in range(self.noise_map.dim()) if d != 1])
            self.noise_var_rel_stderr = float(level.rel_stderr.max())
            self.noise_line = tuple(zip(map(float, level.slope), map(float, level.offset)))
        self.noise_map = self.noise_map.to(device)
        if seconds:
            self.noise_line = None  # N2N: no noise level line, the pairs give V pixel by pixel

    @torch.no_grad()
    def evaluate(self, model) -> Quality:
        """Held-out loss (the training loss on held-out pixels), estimated MSE and noise variance,
        and (HQ-SSL) the uncertainty's calibration from the same pixels."""
        model.net.eval()
        totals = torch.zeros(5, dtype=torch.float64)
        channels = self.targets.shape[1]
        by_channel = torch.zeros(4, channels, dtype=torch.float64)  # sums of e_p, e_p^2, modelled variance, d e_p / d log V
        count = 0
        for i in range(len(self.targets)):
            y = self.targets[i : i + 1].double()
            out = model.forward(self.inputs[i : i + 1]).double()
            held = self.held[i : i + 1].expand_as(y)
            noise_var = self.pair_var[i : i + 1] if self.pair_var is not None else self.noise_map[i : i + 1].double()
            loss, mse, noise_var, slope = self.algorithm.heldout_terms(model, out, y, noise_var)
            totals += torch.stack([loss[held].sum(), mse[held].sum(), noise_var[held].sum(),
                                   (mse[held] ** 2).sum(), (slope[held] * noise_var[held]).sum()]).cpu()
            model_var = self.algorithm.heldout_uncertainty(model, out, y, self.noise_line)
            if model_var is not None:
                h, dims = held.double(), [0] + list(range(2, y.dim()))
                by_channel += torch.stack([(mse * h).sum(dims), (mse**2 * h).sum(dims), (model_var * h).sum(dims),
                                           (slope * noise_var * h).sum(dims)]).cpu()
            count += int(held.sum())
        loss, mse, noise_var, mse_squares, sloped = (totals / max(count, 1)).tolist()
        rel = 0.0 if self.pair_var is not None else self.noise_var_rel_stderr  # pairs: in mse_stderr already
        return Quality(loss, mse, noise_var, math.sqrt(max(mse_squares - mse**2, 0.0) / max(count, 1)),
                       rel, sloped / noise_var if noise_var > 0 else -1.0,
                       _calibration(by_channel, count // channels, rel) if self.algorithm.has_uncertainty else None)


def _calibration(by_channel: torch.Tensor, pixels: int, noise_rel_stderr: float) -> Calibration:
    """calibration.py's scale from per-channel sums over `pixels` held-out pixels each; the
    standard error holds the pixel count's and the noise level's (relative) error."""
    error, squares, model_var, sloped = (by_channel / max(pixels, 1)).tolist()
    stderr = [math.hypot(math.sqrt(max(s - e**2, 0.0) / max(pixels, 1)), noise_rel_stderr * d)
              for e, s, d in zip(error, squares, sloped)]
    return calibrate(error, stderr, model_var, pixels)

"""HQ-SSL noise models: the training loss (Gaussian negative log-likelihood of the noisy pixel)
and the posterior over the clean value, given the network's prior N(mu, s_x^2).

Everything lives in NORMALISED units, z = (x - mean) / std per channel; `zero_level` is where
raw 0 lies (-mean/std). A model only has to say how noisy a pixel of clean value mu is:

    gaussian          s_n^2 = sigma^2                      (known, or learned per channel)
    poisson           s_n^2 = lam * max(mu - zero_level, eps)
    poisson-gaussian  s_n^2 = max(v + a * (mu - low), eps) (shot + read noise; "auto")

Learned parameters are plain `nn.Parameter`s holding logarithms, so every value stays
positive. They start where the noise std is half the data std at the data mean (normalised
data have std 1, so half of it is noise on a log scale between "nearly clean" and "only
noise"); the reference starts near zero instead, which is fine for its millions of steps,
not for a few hundred on a CPU. `initialise_from(z)` starts from a quick estimate instead.
Nothing here clips the noisy input: clipping biases the noise estimate.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .noise_level import estimate_noise_level

KINDS = ("gaussian", "poisson", "poisson-gaussian", "auto")
MIN_VAR = 1e-6  # noise variance floor, as the reference's noise std >= 1e-3
POISSON_EPS = 1e-3  # the reference's max(mu, 1e-3)
REGULARISER = 0.1  # reference: loss - 0.1 * noise_std for learned noise ("balance regularization")
INITIAL_STD = 0.5  # noise std at the data mean, in units of the data std
MIN_LOW_GAP = 0.1  # the Poisson-Gaussian anchor lies at least this far below the data mean (0)


def posterior_mean(y, mu, prior_var, noise_var):
    """x_hat = (y s_x^2 + mu s_n^2) / (s_x^2 + s_n^2): the centre pixel comes back in."""
    return (y * prior_var + mu * noise_var) / (prior_var + noise_var)


def posterior_variance(prior_var, noise_var):
    """s_x^2 s_n^2 / (s_x^2 + s_n^2): an uncertainty map for free."""
    return prior_var * noise_var / (prior_var + noise_var)


class NoiseModel(nn.Module):
    """Shared loss and posterior; subclasses define `variance(mu)` and `describe()`."""

    kind: str
    learned = True

    def __init__(self, channels: int, zero_level=None):
        super().__init__()
        self.channels = channels
        zero = torch.zeros(channels) if zero_level is None else torch.as_tensor(zero_level, dtype=torch.float32)
        self.register_buffer("zero_level", zero.reshape(channels).clone(), persistent=False)
        self._zero_given = zero_level is not None

    def variance(self, mu: torch.Tensor) -> torch.Tensor:
        """s_n^2 per pixel for clean value mu (N, C, *spatial), in mu's dtype."""
        raise NotImplementedError

    def loss(self, y: torch.Tensor, mu: torch.Tensor, prior_var: torch.Tensor,
             weight: torch.Tensor | None = None) -> torch.Tensor:
        """mean of (y - mu)^2 / (s_x^2 + s_n^2) + log(s_x^2 + s_n^2), minus 0.1 s_n for
        learned noise; with `weight` (broadcast to y), its weighted mean (0: not a target).
        Float64 inside and out: (y - mu)^2 / tiny variances overflows float32."""
        y, mu, prior_var = y.double(), mu.double(), prior_var.double()
        nll = self.nll(y, mu, prior_var)
        if self.learned:  # pushes the noise level up against s_x^2 absorbing the noise
            nll = nll - REGULARISER * self.variance(mu.detach()).sqrt()
        if weight is None:
            return nll.mean()
        weight = weight.to(nll.dtype).expand_as(nll)
        return (nll * weight).sum() / weight.sum().clamp_min(1)

    def nll(self, y: torch.Tensor, mu: torch.Tensor, prior_var: torch.Tensor) -> torch.Tensor:
        """Per-pixel (y - mu)^2 / (s_x^2 + s_n^2) + log(s_x^2 + s_n^2) (up to constants), in float64."""
        y, mu, prior_var = y.double(), mu.double(), prior_var.double()
        total = prior_var + self.variance(mu)
        return (y - mu) ** 2 / total + torch.log(total)

    def posterior(self, y: torch.Tensor, mu: torch.Tensor, prior_var: torch.Tensor):
        """(posterior mean, posterior variance) of the clean value, in y's dtype."""
        dtype = y.dtype
        y, mu, prior_var = y.double(), mu.double(), prior_var.double()
        noise_var = self.variance(mu)
        return (posterior_mean(y, mu, prior_var, noise_var).to(dtype),
                posterior_variance(prior_var, noise_var).to(dtype))

    def config(self) -> dict:
        """Constructor arguments of `make_noise_model`, JSON-serialisable."""
        return {"kind": self.kind, "channels": self.channels,
                "zero_level": self.zero_level.tolist() if self._zero_given else None, "sigma": None}

    def _per_channel(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """(C,) -> (1, C, 1, ...) broadcastable against `like`, in its dtype."""
        return t.to(like.device, like.dtype).reshape(1, -1, *([1] * (like.dim() - 2)))

    def _exp(self, log_param: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """exp of a (C,) log-parameter, cast first so float64 losses stay float64 throughout."""
        return torch.exp(self._per_channel(log_param, like))

    @torch.no_grad()
    def initialise_from(self, z: torch.Tensor) -> None:
        """Start the learned parameters from a quick estimate on noisy normalised data."""


class GaussianNoise(NoiseModel):
    """s_n^2 = sigma^2 per channel: known (`sigma` given, normalised units) or learned."""

    kind = "gaussian"

    def __init__(self, channels: int, zero_level=None, sigma=None):
        super().__init__(channels, zero_level)
        self.learned = sigma is None
        if self.learned:
            self.log_sigma = nn.Parameter(torch.full((channels,), math.log(INITIAL_STD)))
        else:
            known = torch.as_tensor(sigma, dtype=torch.float64).expand(channels).clone()
            if not torch.all(known > 0):
                raise ValueError(f"sigma must be positive (normalised units), got {sigma}")
            self.register_buffer("known_sigma", known, persistent=False)

    def sigma(self, like: torch.Tensor) -> torch.Tensor:
        if self.learned:
            return self._exp(self.log_sigma, like)
        return self._per_channel(self.known_sigma, like)

    def variance(self, mu):
        return (self.sigma(mu) ** 2).clamp_min(MIN_VAR).expand_as(mu)

    def config(self):
        return {**super().config(), "sigma": None if self.learned else self.known_sigma.tolist()}

    def describe(self, mean, std) -> dict:
        """var_raw = std^2 var_z  ->  sigma_raw = std * sigma_z."""
        std = _as_channels(std, self.channels)
        return {"kind": "gaussian", "learned": self.learned,
                "sigma": (std * self.sigma(std.detach()[None, :]).detach()).reshape(-1).tolist()}

    @torch.no_grad()
    def initialise_from(self, z):
        if self.learned:
            self.log_sigma.copy_(_noise_variance_vs_mean(z)[1].clamp_min(MIN_VAR).median(0).values.log() / 2)


class PoissonNoise(NoiseModel):
    """s_n^2 = lam * max(mu - zero_level, eps): shot noise, lam learned per channel."""

    kind = "poisson"

    def __init__(self, channels: int, zero_level=None):
        if zero_level is None:
            raise ValueError("the Poisson noise model needs zero_level (= -mean/std per channel, "
                             "where raw 0 lies in normalised units)")
        super().__init__(channels, zero_level)
        # start with s_n^2 = INITIAL_STD^2 at the data mean (mu = 0)
        lam = INITIAL_STD**2 / (-self.zero_level).clamp_min(0.1)
        self.log_gain = nn.Parameter(lam.log())

    def variance(self, mu):
        above_zero = (mu - self._per_channel(self.zero_level, mu)).clamp_min(POISSON_EPS)
        return (self._exp(self.log_gain, mu) * above_zero).clamp_min(MIN_VAR)

    def describe(self, mean, std) -> dict:
        """var_z = lam (z - z0) with z = (x - m)/s, z0 = -m/s  ->  var_raw = s^2 var_z = (s lam) x."""
        std = _as_channels(std, self.channels)
        return {"kind": "poisson", "gain": (std * torch.exp(_host(self.log_gain))).tolist()}

    @torch.no_grad()
    def initialise_from(self, z):
        mean, var = _noise_variance_vs_mean(z)
        above = (mean - self.zero_level).clamp_min(POISSON_EPS)
        self.log_gain.copy_(((var * above).sum(0) / (above**2).sum(0)).clamp_min(1e-6).log())


class PoissonGaussianNoise(NoiseModel):
    """s_n^2 = max(v + a (mu - low), eps), a, v > 0 learned per channel: shot + read noise.

    The line is pinned at an anchor `low` near the dark end of the data, where v is the
    noise variance: a fit in (log a, log v) is then well conditioned (the dark pixels, whose
    small variance the likelihood is most sensitive to, depend on v alone), and the line stays
    positive wherever there is data, whatever the camera's dark level. `low` defaults to raw 0
    or one std below the mean, whichever is higher, and at least `MIN_LOW_GAP` below the mean
    (data whose mean is at or below raw 0 have no dark level there); `initialise_from` moves it
    to the data's dark end. It is a buffer, saved in the state dict."""

    kind = "poisson-gaussian"

    def __init__(self, channels: int, zero_level=None):
        super().__init__(channels, zero_level)
        low = self.zero_level.clamp(-1.0, -MIN_LOW_GAP) if zero_level is not None else torch.full((channels,), -1.0)
        self.register_buffer("low", low.clone())
        # start with noise std INITIAL_STD at the mean, half of its variance shot noise
        v0 = INITIAL_STD**2
        self.log_slope = nn.Parameter(torch.log(0.5 * v0 / -low))
        self.log_low_var = nn.Parameter(torch.full((channels,), math.log(0.5 * v0)))

    def variance(self, mu):
        line = self._exp(self.log_low_var, mu) + self._exp(self.log_slope, mu) * (mu - self._per_channel(self.low, mu))
        return line.clamp_min(MIN_VAR)

    def describe(self, mean, std) -> dict:
        """var_z = v + a (z - low) with z = (x - m)/s  ->  var_raw = s^2 var_z = gain x + offset,
        gain = s a, offset = s^2 (v + a (z0 - low)) with z0 = -m/s: the variance at raw 0.
        read_sigma = sqrt(offset) is the read noise if the camera's dark level is raw 0 (None
        where offset < 0: the data have a dark level above 0, read noise = sqrt(offset + gain dark))."""
        mean, std = _as_channels(mean, self.channels), _as_channels(std, self.channels)
        a, v = torch.exp(_host(self.log_slope)), torch.exp(_host(self.log_low_var))
        gain = std * a
        offset = std**2 * (v + a * (-mean / std - _host(self.low)))
        return {"kind": "poisson-gaussian", "gain": gain.tolist(), "offset": offset.tolist(),
                "read_sigma": [math.sqrt(o) if o > 0 else None for o in offset.tolist()]}

    @torch.no_grad()
    def initialise_from(self, z):
        mean, var = _noise_variance_vs_mean(z)
        for c in range(self.channels):  # least squares line var = a mean + b, kept positive
            design = torch.stack([mean[:, c], torch.ones_like(mean[:, c])], 1)
            a, b = torch.linalg.lstsq(design, var[:, c, None]).solution[:, 0]
            a = a.clamp_min(1e-4)
            low = mean[0, c]  # the darkest intensity bin
            self.low[c] = low
            self.log_slope[c] = a.log()
            self.log_low_var[c] = (a * low + b).clamp_min(var[0, c].clamp_min(1e-4) / 2).log()


def make_noise_model(kind: str, channels: int, zero_level=None, sigma=None) -> NoiseModel:
    """kind: gaussian (known `sigma` in normalised units, else learned), poisson,
    poisson-gaussian, or auto (= poisson-gaussian). `zero_level`: (C,) raw 0 in normalised units."""
    if kind == "gaussian":
        return GaussianNoise(channels, zero_level, sigma)
    if sigma is not None:
        raise ValueError(f"sigma is a Gaussian noise level; it does not apply to noise={kind!r}")
    if kind == "poisson":
        return PoissonNoise(channels, zero_level)
    if kind in ("poisson-gaussian", "auto"):
        return PoissonGaussianNoise(channels, zero_level)
    raise ValueError(f"unknown noise model {kind!r}: use one of {', '.join(KINDS)}")


def _host(t: torch.Tensor) -> torch.Tensor:
    """A parameter as float64 on the CPU, for reports (the model may live on a GPU)."""
    return t.detach().double().cpu()


def _as_channels(v, channels: int) -> torch.Tensor:
    return torch.as_tensor(v, dtype=torch.float64).reshape(-1).expand(channels)


def _noise_variance_vs_mean(z: torch.Tensor):
    """Quick (intensity, noise variance) pairs from noisy (N, C, *spatial) data, measured by the
    package's one noise-level estimator (core/noise_level.py). Returns (bins, C) tensors."""
    level = estimate_noise_level(z.detach().double().cpu().numpy())
    return torch.from_numpy(level.means).float(), torch.from_numpy(level.variances).float()

"""HQ-SSL (Laine et al. 2019): a blind-spot network (`blindspot.py`) whose output is a Gaussian
prior N(mu, s_x^2) over the clean value; with the noise model's s_n^2 (`noise.py`) it gives
the training loss and the posterior.

    prior(out)          -> mu, s_x^2
    loss(y, out)        -> mean of (y - mu)^2 / (s_x^2 + s_n^2) + log(s_x^2 + s_n^2)
    posterior(y, out)   -> (y s_x^2 + mu s_n^2) / (s_x^2 + s_n^2), s_x^2 s_n^2 / (s_x^2 + s_n^2)

Training, held-out validation, prediction and export all go through here, so they read the
output the same way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..blindspot import PRESETS, BlindSpotNet, rotations
from ..calibration import data_variance, error_variance
from ..noise import make_noise_model
from ..window import window_channels
from .base import Method

PRIOR_VAR_FLOOR = 1e-6  # keeps s_x^2 > 0 even where softplus underflows
# The UNet halves the patch at each level; a bottleneck of 1-2 px lost PSNR quickly
# (docs/benchmarks.md, "Defaults"), so the default depth keeps at least this many pixels there.
MIN_BOTTLENECK = 4


def prior(out: torch.Tensor, channels: int, groups: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Network output -> (mu, s_x^2).

    The output holds, group by group, that group's means then its `a`s: (mu_0..mu_C-1,
    a_0..a_C-1) for one group, (mu_0, a_0, mu_1, a_1, ...) for one group per channel.
    s_x^2 = softplus(a): gradients as in log space for small variances, no blow-up for large.
    """
    parts = out[:, : 2 * channels].unflatten(1, (groups, 2, channels // groups))
    mu, a = parts[:, :, 0].flatten(1, 2), parts[:, :, 1].flatten(1, 2)
    return mu, F.softplus(a) + PRIOR_VAR_FLOOR


def loss(noise, y: torch.Tensor, out: torch.Tensor, groups: int = 1,
         weight: torch.Tensor | None = None) -> torch.Tensor:
    """The negative log-likelihood of the noisy pixels `y` under prior + noise (`noise.py`);
    pixels of `weight` 0 are no target."""
    mu, prior_var = prior(out, y.shape[1], groups)
    return noise.loss(y, mu, prior_var, weight)


def posterior(noise, y: torch.Tensor, out: torch.Tensor, groups: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(posterior mean, posterior variance) of the clean value given the noisy pixel `y`."""
    mu, prior_var = prior(out, y.shape[1], groups)
    return noise.posterior(y, mu, prior_var)


def _denoised(model, y, out, data_noise):
    """(posterior mean, its error variance): calibration.py's with the data's noise level
    `data_noise`, the posterior variance without one (a model saved before it)."""
    mean, var = posterior(model.noise, y, out, model.net.groups)
    if data_noise is None:
        return mean, var
    mu, prior_var = (t.double() for t in prior(out, y.shape[1], model.net.groups))
    return mean, error_variance(prior_var, model.noise.variance(mu), data_variance(data_noise, mu)).to(y.dtype)


class HQSSL(Method):
    name, label = "hqssl", "HQ-SSL"
    citations = (("Laine, Karras, Lehtinen, Aila. High-Quality Self-Supervised Deep Image Denoising. "
                  "NeurIPS 2019 (arXiv:1901.10277)", "10.48550/arXiv.1901.10277"),)
    has_uncertainty = uses_noise_model = True
    default_views = 2  # the network already looks in every direction: two views get most of the gain
    network_keys = frozenset({"depth", "features", "decoder_features", "groups"})
    patch_batch = {(2, False): ((64, 64), 8), (2, True): ((64, 64), 16),
                   (3, False): ((24, 24, 24), 4), (3, True): ((32, 32, 32), 8)}
    export_border = 0  # zero padding only: mirroring would show a pixel to itself

    def build_network(self, spatial_ndim, channels, network, context_planes=0):
        """Neighbour planes go to the network's plain branch (blindspot.py), never the blind one."""
        seen = window_channels(context_planes, channels) - channels  # neighbours and border code
        return BlindSpotNet(spatial_ndim, channels, 2 * channels, context_channels=seen, **network)

    def default_network(self, network_preset, gpu):
        return dict(PRESETS[network_preset or ("gpu" if gpu else "cpu")])

    def default_lr(self, gpu):
        return 2e-3

    def patch_of_side(self, side, ndim):
        return (side,) * ndim  # the rotations need square/cubic patches

    def default_depth(self, depth, patch):
        return max(1, min(depth, int(math.log2(min(patch) / MIN_BOTTLENECK))))

    def views_per_step(self, spatial_ndim):
        return len(rotations(spatial_ndim))

    def noise_config(self, config, norm):
        sigma = None if config.sigma is None else [config.sigma / s for s in norm.std]  # normalised units
        return {"kind": "gaussian" if config.sigma is not None else config.noise, "sigma": sigma}

    def build_noise(self, spec):
        zero = torch.tensor(spec.normalisation.zero_level, dtype=torch.float32)
        return make_noise_model(channels=spec.channels, zero_level=zero, **spec.noise)

    def blind_spot_input(self, x, generator, mask_percent, held=None, channels=None):
        return x, x[:, :channels], None  # blind by construction

    def loss(self, model, out, target, coords, keep):
        return loss(model.noise, target, out, model.net.groups, keep)

    def heldout_terms(self, model, out, y, noise_var):
        """The negative log-likelihood under the model's weights, and the posterior mean's MSE
        with the data's noise level `noise_var`, not the learned one (heldout.py's docstring)."""
        mu, prior_var = prior(out, y.shape[1], model.net.groups)
        w = prior_var / (prior_var + model.noise.variance(mu))
        mse = w**2 * noise_var + (1 - w) ** 2 * ((mu - y) ** 2 - noise_var)
        return model.noise.nll(y, mu, prior_var), mse, noise_var, w**2 - (1 - w) ** 2

    def heldout_uncertainty(self, model, out, y, data_noise):
        """The error variance `predict_view` gives with that noise level (before calibration.py's scale)."""
        return _denoised(model, y, out, data_noise)[1]

    def predict_view(self, model, z):
        y = z[:, : model.net.in_channels]  # the target plane's noisy values (window.py)
        return _denoised(model, y, model.forward(z), model.spec.data_noise)

    def export_forward(self, net, noise, z):
        return posterior(noise, z[:, : net.in_channels], net.forward_per_view(z), net.groups)[0]

    def readme_note(self, spec):
        return ["HQ-SSL: the weights compute the network's Gaussian prior and the learned noise model's "
                "posterior mean, so the noisy image goes in and the denoised image comes out. "
                f"Noise model: `{spec.noise}`, learned parameters (input units): `{spec.noise_params}`.", ""]

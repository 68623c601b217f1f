"""The HQ-SSL head: the network's output is a Gaussian prior N(mu, s_x^2) over the clean value;
with the noise model's s_n^2 it gives the training loss and the posterior (Laine et al. 2019).

    prior(out)          -> mu, s_x^2
    loss(y, out)        -> mean of (y - mu)^2 / (s_x^2 + s_n^2) + log(s_x^2 + s_n^2)
    posterior(y, out)   -> (y s_x^2 + mu s_n^2) / (s_x^2 + s_n^2), s_x^2 s_n^2 / (s_x^2 + s_n^2)

Training and prediction both go through here, so they read the output the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PRIOR_VAR_FLOOR = 1e-6  # keeps s_x^2 > 0 even where softplus underflows


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

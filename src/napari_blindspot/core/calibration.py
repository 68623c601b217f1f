"""HQ-SSL's uncertainty: the expected error of each denoised pixel, checked on the held-out pixels.

The posterior variance s_x^2 s_n^2 / (s_x^2 + s_n^2) = w^2 s_n^2 + (1 - w)^2 s_x^2 (with
w = s_x^2 / (s_x^2 + s_n^2)) trusts the learned s_n^2. The likelihood fixes only the sum
s_x^2 + s_n^2 ~ E[(mu - y)^2]: where the noise model claims more noise than the data have, the
prior's spread s_x^2 is too narrow by as much, and the posterior is overconfident (docs/benchmarks.md,
"Uncertainty calibration"). With V the data's own noise level (noise_level.py, stored in the
spec), the error of x_hat = w y + (1 - w) mu is

    var = w^2 V + (1 - w)^2 (s_x^2 + max(s_n^2 - V, 0))     (`error_variance`)

On held-out pixels (never a training target) the error has an unbiased estimate from the noisy
data alone (heldout.py): e_p = w^2 V_p + (1 - w)^2 ((mu_p - y_p)^2 - V_p). Where its mean is
above the mean of var by more than Z standard errors (the pixel count's and the noise level's),
the scale c = sqrt(mean e / mean var) per channel corrects the model; c * sqrt(var) reads as the
typical error of a pixel. Only upwards: the estimate came out low in every benchmark case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

MIN_PIXELS = 256  # held-out pixels per channel below which a mean error is no check
SCALE_RANGE = (1.0, 10.0)  # only upwards: the held-out estimate errs optimistic (docs/benchmarks.md); beyond 10 it is off
Z = 1.645  # a scale other than 1 needs the held-out error this many standard errors from the model's
MIN_VAR = 1e-6  # a noise level floor, as noise.py's


def error_variance(prior_var: torch.Tensor, noise_var: torch.Tensor, data_var: torch.Tensor) -> torch.Tensor:
    """w^2 V + (1 - w)^2 (s_x^2 + max(s_n^2 - V, 0)): the posterior variance when s_n^2 = V."""
    w = prior_var / (prior_var + noise_var)
    return w**2 * data_var + (1 - w) ** 2 * (prior_var + (noise_var - data_var).clamp_min(0))


def data_variance(line, mu: torch.Tensor) -> torch.Tensor:
    """V = slope mu + offset per channel (the spec's `data_noise`, normalised units), at least MIN_VAR."""
    slope, offset = (torch.tensor([c[i] for c in line], dtype=mu.dtype, device=mu.device)
                     .reshape(1, -1, *([1] * (mu.dim() - 2))) for i in (0, 1))
    return (slope * mu + offset).clamp_min(MIN_VAR)


@dataclass(frozen=True)
class Calibration:
    """Per channel, the factor on the modelled error std; `note` says why a channel kept 1 or
    was clipped (None: every channel corrected)."""

    scale: tuple[float, ...]
    note: str | None = None


def calibrate(error_var, error_stderr, model_var, pixels: int) -> Calibration:
    """c per channel from the held-out means of e_p (with its standard error) and of the error
    variance over `pixels` held-out pixels per channel. The error model stands (c = 1) unless the
    held-out pixels tell it is too small: beyond Z standard errors, and with enough pixels."""
    scales, notes = [], []
    for c, (err, se, var) in enumerate(zip(error_var, error_stderr, model_var)):
        where = f" (channel {c})" if len(error_var) > 1 else ""
        if pixels < MIN_PIXELS or not (math.isfinite(err) and math.isfinite(se) and math.isfinite(var) and var > 0):
            scales.append(1.0)
            notes.append(f"{pixels} held-out pixels{where}: too few to check the error model, kept as it is")
        elif err <= 0:  # a noise level a little high makes a small error look negative: no evidence
            scales.append(1.0)
            notes.append(f"the held-out error is not above 0{where}: the error model kept as it is")
        elif err < var:  # the estimate came out low in every benchmark case: no evidence of an overestimate
            scales.append(1.0)
            notes.append(f"the held-out error is below the error model's{where} (measured/modelled "
                         f"{err / var:.2f}): kept as it is")
        elif err - var <= Z * se:
            scales.append(1.0)
            notes.append(f"the held-out pixels agree with the error model{where} (measured/modelled error "
                         f"{err / var:.2f} +- {Z * se / var:.2f})")
        else:
            scale = math.sqrt(err / var)
            low, high = SCALE_RANGE
            if not low <= scale <= high:
                notes.append(f"scale {scale:.3g} clipped to {low:g}..{high:g}{where}")
            scales.append(round(min(max(scale, low), high), 4))
    return Calibration(tuple(scales), "; ".join(notes) or None)

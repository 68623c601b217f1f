"""One training step: the blind-spot input, the self-supervised loss, one optimiser update.

    handler -> worker -> train() -> step() -> loss()
"""

from __future__ import annotations

import torch

from . import hqssl
from .masking import mask_batch, masked_mse
from .model import Model
from .precision import Precision



def blind_spot_input(model: Model, x: torch.Tensor, generator: torch.Generator, mask_percent: float,
                     held: torch.Tensor | None = None):
    """(network input, target, masked coordinates or None) for a batch.

    N2V hides the pixels it trains on (never held-out ones); HQ-SSL's network is blind by
    construction; N2N's batch holds both recordings on the channel axis and maps either onto
    the other (both directions, chosen per sample)."""
    if model.method == "hqssl":
        return x, x, None
    if model.method == "n2n":
        a, b = x.chunk(2, dim=1)
        swap = (torch.rand(len(x), generator=generator) < 0.5).to(x.device).view(-1, *[1] * (x.dim() - 1))
        return torch.where(swap, b, a), torch.where(swap, a, b), None
    masked, coords = mask_batch(x, mask_percent, generator, median=model.method == "n2v2", exclude=held)
    return masked, x, coords


def loss(model: Model, target: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None,
         held: torch.Tensor | None = None) -> torch.Tensor:
    """N2V: MSE on the masked pixels; N2N: MSE on every pixel not held out; HQ-SSL: the noise
    model's negative log-likelihood on every pixel not held out."""
    out = model.forward(inputs)  # float32 whatever the network computed in
    if coords is not None:
        return masked_mse(out, target, coords)
    keep = None if held is None else ~held
    if model.method == "n2n":
        error = (out.float() - target.float()) ** 2
        return error.mean() if keep is None else (error * keep).sum() / (keep.sum() * error.shape[1]).clamp_min(1)
    return hqssl.loss(model.noise, target, out, model.net.groups, keep)


def step(model: Model, optimiser: torch.optim.Optimizer, precision: Precision, target, inputs, coords, held) -> float:
    """One optimiser step on one batch; returns its loss. The forward runs in the model's
    precision (`Model.forward`); `precision.scaler` scales float16's gradients (else a no-op)."""
    model.net.train()
    value = loss(model, target, inputs, coords, held)
    scaler = precision.scaler
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(value).backward()
    scaler.step(optimiser)
    scaler.update()
    return float(value.detach())

"""One training step: the blind-spot input, the self-supervised loss, one optimiser update.

    handler -> worker -> train() -> step() -> loss()
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from . import hqssl
from .masking import mask_batch, masked_mse
from .model import Model



def blind_spot_input(model: Model, x: torch.Tensor, generator: torch.Generator, mask_percent: float,
                     held: torch.Tensor | None = None):
    """(network input, target, masked coordinates or None) for a batch.

    N2V hides the pixels it trains on (never held-out ones); HQ-SSL's network is blind by
    construction; N2N's batch holds both recordings on the channel axis and maps either onto
    the other (both directions, chosen per sample). With neighbour planes (window.py) each
    recording is a window whose first `channels` are the target plane: the target is that
    plane's, and N2V hides pixels of that plane only (the neighbours' noise is their own)."""
    c = model.spec.channels
    if model.method == "hqssl":
        return x, x[:, :c], None
    if model.method == "n2n":
        a, b = x.chunk(2, dim=1)
        swap = (torch.rand(len(x), generator=generator) < 0.5).to(x.device).view(-1, *[1] * (x.dim() - 1))
        return torch.where(swap, b, a), torch.where(swap, a, b)[:, :c], None
    masked, coords = mask_batch(x[:, :c], mask_percent, generator, median=model.method == "n2v2", exclude=held)
    return torch.cat([masked, x[:, c:]], dim=1), x[:, :c], coords


def loss(model: Model, target: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None,
         held: torch.Tensor | None = None) -> torch.Tensor:
    """N2V: MSE on the masked pixels; N2N: MSE on every pixel not held out; HQ-SSL: the noise
    model's negative log-likelihood on every pixel not held out."""
    out = model.net(inputs)
    if coords is not None:
        return masked_mse(out, target, coords)
    keep = None if held is None else ~held
    if model.method == "n2n":
        error = (out.float() - target.float()) ** 2
        return error.mean() if keep is None else (error * keep).sum() / (keep.sum() * error.shape[1]).clamp_min(1)
    return hqssl.loss(model.noise, target, out, model.net.groups, keep)


class Amp:
    """Mixed precision on CUDA (autocast + gradient scaling); plain float32 elsewhere."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled)

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.enabled else nullcontext()


def step(model: Model, optimiser: torch.optim.Optimizer, amp: Amp, target, inputs, coords, held) -> float:
    """One optimiser step on one batch; returns its loss."""
    model.net.train()
    with amp.autocast():
        value = loss(model, target, inputs, coords, held)
    optimiser.zero_grad(set_to_none=True)
    amp.scaler.scale(value).backward()
    amp.scaler.step(optimiser)
    amp.scaler.update()
    return float(value.detach())

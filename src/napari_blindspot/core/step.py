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
    """(network input, masked coordinates): N2V hides the pixels it trains on (never held-out
    ones); HQ-SSL's network is blind by construction and trains on every pixel (coordinates None)."""
    if model.method == "hqssl":
        return x, None
    return mask_batch(x, mask_percent, generator, median=model.method == "n2v2", exclude=held)


def loss(model: Model, x: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None,
         held: torch.Tensor | None = None) -> torch.Tensor:
    """N2V: MSE on the masked pixels; HQ-SSL: the noise model's negative log-likelihood on
    every pixel that is not held out."""
    out = model.net(inputs)
    if coords is not None:
        return masked_mse(out, x, coords)
    return hqssl.loss(model.noise, x, out, model.net.groups, None if held is None else ~held)


class Amp:
    """Mixed precision on CUDA (autocast + gradient scaling); plain float32 elsewhere."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.scaler = torch.amp.GradScaler("cuda", enabled=enabled)

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.float16) if self.enabled else nullcontext()


def step(model: Model, optimiser: torch.optim.Optimizer, amp: Amp, x, inputs, coords, held) -> float:
    """One optimiser step on one batch; returns its loss."""
    model.net.train()
    with amp.autocast():
        value = loss(model, x, inputs, coords, held)
    optimiser.zero_grad(set_to_none=True)
    amp.scaler.scale(value).backward()
    amp.scaler.step(optimiser)
    amp.scaler.update()
    return float(value.detach())

"""One training step: the blind-spot input, the self-supervised loss, one optimiser update.

    handler -> worker -> train() -> step() -> loss()
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from . import methods
from .model import Model


def blind_spot_input(model: Model, x: torch.Tensor, generator: torch.Generator, mask_percent: float,
                     held: torch.Tensor | None = None):
    """(network input, target, masked coordinates or None) for a batch: the method's own. With
    neighbour planes (window.py) the first `channels` of each recording are the target plane."""
    return methods.get(model.method).blind_spot_input(x, generator, mask_percent, held, channels=model.spec.channels)


def loss(model: Model, target: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None,
         held: torch.Tensor | None = None) -> torch.Tensor:
    """The method's training loss on one batch; held-out pixels are never a target."""
    keep = None if held is None else ~held
    return methods.get(model.method).loss(model, model.net(inputs), target, coords, keep)


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

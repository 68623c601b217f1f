"""One training step: the blind-spot input, the self-supervised loss, one optimiser update.

    handler -> worker -> train() -> step() -> loss()
"""

from __future__ import annotations

import torch

from . import methods
from .model import Model
from .precision import Precision


def blind_spot_input(model: Model, x: torch.Tensor, generator: torch.Generator, mask_percent: float,
                     held: torch.Tensor | None = None):
    """(network input, target, masked coordinates or None) for a batch: the method's own. With
    neighbour planes (window.py) the first `channels` of each recording are the target plane."""
    window = {"channels": model.spec.channels} if model.spec.context_planes else {}  # a method without neighbours needs none
    return methods.get(model.method).blind_spot_input(x, generator, mask_percent, held, **window)


def loss(model: Model, target: torch.Tensor, inputs: torch.Tensor, coords: torch.Tensor | None,
         held: torch.Tensor | None = None) -> torch.Tensor:
    """The method's training loss on one batch; held-out pixels are never a target."""
    keep = None if held is None else ~held
    return methods.get(model.method).loss(model, model.forward(inputs), target, coords, keep)  # float32 output


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

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


SKIPS_IN_A_ROW = 20  # steps of non-finite gradients in a row before the run is called diverged


def step(model: Model, optimiser: torch.optim.Optimizer, precision: Precision, target, inputs, coords, held) -> float:
    """One optimiser step on one batch; returns its loss. The forward runs in the model's
    precision (`Model.forward`); `precision.scaler` scales float16's gradients (else a no-op).
    A step whose gradients are not finite is skipped, as the scaler does for float16: torch's CPU
    bfloat16 Conv3d backward sometimes gives NaN on tiny inputs (docs/benchmarks.md, "bfloat16")."""
    model.net.train()
    value = loss(model, target, inputs, coords, held)
    scaler = precision.scaler
    optimiser.zero_grad(set_to_none=True)
    scaler.scale(value).backward()
    if scaler.is_enabled():
        scaler.step(optimiser)
        scaler.update()
    elif _finite_gradients(optimiser):
        optimiser.step()
        precision.skipped_in_a_row = 0
    else:
        precision.skipped_in_a_row = precision.skipped_in_a_row + 1
        if precision.skipped_in_a_row >= SKIPS_IN_A_ROW:
            raise FloatingPointError(f"training diverged: the gradients were not finite for {SKIPS_IN_A_ROW} "
                                     f"steps in a row ({precision.name}): lower the learning rate, or use "
                                     "precision float32")
    return float(value.detach())


def _finite_gradients(optimiser: torch.optim.Optimizer) -> bool:
    grads = [p.grad for group in optimiser.param_groups for p in group["params"] if p.grad is not None]
    return bool(torch.stack([g.isfinite().all() for g in grads]).all()) if grads else True

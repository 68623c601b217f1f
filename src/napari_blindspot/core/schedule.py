"""The small scheduler around the steps: how far a run is, the learning rate, when the next
validation or preview is due, and the best weights so far."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from .heldout import Quality
from .model import Model

FINAL_LR = 0.05  # the cosine schedule ends at this share of the learning rate
PATIENCE = 6  # until_converged: validations without a better held-out loss...
PATIENCE_SHARE = 0.25  # ...spanning at least this share of the run so far



@dataclass(frozen=True)
class Schedule:
    """How far a run is (the larger of its step and time shares) and the learning rate then."""

    steps: int | None
    seconds: float | None

    def fraction(self, count: int, elapsed: float) -> float:
        return max(count / self.steps if self.steps else 0.0, elapsed / self.seconds if self.seconds else 0.0)

    @staticmethod
    def set_lr(optimiser: torch.optim.Optimizer, fraction: float) -> None:
        """Cosine decay from the base rate to FINAL_LR of it."""
        for group in optimiser.param_groups:
            group["lr"] = group["base_lr"] * (FINAL_LR + (1 - FINAL_LR) * 0.5 * (1 + math.cos(math.pi * fraction)))


class Pacer:
    """Due every `every_s` seconds, but never taking more than `share` of the time: after a
    run that cost c seconds the next waits c (1 / share - 1). With `every_steps`, due every
    that many steps instead: a run of a fixed number of steps then validates at the same steps
    whatever the machine's speed, so it ends with the same weights."""

    def __init__(self, every_s: float | None, share: float, every_steps: int | None = None):
        self.every_s, self.share, self.every_steps = every_s, share, every_steps
        self.next_s = min(1.0, every_s) if every_s else math.inf  # the first one comes early

    def due(self, elapsed_s: float, count: int) -> bool:
        if self.every_steps:
            return count % self.every_steps == 0
        return elapsed_s >= self.next_s

    def took(self, cost_s: float, elapsed_s: float) -> None:
        self.next_s = elapsed_s + max(self.every_s, cost_s * (1 / self.share - 1))


class Best:
    """The weights with the best held-out loss so far; a run ends with them."""

    def __init__(self):
        self.quality: Quality | None = None
        self.step, self.at_s, self.checks_since, self.state = 0, 0.0, 0, None

    def offer(self, model: Model, quality: Quality, count: int, elapsed: float) -> None:
        if self.quality is not None and not quality.loss < self.quality.loss:
            self.checks_since += 1
            return
        self.quality, self.step, self.at_s, self.checks_since = quality, count, elapsed, 0
        self.state = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in _modules(model)]

    def restore(self, model: Model) -> None:
        if self.state is not None:
            for module, state in zip(_modules(model), self.state):
                module.load_state_dict(state)

    def converged(self, elapsed: float) -> bool:
        """No better held-out loss for PATIENCE validations and PATIENCE_SHARE of the run."""
        return self.checks_since >= PATIENCE and elapsed - self.at_s >= PATIENCE_SHARE * elapsed


def _modules(model: Model) -> list[torch.nn.Module]:
    return [model.net] if model.noise is None else [model.net, model.noise]


class Stopwatch:
    """Seconds spent per kind of work, for profiles and the preview share."""

    def __init__(self):
        self.totals = dict.fromkeys(("data", "network", "validation", "preview"), 0.0)
        self.last = 0.0

    @contextmanager
    def time(self, kind: str):
        start = time.perf_counter()
        yield
        self.last = time.perf_counter() - start
        self.totals[kind] += self.last

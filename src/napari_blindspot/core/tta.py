"""Test-time augmentation: the mean of a prediction over dihedral views of the input.

Each view turns the tile in YX by quarter turns and may mirror X; its prediction is turned
back before averaging. The noise of each view's prediction differs, so the mean is closer to
the clean image (docs/benchmarks.md, "Test-time views").
"""

from __future__ import annotations

import numbers
from typing import Callable

import torch

# (quarter turns in YX, mirror X); the first two are the identity and a mirror, then turns.
VIEWS = tuple((turns, mirror) for turns in range(4) for mirror in (False, True))
# Views per method: each method's `default_views` (methods/).
# Views multiply prediction's cost: by default, inputs above this many pixels (all planes) get
# one view, so `predict` of a large stack keeps its throughput (docs/benchmarks.md, "Throughput").
LARGE_INPUT_PIXELS = 2**21


def views_for(default: int, tta, pixels: int | None = None) -> int:
    """How many views to average: `tta` None is the default policy (the method's `default` views,
    one view above LARGE_INPUT_PIXELS), True the method's views, False one, a number that many."""
    if tta is None:
        return default if pixels is None or pixels <= LARGE_INPUT_PIXELS else 1
    if isinstance(tta, bool):
        return default if tta else 1
    if not isinstance(tta, numbers.Integral) or not 1 <= tta <= len(VIEWS):
        raise ValueError(f"tta must be a number of views from 1 to {len(VIEWS)}, True, False or None, got {tta!r}")
    return int(tta)


def to_view(x: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    x = torch.rot90(x, turns, (-2, -1))
    return x.flip(-1) if mirror else x


def from_view(x: torch.Tensor, turns: int, mirror: bool) -> torch.Tensor:
    x = x.flip(-1) if mirror else x
    return torch.rot90(x, -turns, (-2, -1))


def averaged(predict: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], z: torch.Tensor,
             views: int, within: Callable[[float], None] | None = None) -> tuple[torch.Tensor, ...]:
    """The mean over the first `views` views of each tensor `predict` returns for `z`;
    `within(share)` after each view (the share of the views done)."""
    if not 1 <= views <= len(VIEWS):
        raise ValueError(f"views must be 1 to {len(VIEWS)}, got {views}")
    sums = None
    for done, (turns, mirror) in enumerate(VIEWS[:views], 1):
        outs = tuple(from_view(o, turns, mirror) for o in predict(to_view(z, turns, mirror).contiguous()))
        sums = outs if sums is None else tuple(s + o for s, o in zip(sums, outs))
        if within is not None:
            within(done / views)
    return tuple(s / views for s in sums)

"""The Noise2Void blind-spot sampler (Krull et al. 2019; N2V2: Hoeck et al. 2022).

A few pixels per patch are chosen by stratified sampling (one random pixel per grid cell of
side ``(100 / percent) ** (1 / ndim)`` rounded to whole pixels), their values are replaced by a random neighbour from
a 5x5(x5) window excluding the pixel itself (N2V) or by the window's median excluding the
pixel (N2V2), and the loss is the MSE on those pixels only: the network cannot learn the
identity because it never sees the values it must predict.
"""

from __future__ import annotations

import itertools
import math

import torch


def grid_side(percent: float, ndim: int) -> int:
    """Side of the sampling grid's cells, in whole pixels, for ~`percent` % masked pixels."""
    return max(2, round((100.0 / percent) ** (1.0 / ndim)))


def stratified_coordinates(batch: int, spatial: tuple[int, ...], percent: float,
                           generator: torch.Generator, device=None) -> torch.Tensor:
    """``(K, 1 + ndim)`` long tensor of ``(b, *position)``: one random pixel per grid cell."""
    ndim = len(spatial)
    side = grid_side(percent, ndim)
    cells = [math.ceil(s / side) for s in spatial]
    grid = torch.stack(torch.meshgrid(*[torch.arange(n) for n in cells], indexing="ij"), -1)
    grid = grid.reshape(1, -1, ndim).expand(batch, -1, -1)
    position = grid * side + torch.randint(side, grid.shape, generator=generator)
    inside = (position < torch.tensor(spatial)).all(-1)
    b = torch.arange(batch).view(-1, 1).expand(-1, grid.shape[1])
    coords = torch.cat([b[inside].unsqueeze(-1), position[inside]], dim=-1)
    return coords.to(device)


def _window_offsets(ndim: int, radius: int) -> torch.Tensor:
    """All non-zero offsets of the ``(2 radius + 1) ** ndim`` window."""
    steps = range(-radius, radius + 1)
    return torch.tensor([o for o in itertools.product(steps, repeat=ndim) if any(o)], dtype=torch.long)


def _neighbour(position: torch.Tensor, offset: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """``position + offset``, with the offset flipped on axes where that leaves the patch.

    Flipping (rather than mirroring the index) never lands back on the pixel itself.
    """
    target = position + offset
    return torch.where((target < 0) | (target >= size), position - offset, target)


def _gather(x: torch.Tensor, b: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Values ``x[b, :, *position]`` for each row: shape ``(*b.shape, C)``."""
    index = (b,) + tuple(position[..., i] for i in range(position.shape[-1]))
    return x.movedim(1, -1)[index]


def replace_pixels(x: torch.Tensor, coords: torch.Tensor, generator: torch.Generator,
                   median: bool = False, radius: int = 2) -> torch.Tensor:
    """A copy of ``(B, C, *spatial)`` `x` with the pixels at `coords` ``(K, 1 + ndim)`` hidden:
    each gets the value of a random neighbour (N2V) or, with `median`, the median of its window
    without itself (N2V2). All channels of a pixel are replaced together."""
    spatial = tuple(x.shape[2:])
    b, position = coords[:, 0], coords[:, 1:]
    size = torch.tensor(spatial, device=x.device)
    offsets = _window_offsets(len(spatial), radius).to(x.device)
    if median:
        window = _neighbour(position[:, None, :], offsets[None], size)  # (K, M, ndim)
        values = _gather(x, b[:, None].expand(-1, offsets.shape[0]), window)  # (K, M, C)
        replacement = values.median(dim=1).values
    else:
        pick = torch.randint(offsets.shape[0], (len(b),), generator=generator).to(x.device)
        replacement = _gather(x, b, _neighbour(position, offsets[pick], size))
    masked = x.clone()
    index = (b,) + tuple(position[:, i] for i in range(position.shape[1]))
    masked.movedim(1, -1)[index] = replacement
    return masked


def mask_batch(x: torch.Tensor, percent: float, generator: torch.Generator, median: bool = False,
               exclude: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Blind-spot input for a ``(B, C, *spatial)`` batch and the masked coordinates (~`percent`
    % of pixels, stratified). Pixels where `exclude` ``(B, 1, *spatial)`` is true (held-out
    pixels) are never masked, so they are never a training target."""
    coords = stratified_coordinates(x.shape[0], tuple(x.shape[2:]), percent, generator).to(x.device)
    if exclude is not None:
        coords = coords[~exclude[(coords[:, 0], 0) + tuple(coords[:, 1:].T)]]
    return replace_pixels(x, coords, generator, median), coords


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Mean squared error on the masked pixels only (all channels)."""
    b, position = coords[:, 0], coords[:, 1:]
    return (_gather(prediction, b, position) - _gather(target, b, position)).float().pow(2).mean()

"""Tiled, overlapping, memory-bounded prediction.

The stack is cut into tiles that overlap by a margin on each side; each tile is predicted with
its margin and only its inner part is written, so every output pixel comes from a tile in
which it had at least `margin` pixels of context (or the image border). Tiles of one sample
are batched. Memory is bounded by the tile and batch size: tiles are read from the input (numpy,
dask or zarr) one batch at a time and written straight into the output array, which may itself
be a zarr array on disk.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .data import StackView


def tile_grid(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Along one axis: ``(read_start, read_stop, write_start, write_stop)`` for each tile.

    Tiles read ``tile`` pixels (or the whole axis when it is shorter) and write the part that
    lies at least `margin` away from the read window's inner edges. Write ranges partition
    ``[0, size)`` exactly.
    """
    if size <= tile:
        return [(0, size, 0, size)]
    inner = tile - 2 * margin
    if inner < 1:
        raise ValueError(f"tile {tile} must exceed twice the overlap margin {margin}")
    out = []
    write = 0
    while write < size:
        read_start = min(max(write - margin, 0), size - tile)
        write_stop = size if read_start + tile >= size else read_start + tile - margin
        out.append((read_start, read_start + tile, write, write_stop))
        write = write_stop
    return out


def iter_tiles(spatial: tuple[int, ...], tile: tuple[int, ...], margin: tuple[int, ...]
               ) -> Iterator[tuple[tuple[slice, ...], tuple[slice, ...], tuple[slice, ...]]]:
    """Yield ``(read, write, inner)`` slices: read from the input, write to the output, and
    the part of the tile's prediction that goes there."""
    grids = [tile_grid(s, t, m) for s, t, m in zip(spatial, tile, margin)]
    for combo in itertools.product(*grids):
        read = tuple(slice(r0, r1) for r0, r1, _, _ in combo)
        write = tuple(slice(w0, w1) for _, _, w0, w1 in combo)
        inner = tuple(slice(w0 - r0, w1 - r0) for r0, _, w0, w1 in combo)
        yield read, write, inner


class PairedView:
    """Two recordings of one field tiled as one: each read holds both tiles, channels side by
    side (the predictor averages their denoised tiles)."""

    def __init__(self, first: StackView, second: StackView):
        self.first, self.second = first, second

    def __getattr__(self, name):
        return getattr(self.first, name)

    def read(self, flat_sample: int, region: tuple[slice, ...]) -> np.ndarray:
        return np.concatenate([self.first.read(flat_sample, region), self.second.read(flat_sample, region)])


@dataclass(frozen=True)
class TileGroup:
    """Tiles of one sample predicted together in one batch."""

    sample: int
    tiles: tuple[tuple[tuple[slice, ...], tuple[slice, ...], tuple[slice, ...]], ...]


def plan_tiles(view: StackView, tile: tuple[int, ...], margin: tuple[int, ...], batch_size: int) -> list[TileGroup]:
    """The whole prediction as a list of batches; local and distributed runs share it, so
    they compute exactly the same thing."""
    tiles = tuple(iter_tiles(view.spatial_shape, tile, margin))
    return [TileGroup(sample, tiles[start : start + batch_size])
            for sample in range(view.n_samples) for start in range(0, len(tiles), batch_size)]


def predict_group(view: StackView, group: TileGroup, predict_batch: Callable[..., list[np.ndarray]],
                  within: Callable[[float], None] | None = None) -> list[list[np.ndarray]]:
    """Predict one batch: for each output, the inner (written) part of every tile. `within`
    (share of the batch done), passed on to `predict_batch`, reports inside a long batch."""
    batch = np.stack([view.read(group.sample, read) for read, _, _ in group.tiles])
    results = predict_batch(batch) if within is None else predict_batch(batch, within)
    return [[result[(k, slice(None)) + inner] for k, (_, _, inner) in enumerate(group.tiles)]
            for result in results]


def write_group(view: StackView, group: TileGroup, parts: list[list[np.ndarray]], outputs: list) -> None:
    index = view.sample_index(group.sample)
    for out, blocks in zip(outputs, parts):
        for (_, write, _), block in zip(group.tiles, blocks):
            out[index + (slice(None),) + write] = block


def predict_tiled(view: StackView, predict_batch: Callable[[np.ndarray], list[np.ndarray]],
                  outputs: list, tile: tuple[int, ...], margin: tuple[int, ...], batch_size: int = 4,
                  progress: Callable[[int, int], None] | None = None) -> None:
    """Run `predict_batch` over all tiles of `view` and write into each of `outputs`.

    `predict_batch` maps raw float32 ``(B, C, *tile)`` to a list of arrays of the same shape
    (one per output: e.g. the denoised image and its uncertainty). Each output is array-like of
    shape ``(samples..., C, *spatial)`` supporting slice assignment (numpy or zarr).
    `progress(done, total)` counts tiles: 0 at the start, then fractions of a batch as
    `predict_batch(raw, within)` reports them (a 3D batch can take a minute), whole at its end.
    """
    groups = plan_tiles(view, tile, margin, batch_size)
    total, done = sum(len(g.tiles) for g in groups), 0
    if progress is not None:
        progress(0, total)
    for group in groups:
        n = len(group.tiles)
        within = None if progress is None else (lambda share, base=done, n=n: progress(base + share * n, total))
        write_group(view, group, predict_group(view, group, predict_batch, within), outputs)
        done += n
        if progress is not None:
            progress(done, total)

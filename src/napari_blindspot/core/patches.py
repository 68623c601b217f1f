"""Random training patches of one stack, with the held-out mask of each patch.

In-memory arrays are sliced directly (no copy of the stack). Lazy arrays are read through a
cache of random blocks (`cache_blocks` of them, each a few patches wide) that is partly
refreshed as training goes, so memory stays bounded by the cache whatever the stack size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import Normalisation, StackView
from .heldout import heldout_mask
from .window import PlaneWindow


@dataclass(frozen=True)
class Pairs:
    """Where each sample's second recording is (Noise2Noise): the same sample of another view
    (two recordings), or the neighbouring frame of the same view (frames that are repeats)."""

    view: StackView
    stride: int = 0  # 0: the same sample of `view`; else frames are `stride` flat samples apart
    frames: int = 1

    def partner(self, sample: int) -> int:
        if not self.stride:
            return sample
        frame = sample // self.stride % self.frames
        return sample + self.stride if frame + 1 < self.frames else sample - self.stride

    @classmethod
    def of_frames(cls, view: StackView) -> "Pairs":
        """Neighbouring T frames (or S samples, without T) of `view` as repeated recordings."""
        samples = [a for a in "STZ" if a in view.axes and a not in ("ZYX" if view.spatial_ndim == 3 else "YX")]
        axis = "T" if "T" in samples else "S" if "S" in samples else None
        if axis is None or view.sample_shape[samples.index(axis)] < 2:
            raise ValueError(f"frames that are repeats need a T (or S) axis with at least 2 frames; axes are "
                             f"'{view.axes}': give a second recording instead")
        at = samples.index(axis)
        return cls(view, int(np.prod(view.sample_shape[at + 1 :], dtype=int)), view.sample_shape[at])


# Share of neighbour-plane windows read as if near an end of the stack (window.window_planes):
# enough for the network to learn the ends, where otherwise only 2k of the planes teach it.
BORDER_SHARE = 0.25


class PatchSampler:
    """Random normalised training patches, drawn on the fly, with random flips and rotations;
    each comes with its held-out pixels (`heldout.heldout_mask`), flipped and rotated alike.
    A `PlaneWindow` view gives each patch its neighbour planes as channels: one transform for
    all of them, held-out pixels of the target plane only."""

    def __init__(self, view: StackView, norm: Normalisation, patch: tuple[int, ...], seed: int,
                 cache_blocks: int = 32, refresh_every: int = 20, pairs: Pairs | None = None):
        if len(patch) != view.spatial_ndim:
            raise ValueError(f"patch {patch} must have {view.spatial_ndim} dimensions")
        if any(p > s for p, s in zip(patch, view.spatial_shape)):
            raise ValueError(
                f"patch {tuple(patch)} is larger than the image's spatial shape "
                f"{view.spatial_shape}: choose a patch size of at most "
                f"{min(view.spatial_shape)} (multiples of 8 work best)"
            )
        self.view, self.norm, self.patch, self.seed, self.pairs = view, norm, tuple(patch), seed, pairs
        self.rng = np.random.default_rng(seed)
        self.refresh_every = refresh_every
        self._draws = 0
        self._blocks: list[tuple[np.ndarray, np.ndarray]] = []
        if view.is_lazy:
            self._block_shape = tuple(min(s, 4 * p) for s, p in zip(view.spatial_shape, patch))
            self._blocks = [self._read_block() for _ in range(cache_blocks)]

    def _random_region(self, shape: tuple[int, ...]) -> tuple[slice, ...]:
        starts = [int(self.rng.integers(0, s - p + 1)) for s, p in zip(self.view.spatial_shape, shape)]
        return tuple(slice(a, a + p) for a, p in zip(starts, shape))

    def _held(self, sample: int, region: tuple[slice, ...]) -> np.ndarray:
        return heldout_mask(sample, region, self.view.spatial_shape, self.seed)[None]

    def _read(self, view: StackView, flat: int, region: tuple[slice, ...], border=None) -> np.ndarray:
        if isinstance(view, PlaneWindow):  # a window reads each of its planes
            return self.norm.apply(view.read(flat, region, border))
        if view.is_lazy:
            return self.norm.apply(view.read(flat, region))
        raw = view.array[view.sample_index(flat) + (slice(None),) + region]  # no copy of the stack
        return self.norm.apply(raw.astype(np.float32, copy=False))

    def _read_pair(self, flat: int, region: tuple[slice, ...]) -> np.ndarray:
        """``(C, *region)``, or with `pairs` both recordings on the channel axis ``(2C, ...)``; with
        neighbour planes (a `PlaneWindow` view) each recording is its window of planes."""
        border = self._border()
        patch = self._read(self.view, flat, region, border)
        if self.pairs is None:
            return patch
        return np.concatenate([patch, self._read(self.pairs.view, self.pairs.partner(flat), region, border)])

    def _border(self) -> tuple[int, int] | None:
        """For a window, now and then: read it as if its target were near an end of the stack."""
        if not isinstance(self.view, PlaneWindow) or self.rng.random() >= BORDER_SHARE:
            return None
        return (1 if self.rng.random() < 0.5 else -1), int(self.rng.integers(self.view.k))

    def _read_block(self) -> tuple[np.ndarray, np.ndarray]:
        sample, region = int(self.rng.integers(self.view.n_samples)), self._random_region(self._block_shape)
        return self._read_pair(sample, region), self._held(sample, region)

    def _one_patch(self) -> tuple[np.ndarray, np.ndarray]:
        if self._blocks:
            block, held = self._blocks[int(self.rng.integers(len(self._blocks)))]
            starts = [int(self.rng.integers(0, b - p + 1)) for b, p in zip(block.shape[1:], self.patch)]
            inner = (slice(None),) + tuple(slice(a, a + p) for a, p in zip(starts, self.patch))
            patch, held = block[inner], held[inner]
        else:
            flat = int(self.rng.integers(self.view.n_samples))
            region = self._random_region(self.patch)
            patch, held = self._read_pair(flat, region), self._held(flat, region)
        turns, flips = self._random_transform(patch)
        return _transform(patch, turns, flips), _transform(held, turns, flips)

    def _random_transform(self, patch: np.ndarray) -> tuple[int, list[int]]:
        """A random 90-degree rotation in the YX plane (if square) and flips along each axis."""
        turns = int(self.rng.integers(4)) if patch.shape[-1] == patch.shape[-2] else 0
        return turns, [axis for axis in range(1, patch.ndim) if self.rng.random() < 0.5]

    def batch_and_heldout(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(size, C, *patch)`` float32 (2C with `pairs`) and ``(size, 1, *patch)`` bool (held
        out), contiguous."""
        self._draws += 1
        if self._blocks and self._draws % self.refresh_every == 0:
            self._blocks[int(self.rng.integers(len(self._blocks)))] = self._read_block()
        patches, held = zip(*(self._one_patch() for _ in range(size)))
        return np.ascontiguousarray(np.stack(patches)), np.ascontiguousarray(np.stack(held))

    def batch(self, size: int) -> np.ndarray:
        """``(size, C, *patch)`` float32, contiguous."""
        return self.batch_and_heldout(size)[0]


def _transform(array: np.ndarray, turns: int, flips: list[int]) -> np.ndarray:
    array = np.rot90(array, turns, axes=(-2, -1))
    return np.flip(array, flips) if flips else array

"""Neighbour planes as context: a sample read with the `k` planes on each side of it.

The planes come from one sample axis (T, or Z when a stack is trained slice by slice) and are
stacked on the channel axis, the target plane's channels first, then the planes at offsets
-k..-1, 1..k: ``x[:, :C]`` is always the target, so whatever reads only the target still works.
Beyond the first and last plane the window is mirrored about its target (plane -1 of plane 0
reads plane 1), so a target plane is never its own neighbour and a border plane sees real
planes, not padding.
"""

from __future__ import annotations

import math

import numpy as np

from .data import StackView


def offsets(k: int) -> tuple[int, ...]:
    """The neighbours' offsets from the target plane, in channel order."""
    return tuple(range(-k, 0)) + tuple(range(1, k + 1))


def neighbour(plane: int, offset: int, planes: int) -> int:
    """The plane at `offset` from `plane`; past an end of the stack, the one at -`offset`
    (mirrored about the target plane: plane -1 of plane 0 reads plane 1). Mirroring about the
    stack's end instead would hand plane 1 itself as its neighbour -2."""
    index = plane + offset if 0 <= plane + offset < planes else plane - offset
    if not 0 <= index < planes:
        raise ValueError(f"{planes} planes are too few for neighbours {abs(offset)} planes away: "
                         f"use at most {(planes - 1) // 2} neighbour planes on each side")
    return index


def window_planes(plane: int, planes: int, k: int, border: tuple[int, int] | None = None) -> tuple[int, ...]:
    """The planes read for target `plane`: itself first, then its neighbours in `offsets` order.

    `border` = (side, distance) reads the window as if the target lay `distance` planes from the
    stack's start (side -1) or end (+1): the neighbours beyond are mirrored as there. Training
    shows the network such windows in the interior too, so it learns what the real ends need
    (with a drifting scene, the mirrored window of a first plane is one plane off)."""
    window = [plane]
    for d in offsets(k):
        if border is not None and d * border[0] > border[1]:
            d = -d
        window.append(neighbour(plane, d, planes))
    return tuple(window)


def max_planes(planes: int) -> int:
    """The most neighbour planes on each side a stack of `planes` planes can give every plane."""
    return max(0, (planes - 1) // 2)


class PlaneWindow:
    """A `StackView` whose reads hold each sample's neighbour planes along `axis` as channels.

    `planes` = (lo, hi) narrows the samples to those planes (their outputs are all that is
    predicted) while their neighbours are still read from the whole stack: a preview or a lazy
    chunk gets exactly what predicting the whole stack would give it.
    """

    def __init__(self, view: StackView, axis: str, k: int, planes: tuple[int, int] | None = None):
        samples = [a for a in "STZ" if a in view.axes and a not in ("ZYX" if view.spatial_ndim == 3 else "YX")]
        if axis not in samples:
            raise ValueError(f"neighbour planes need a sample axis T or Z (sliced in 2D); axes are '{view.axes}'")
        self.base, self.axis, self.k = view, axis, k
        self.at = samples.index(axis)
        self.size = view.sample_shape[self.at]  # planes along the axis in the whole stack
        self.lo, self.hi = planes if planes is not None else (0, self.size)
        if 2 * k + 1 > self.size and planes is None:
            raise ValueError(f"{self.size} planes along {axis} are too few for {k} neighbour planes on each "
                             f"side: use at most {max_planes(self.size)}")
        if not 0 <= self.lo < self.hi <= self.size:
            raise ValueError(f"planes {planes} are not within the {self.size} planes along {axis}")
        shape = list(view.sample_shape)
        shape[self.at] = self.hi - self.lo
        self.sample_shape = tuple(shape)

    def __getattr__(self, name):  # axes, channels, spatial_shape, order, to_user_layout, ...
        return getattr(self.base, name)

    @property
    def n_samples(self) -> int:
        return math.prod(self.sample_shape)

    @property
    def window_channels(self) -> int:
        """Channels of a read: the target's and each neighbour's."""
        return (2 * self.k + 1) * self.base.channels

    def sample_index(self, flat: int) -> tuple[int, ...]:
        """Where sample `flat` of the (narrowed) samples is written."""
        return tuple(int(i) for i in np.unravel_index(flat, self.sample_shape)) if self.sample_shape else ()

    def base_sample(self, flat: int) -> int:
        """Sample `flat` of the narrowed samples as a flat sample of the whole stack."""
        index = list(self.sample_index(flat))
        index[self.at] += self.lo
        return int(np.ravel_multi_index(index, self.base.sample_shape))

    def read(self, flat_sample: int, region: tuple[slice, ...], border: tuple[int, int] | None = None) -> np.ndarray:
        """``((2k+1) C, *region)`` float32: the target plane's block, then its neighbours'
        (`border`: as if near an end, `window_planes`)."""
        index = list(np.unravel_index(self.base_sample(flat_sample), self.base.sample_shape))
        blocks = []
        for plane in window_planes(int(index[self.at]), self.size, self.k, border):
            index[self.at] = plane
            blocks.append(self.base.read(int(np.ravel_multi_index(index, self.base.sample_shape)), region))
        return np.concatenate(blocks)


def windowed(view: StackView, axis: str | None, k: int, planes: tuple[int, int] | None = None):
    """`view` with its neighbour planes (a `PlaneWindow`), or `view` itself when k is 0."""
    if not k or axis is None:
        return view
    return PlaneWindow(view, axis, k, planes)

"""Neighbour planes as context: a sample read with the `k` planes on each side of it.

The planes come from one sample axis (T, or Z when a stack is trained slice by slice) and are
stacked on the channel axis, the target plane's channels first, then the planes at offsets
-k..-1, 1..k: ``x[:, :C]`` is always the target, so whatever reads only the target still works.
Beyond the first and last plane the window is mirrored about its target (plane -1 of plane 0
reads plane 1), so a target plane is never its own neighbour and a border plane sees real
planes, not padding. Last come C channels that say how the window is mirrored (`border_code`):
without them a network applies what it learnt in the middle of a drifting stack to the mirrored
windows of its first and last planes, one plane off, and does worse there than with no
neighbours at all (docs/benchmarks.md, "Stacks").
"""

from __future__ import annotations

import math

import numpy as np

from .data import Normalisation, StackView


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


def border_code(window: tuple[int, ...], k: int) -> float:
    """How the window is mirrored: the share of its neighbours read from the other side of the
    target, + when the stack's start is near (its earlier planes are missing), - for its end."""
    target, planes = window[0], window[1:]
    return sum(np.sign(d) * (np.sign(p - target) != np.sign(d)) for d, p in zip(offsets(k), planes)) * -1.0 / k


def window_channels(k: int, channels: int) -> int:
    """A network's input channels for `channels` channels with `k` neighbour planes on each side."""
    return (2 * k + 2) * channels if k else channels


def max_planes(planes: int) -> int:
    """The most neighbour planes on each side a stack of `planes` planes can give every plane."""
    return max(0, (planes - 1) // 2)


class PlaneWindow:
    """A `StackView` whose reads hold each sample's neighbour planes along `axis` as channels.

    `planes` = (lo, hi) narrows the samples to those planes (their outputs are all that is
    predicted) while their neighbours are still read from the whole stack: a preview or a lazy
    chunk gets exactly what predicting the whole stack would give it.
    """

    def __init__(self, view: StackView, axis: str, k: int, norm: Normalisation, planes: tuple[int, int] | None = None):
        samples = [a for a in "STZ" if a in view.axes and a not in ("ZYX" if view.spatial_ndim == 3 else "YX")]
        if axis not in samples:
            raise ValueError(f"neighbour planes need a sample axis T or Z (sliced in 2D); axes are '{view.axes}'")
        self.base, self.axis, self.k, self.norm = view, axis, k, norm
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
        """Channels of a read: the target's, each neighbour's and the border code's."""
        return window_channels(self.k, self.base.channels)

    def sample_index(self, flat: int) -> tuple[int, ...]:
        """Where sample `flat` of the (narrowed) samples is written."""
        return tuple(int(i) for i in np.unravel_index(flat, self.sample_shape)) if self.sample_shape else ()

    def base_sample(self, flat: int) -> int:
        """Sample `flat` of the narrowed samples as a flat sample of the whole stack."""
        index = list(self.sample_index(flat))
        index[self.at] += self.lo
        return int(np.ravel_multi_index(index, self.base.sample_shape))

    def read(self, flat_sample: int, region: tuple[slice, ...], border: tuple[int, int] | None = None) -> np.ndarray:
        """``((2k+2) C, *region)`` float32: the target plane's block, then its neighbours', then
        the border code in the units `norm` makes it out of (`border`: as if near an end,
        `window_planes`)."""
        index = list(np.unravel_index(self.base_sample(flat_sample), self.base.sample_shape))
        window = window_planes(int(index[self.at]), self.size, self.k, border)
        blocks = []
        for plane in window:
            index[self.at] = plane
            blocks.append(self.base.read(int(np.ravel_multi_index(index, self.base.sample_shape)), region))
        code = np.asarray(self.norm.mean) + np.asarray(self.norm.std) * border_code(window, self.k)
        blocks.append(np.broadcast_to(code.reshape(-1, *[1] * len(region)).astype(np.float32), blocks[0].shape))
        return np.concatenate(blocks)


def windowed(view: StackView, axis: str | None, k: int, norm: Normalisation, planes: tuple[int, int] | None = None):
    """`view` with its neighbour planes (a `PlaneWindow`), or `view` itself when k is 0."""
    if not k or axis is None:
        return view
    return PlaneWindow(view, axis, k, norm, planes)

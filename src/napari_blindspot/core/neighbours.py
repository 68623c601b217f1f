"""How many neighbour planes a stack gets as context, and the check that makes it safe.

Neighbour planes (window.py) show nearly the same content as the target plane with noise of
their own: evidence for the target pixel that its blind spot does not hide, and no leak as long
as that noise is independent of the target's. Noise shared between planes (fixed-pattern noise,
a camera's row offsets repeated in every frame, repeated frames) would pass through the
neighbours and be kept as signal, so it is measured first (`shared_noise`) and, when found,
the stack is trained without neighbours (docs/methods.md, "Neighbour planes").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .window import max_planes

# k = 2 from 8 planes (two on each side is where SUPPORT-like gains level off on short stacks;
# docs/benchmarks.md, "Stacks"), 1 from 3 planes; never more than every plane can be given.
PLANES_FOR = ((8, 2), (3, 1))
# Share of a plane's pixel-scale noise that its neighbours share, above which they are not
# used: independent noise measures ~0 (+-0.05 on 256x256 crops), a pattern as strong as a
# quarter of the noise variance measures ~0.2.
SHARED_NOISE_LIMIT = 0.15
CHECK_SIDE = 256  # pixels of each plane the check reads (a centred crop)
CHECK_PAIRS = 8  # pairs of neighbouring planes it compares


@dataclass(frozen=True)
class Context:
    """The neighbour planes chosen: `k` on each side along `axis` (None when off), and why."""

    k: int
    axis: str | None
    reason: str
    shared_noise: float | None = None  # the share of noise neighbouring planes have in common

    @property
    def warning(self) -> bool:
        """True when neighbours were turned off because the noise is shared between planes."""
        return self.shared_noise is not None and self.shared_noise > SHARED_NOISE_LIMIT


def plane_axis(axes: str, three_d: bool, frames_are_repeats: bool = False) -> str | None:
    """The axis whose planes are context: Z when a stack is trained slice by slice (its planes
    are one instant), else T. Never the frames N2N pairs as repeats: a neighbour would be the target."""
    if "Z" in axes and not three_d:
        return "Z"
    if "T" in axes and not frames_are_repeats:
        return "T"
    return None


def default_planes(planes: int) -> int:
    """k for a stack of `planes` planes along the context axis."""
    k = next((k for least, k in PLANES_FOR if planes >= least), 0)
    return min(k, max_planes(planes))


def _detail(plane: np.ndarray) -> list[np.ndarray]:
    """Second differences across rows, across columns and both: content that is locally linear
    cancels in each; a row (column) offset survives the first (second)."""
    rows = plane[1:-1, 1:-1] - (plane[:-2, 1:-1] + plane[2:, 1:-1]) / 2
    cols = plane[1:-1, 1:-1] - (plane[1:-1, :-2] + plane[1:-1, 2:]) / 2
    return [rows, cols, (rows + cols) / 2]


def _robust_var(x: np.ndarray, keep: float = 0.9) -> float:
    """Mean square of the smallest `keep` of the values by rank: the noise, not the few edges
    among it (a fixed factor below the variance, the same for every term of a ratio). Ranks,
    not a median: the median of low photon counts' whole-numbered differences jumps in steps."""
    squares = np.sort((x - np.median(x)).ravel() ** 2)
    return float(squares[: max(1, int(keep * squares.size))].mean())


def shared_noise(planes: np.ndarray) -> float:
    """The share of pixel-scale noise variance that neighbouring planes of ``(N, Y, X)`` have in
    common (0: independent, 1: the same noise in every plane).

    For noise n_t = s + e_t (s shared, e_t independent), a fine detail D of one plane has
    variance v_s + v_e, of the difference of two neighbours 2 v_e: the shared share is
    1 - var D(x_t - x_t+1) / (var D(x_t) + var D(x_t+1)). Details cancel smooth content, and a
    trimmed variance ignores the edges left, so content that changes little between planes does
    not count; content that changes (motion) only lowers the estimate. Taken over each detail
    direction, so a pattern along rows or columns alone is found.
    """
    planes = planes.astype(np.float64)
    shares = []
    for first, second in zip(planes[:-1], planes[1:]):
        for one, two, diff in zip(_detail(first), _detail(second), _detail(first - second)):
            alone = _robust_var(one) + _robust_var(two)
            if alone > 0:
                shares.append(1 - _robust_var(diff) / alone)
    if not shares:
        return 0.0
    per_direction = np.asarray(shares).reshape(-1, 3)
    return float(np.max(np.median(per_direction, axis=0)))


def _sample_planes(view, axis: str) -> np.ndarray:
    """Up to `CHECK_PAIRS` pairs of neighbouring planes along `axis` (centred crops, channel 0,
    the middle of any other sample axis), as ``(2 * pairs, Y, X)``."""
    samples = [a for a in "STZ" if a in view.axes and a not in ("ZYX" if view.spatial_ndim == 3 else "YX")]
    at, size = samples.index(axis), view.sample_shape[samples.index(axis)]
    spatial = view.spatial_shape
    region = tuple(slice(max(0, (s - CHECK_SIDE) // 2), max(0, (s - CHECK_SIDE) // 2) + min(s, CHECK_SIDE))
                   for s in spatial[-2:])
    if len(spatial) == 3:  # a 3D model's volume: its middle Z plane
        region = (slice(spatial[0] // 2, spatial[0] // 2 + 1),) + region
    starts = np.unique(np.linspace(0, size - 2, min(CHECK_PAIRS, size - 1)).round().astype(int))
    index = [s // 2 for s in view.sample_shape]
    out = []
    for start in starts:
        for plane in (start, start + 1):
            index[at] = plane
            block = view.read(int(np.ravel_multi_index(index, view.sample_shape)), region)
            out.append(block[0].reshape(block.shape[-2:]))
    return np.stack(out)


def _pairwise(planes: np.ndarray) -> float:
    """`shared_noise` over the sampled pairs (consecutive entries), the largest: a few repeated
    frames among many are enough to leak."""
    return float(np.max([shared_noise(planes[i : i + 2]) for i in range(0, len(planes), 2)]))


def choose_context(view, requested: int | None, three_d: bool, frames_are_repeats: bool = False) -> Context:
    """Neighbour planes for a `StackView`: `requested` (None: from the data, 0: off), checked
    against the stack's length and its noise."""
    axis = plane_axis(view.axes, three_d, frames_are_repeats)
    if requested == 0:
        return Context(0, None, "neighbour planes off, as set")
    if axis is None:
        if requested:
            raise ValueError(f"neighbour planes need a T axis or a Z axis trained slice by slice; axes are "
                             f"'{view.axes}'{' (trained in 3D)' if three_d else ''}: use 0 neighbour planes")
        return Context(0, None, "no T or Z planes to use as context")
    samples = [a for a in "STZ" if a in view.axes and a not in ("ZYX" if view.spatial_ndim == 3 else "YX")]
    size = view.sample_shape[samples.index(axis)]
    if requested is not None and requested > max_planes(size):
        raise ValueError(f"{size} planes along {axis} are too few for {requested} neighbour planes on each side: "
                         f"use at most {max_planes(size)}")
    k = requested if requested is not None else default_planes(size)
    if not k:
        return Context(0, None, f"{axis}: only {size} planes, none used as context")
    shared = _pairwise(_sample_planes(view, axis))
    if shared > SHARED_NOISE_LIMIT and requested:  # the user's setting wins, with what we measured
        return Context(k, axis, f"{axis}: {k} planes on each side as set, though neighbouring planes share "
                       f"{100 * shared:.0f}% of their noise", shared)
    if shared > SHARED_NOISE_LIMIT:
        return Context(0, None, f"{axis}: neighbouring planes share {100 * shared:.0f}% of their noise (fixed-pattern "
                       "noise or repeated frames): trained without neighbour planes", shared)
    return Context(k, axis, f"{axis}: {k} plane{'s' if k > 1 else ''} on each side", shared)


def context_for(config, spec, view, three_d: bool) -> Context:
    """A continued model's neighbour planes (its `spec`), else `config.context_planes` or the
    data's choice."""
    if spec is not None:
        k, along = spec.context_planes, spec.context_axis
        if config.context_planes is not None and config.context_planes != k:
            raise ValueError(f"the model was trained with {k} neighbour planes on each side; continue it with "
                             f"context_planes={k} (or leave it unset)")
        return Context(k, along, f"{along}: {k} planes on each side, as the model was trained" if k else
                       "no neighbour planes, as the model was trained")
    from . import methods

    repeats = methods.get(config.method).needs_pairs and config.frames_are_repeats
    return choose_context(view, config.context_planes, three_d, frames_are_repeats=repeats)

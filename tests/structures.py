"""A bright box placed differently along every axis, to check that a result keeps the input's
layout: a flipped axis, or two axes of equal length swapped, moves the box elsewhere."""

import itertools

import numpy as np

BOX_START = {"Z": 2 / 3, "Y": 1 / 6, "X": 1 / 2}  # fraction of the axis where the box begins


def box_mask(axes: str, shape: tuple[int, ...]) -> np.ndarray:
    """A quarter of each of Y, X (and Z, when long) from its own start; the last plane of T, S
    and short Z; every channel."""
    index = []
    for axis, n in zip(axes, shape):
        if axis == "C":
            index.append(slice(None))
        elif axis in BOX_START and n > 3:
            start = int(BOX_START[axis] * n)
            index.append(slice(start, start + n // 4 + 1))
        else:
            index.append(slice(n - 1, n))
    mask = np.zeros(shape, bool)
    mask[tuple(index)] = True
    return mask


def _misplaced(mask: np.ndarray, axes: str) -> list[tuple[str, np.ndarray]]:
    """The box as each axis flip or swap of equal-length axes would put it."""
    out = [(f"{a} flipped", np.flip(mask, i)) for i, a in enumerate(axes) if mask.shape[i] > 1]
    for i, j in itertools.combinations(range(len(axes)), 2):
        if mask.shape[i] == mask.shape[j]:
            out.append((f"{axes[i]}, {axes[j]} swapped", np.swapaxes(mask, i, j)))
    return out


def _corr(a, b) -> float:
    return float(np.corrcoef(np.ravel(a), np.ravel(b).astype(np.float64))[0, 1])


def assert_box_in_place(out: np.ndarray, axes: str, mask: np.ndarray) -> None:
    """Per channel, the result follows the box where it is, far more than where a flip or a
    swap of axes would have put it."""
    c_axis = axes.index("C") if "C" in axes else None
    picks = [(slice(None),) * c_axis + (c,) for c in range(out.shape[c_axis])] if c_axis is not None else [()]
    rest = axes.replace("C", "")
    for pick in picks:
        here = _corr(out[pick], mask[pick])
        assert here > 0.5, f"channel {pick[-1:]}: the box is lost (correlation {here:.2f})"
        for name, wrong in _misplaced(mask[pick], rest):
            there = abs(_corr(out[pick], wrong))
            assert there < here / 2, f"the result looks like {name} (correlation {there:.2f} vs {here:.2f})"

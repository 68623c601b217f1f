"""Axes, normalisation and lazy patch sampling.

Every array the core works on is seen through a `StackView`: the user's array with its axes
reordered to ``(samples..., C, [Z,] Y, X)``. S and T (and Z when training slice by slice) are
sample axes; C is always present (length 1 when the image has no channel axis). The view never
copies: numpy arrays are transposed, lazy arrays (dask, zarr) are wrapped in dask and only the
patches and tiles that are asked for are ever read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

AXES_LETTERS = "STCZYX"
SAMPLE_AXES = "ST"


def guess_axes(shape: tuple[int, ...], scale: tuple[float, ...] | None = None) -> str:
    """A sensible axes string for an array of this shape (napari layer order: last two are YX).

    A leading axis of at most 4 entries is read as channels (CYX, CZYX), a longer one of a 3D
    array as frames (TYX): an axis nothing tells us about is a set of samples, never Z, since
    training a time-lapse as a volume mixes frames. `scale` (one spacing per axis, as napari's
    ``layer.scale``) is that knowledge: channels and unknown axes have no physical spacing, so a
    leading axis whose scale is not 1 is Z (ZYX) or time over stacks (TZYX). A guess the user
    can always correct.
    """
    ndim = len(shape)
    spaced = scale is not None and len(scale) == ndim and ndim > 2 and float(scale[0]) != 1.0
    if ndim == 2:
        return "YX"
    if ndim == 3:
        if spaced:
            return "ZYX"
        return "CYX" if shape[0] <= 4 and min(shape[1:]) > 32 else "TYX"
    if ndim == 4:
        return "CZYX" if shape[0] <= 4 and not spaced else "TZYX"
    if ndim == 5:
        return "TCZYX"
    if ndim == 6:
        return "STCZYX"
    raise ValueError(f"images must have 2 to 6 dimensions, got shape {tuple(shape)}")


# 3D or slice by slice. Axial resolution of widefield and confocal microscopes is about 2.5-3.5x
# worse than lateral, so stacks sampled for it have Z steps up to ~3 pixel sizes: neighbouring
# planes then share structure and 3D convolutions (and HQ-SSL's rotations, which turn Z into Y
# or X) see it. With larger steps, planes are nearly independent views and a 3x3x3 kernel
# spans 3x more depth than width: 2D slices train faster and no worse. 3D patches need depth:
# fewer than 16 planes cannot hold a patch for a two-level network (the trainer's MIN_SIDE).
MAX_Z_ANISOTROPY_3D = 3.0
MIN_Z_PLANES_3D = 16


def validate_scale(scale, ndim: int | None = None) -> tuple[float, ...] | None:
    """`scale` as a tuple of floats (one positive, finite spacing per axis), or a ValueError."""
    if scale is None:
        return None
    try:
        values = tuple(float(s) for s in scale)
    except (TypeError, ValueError):
        raise ValueError(f"scale must be one number per image axis, e.g. (2.0, 0.5, 0.5) for ZYX; "
                         f"got {scale!r}") from None
    bad = [s for s in values if not (math.isfinite(s) and s > 0)]
    if bad:
        raise ValueError(f"scale values must be positive and finite (voxel spacing per axis), got {values}")
    if ndim is not None and len(values) != ndim:
        raise ValueError(f"scale {values} has {len(values)} value(s) but the image has {ndim} axes: "
                         "give one spacing per axis, e.g. (2.0, 0.5, 0.5) for ZYX")
    return values


def choose_three_d(axes: str, shape: tuple[int, ...], scale: tuple[float, ...] | None = None,
                   gpu: bool = True) -> tuple[bool, str]:
    """Train Z in 3D or slice by slice in 2D, and a short sentence saying why.

    3D when the Z spacing is at most `MAX_Z_ANISOTROPY_3D` times the mean Y/X spacing and Z has
    at least `MIN_Z_PLANES_3D` planes. Without a scale the voxels are taken as isotropic.
    On the CPU (`gpu=False`) near-isotropic stacks are still trained slice by slice: a 3D
    convolution costs many times more per voxel there, so short 3D runs lose to 2D slices
    (docs/benchmarks.md, "3D stacks").
    """
    if "Z" not in axes:
        return False, "no Z axis: trained plane by plane in 2D"
    planes = shape[axes.index("Z")]
    if planes < MIN_Z_PLANES_3D:
        return False, f"only {planes} Z planes (3D needs {MIN_Z_PLANES_3D}): trained slice by slice in 2D"
    if scale is None:
        ratio, spacing = 1.0, "voxel size unknown, taken as isotropic"
    else:
        ratio = scale[axes.index("Z")] / ((scale[axes.index("Y")] + scale[axes.index("X")]) / 2)
        spacing = f"Z spacing is {ratio:.1f}x the pixel size"
    if round(ratio, 6) > MAX_Z_ANISOTROPY_3D:  # rounded: 0.6 / 0.2 is 3, not 3.0000000000000004
        return False, f"{spacing}: trained slice by slice in 2D"
    if not gpu:
        return False, (f"{spacing}, but 3D training is much slower per voxel on the CPU: trained slice "
                       "by slice in 2D (choose 3D for long runs)")
    return True, f"{spacing}: trained in 3D"


AXIS_NAMES = {"t": "T", "time": "T", "c": "C", "ch": "C", "channel": "C", "channels": "C", "z": "Z",
              "y": "Y", "x": "X", "s": "S", "sample": "S", "samples": "S"}  # napari / xarray / OME names


def axes_from_names(names) -> str | None:
    """Our axes for axis names such as napari's ``("t", "y", "x")``; None when any name means
    nothing to us (napari's default "-3", "-2", "-1") or a letter repeats."""
    axes = "".join(AXIS_NAMES.get(str(name).strip().lower(), "?") for name in names)
    return axes if axes and "?" not in axes and len(set(axes)) == len(axes) else None


def validate_axes(axes: str, shape: tuple[int, ...]) -> str:
    """Return `axes` upper-cased, or raise a ValueError that says what would fit."""
    if not isinstance(axes, str):
        raise TypeError(f"axes must be a string such as 'YX' or 'ZYX', got {type(axes).__name__}")
    axes = axes.upper().strip()
    hint = f"try '{guess_axes(shape)}'" if 2 <= len(shape) <= 6 else "use 2 to 6 dimensions"
    unknown = sorted(set(axes) - set(AXES_LETTERS))
    if unknown:
        raise ValueError(
            f"axes '{axes}' use unknown letter(s) {''.join(unknown)}: use S, T, C, Z, Y, X ({hint})"
        )
    if len(set(axes)) != len(axes):
        raise ValueError(f"axes '{axes}' repeat a letter: each of S, T, C, Z, Y, X at most once")
    if len(axes) != len(shape):
        raise ValueError(f"axes '{axes}' do not match image of shape {tuple(shape)}: {hint}")
    if not axes.endswith("YX") and not ("Y" in axes and "X" in axes):
        raise ValueError(f"axes '{axes}' must contain Y and X ({hint})")
    return axes


def _as_lazy(array):
    """numpy stays numpy; anything else (zarr, dask, h5py, memmap-like) becomes a dask array."""
    if isinstance(array, np.ndarray):
        return array
    import dask.array as da

    if isinstance(array, da.Array):
        return array
    chunks = getattr(array, "chunks", None)
    return da.from_array(array, chunks=chunks if chunks is not None else "auto")


@dataclass(frozen=True)
class StackView:
    """The user's array seen as ``(samples..., C, *spatial)`` without copying.

    `spatial_ndim` is 3 when Z is trained in 3D, else 2 (Z then counts as a sample axis).
    """

    array: object  # numpy or dask, already transposed
    axes: str  # the user's axes
    order: tuple[int, ...]  # transpose applied to the user's array
    n_sample_axes: int
    has_channel_axis: bool
    spatial_ndim: int

    @classmethod
    def of(cls, image, axes: str, three_d: bool | None = None) -> "StackView":
        axes = validate_axes(axes, image.shape)
        if three_d is None:
            three_d = "Z" in axes
        if three_d and "Z" not in axes:
            raise ValueError(f"3D training needs a Z axis, axes are '{axes}'")
        spatial = "ZYX" if three_d else "YX"
        samples = [a for a in "STZ" if a in axes and a not in spatial]
        order = tuple(axes.index(a) for a in samples + (["C"] if "C" in axes else []) + list(spatial))
        lazy = _as_lazy(image)
        arr = lazy.transpose(order)
        if "C" not in axes and isinstance(arr, np.ndarray):
            arr = arr[(slice(None),) * len(samples) + (None,)]
        elif "C" not in axes:  # blockwise: dask's arr[:, None] is one graph task per chunk, culled
            # again at every read (0.2 s per read and ~350 MiB for 256,000 chunks)
            arr = arr.map_blocks(np.expand_dims, axis=len(samples), new_axis=len(samples), dtype=arr.dtype)
        return cls(arr, axes, order, len(samples), "C" in axes, len(spatial))

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[: self.n_sample_axes])

    @property
    def n_samples(self) -> int:
        return math.prod(self.sample_shape)

    @property
    def channels(self) -> int:
        return self.array.shape[self.n_sample_axes]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape[self.n_sample_axes + 1 :])

    @property
    def is_lazy(self) -> bool:
        return not isinstance(self.array, np.ndarray)

    def sample_index(self, flat: int) -> tuple[int, ...]:
        return tuple(int(i) for i in np.unravel_index(flat, self.sample_shape)) if self.sample_shape else ()

    def read(self, flat_sample: int, region: tuple[slice, ...]) -> np.ndarray:
        """One sample's ``(C, *region)`` block as a float32 numpy array (reads lazily)."""
        block = self.array[self.sample_index(flat_sample) + (slice(None),) + tuple(region)]
        return np.asarray(block, dtype=np.float32)

    def to_user_layout(self, canonical: np.ndarray) -> np.ndarray:
        """Undo `of`: ``(samples..., C, *spatial)`` back to the user's axis order."""
        if not self.has_channel_axis:
            canonical = canonical[(slice(None),) * self.n_sample_axes + (0,)]
        return canonical.transpose(np.argsort(self.order))


@dataclass(frozen=True)
class Normalisation:
    """Per-channel ``z = (x - mean) / std``; stored with the model so prediction matches."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    def _per_channel(self, values, x: np.ndarray, channel_axis: int) -> np.ndarray:
        """`values` shaped to broadcast over `x`; repeated when `x` holds several planes' channels
        (neighbour planes, window.py: each plane's C channels in turn)."""
        shape = [1] * x.ndim
        shape[channel_axis] = x.shape[channel_axis]
        return np.reshape(np.tile(values, x.shape[channel_axis] // len(values)), shape)

    def apply(self, x: np.ndarray, channel_axis: int = 0) -> np.ndarray:
        mean, std = (self._per_channel(v, x, channel_axis) for v in (self.mean, self.std))
        return ((x - mean) / std).astype(np.float32)

    def undo(self, z: np.ndarray, channel_axis: int = 0) -> np.ndarray:
        mean, std = (self._per_channel(v, z, channel_axis) for v in (self.mean, self.std))
        return (z * std + mean).astype(np.float32)

    @property
    def zero_level(self) -> tuple[float, ...]:
        """Where raw 0 lies in normalised units (Poisson noise is proportional to x - 0)."""
        return tuple(-m / s for m, s in zip(self.mean, self.std))


def measure_normalisation(view: StackView, max_values: int = 2**24, seed: int = 0) -> Normalisation:
    """Per-channel mean/std over the whole stack, or over random blocks when it is large."""
    total = view.n_samples * math.prod(view.spatial_shape)
    if not view.is_lazy and total <= max_values:
        data = np.moveaxis(view.array, view.n_sample_axes, 0).reshape(view.channels, -1)
        values = [data[c].astype(np.float64) for c in range(view.channels)]
    else:
        rng = np.random.default_rng(seed)
        side = [min(s, 128 if view.spatial_ndim == 2 else 32) for s in view.spatial_shape]
        n_blocks = max(1, min(64, max_values // max(1, math.prod(side))))
        blocks = []
        for _ in range(n_blocks):
            start = [int(rng.integers(0, s - b + 1)) for s, b in zip(view.spatial_shape, side)]
            region = tuple(slice(a, a + b) for a, b in zip(start, side))
            blocks.append(view.read(int(rng.integers(view.n_samples)), region).reshape(view.channels, -1))
        stacked = np.concatenate(blocks, axis=1).astype(np.float64)
        values = list(stacked)
    peak = max((float(np.abs(v).max()) for v in values if v.size), default=0.0)
    if math.isfinite(peak) and peak > float(np.finfo(np.float32).max):
        raise ValueError(f"the image holds values up to {peak:.3g}, beyond float32's range (3.4e38) that "
                         "training computes in: rescale it (e.g. image / image.max()) first")
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf are refused just below, without a warning
        mean = tuple(float(v.mean()) for v in values)
        std = tuple(float(v.std()) for v in values)
    if any(not math.isfinite(m) or not math.isfinite(s) for m, s in zip(mean, std)):
        raise ValueError("the image contains NaN or Inf values: replace them (e.g. np.nan_to_num) first")
    if any(s <= 0 for s in std):
        raise ValueError("the image is constant (zero variance): there is nothing to denoise")
    return Normalisation(mean, std)

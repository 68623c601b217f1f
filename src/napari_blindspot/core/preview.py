"""Live previews: which part of the image, and how it is denoised with no border artefacts."""

from __future__ import annotations

import numpy as np

# Previews take at most this share of training time (training.Pacer), so they never slow
# training noticeably (docs/benchmarks.md, "Widget latency").
PREVIEW_SHARE = 0.05
# Z planes of context on each side in a 3D model's preview: each costs a whole plane of
# network work, and a preview need not match the full result's deepest context exactly.
DEPTH_CONTEXT = 4


def central_region(shape: tuple[int, ...], axes: str, side: int = 512, spatial: str = "YX",
                   depth: int = 16, keep_dims: bool = False) -> tuple:
    """The centre of an image: at most `side` pixels along Y and X (`depth` along Z when Z is
    in `spatial`), all of C, and the middle plane of every other axis (an int, or a one-plane
    slice with `keep_dims`)."""
    region = []
    for size, axis in zip(shape, axes):
        if axis in spatial:
            width = min(size, depth if axis == "Z" else side)
            start = (size - width) // 2
            region.append(slice(start, start + width))
        elif axis == "C":
            region.append(slice(None))
        else:
            region.append(slice(size // 2, size // 2 + 1) if keep_dims else size // 2)
    return tuple(region)


def preview_of(model, image, axes: str, region: tuple, context: int = 16, depth_context: int = DEPTH_CONTEXT
               ) -> np.ndarray:
    """Denoise just `region` of `image` (ints pick planes, slices pick ranges).

    The model's spatial axes are read `context` pixels wider than asked (Z of a 3D model
    `depth_context`), so the preview has no border artefacts the full result would not have;
    the result is cropped back to `region`. The read is one tile: cut by the prediction's
    tiles, a region a little larger than one would cost four (docs/benchmarks.md, "Widget latency").
    A model with neighbour planes also reads k planes on each side along its plane axis (as
    far as the stack goes: its mirrored ends are then the whole stack's) and predicts only the
    planes asked for.
    """
    spatial = "ZYX" if model.spec.spatial_ndim == 3 else "YX"
    k, plane_axis = model.spec.context_planes, model.spec.context_axis
    read, crop, planes, sides = [], [], {}, {}
    for size, axis, want in zip(image.shape, axes, region):
        start, stop = want.indices(size)[:2] if isinstance(want, slice) else (int(want), int(want) + 1)
        if axis in spatial:
            margin = depth_context if axis == "Z" else context
            lo, hi = max(0, start - margin), min(size, stop + margin)
            sides[axis] = max(8, hi - lo)
        elif axis == "C":
            lo, hi = 0, size
        elif k and axis == plane_axis:  # the neighbours are read, only the planes asked for predicted
            lo, hi = max(0, start - k), min(size, stop + k)
            planes = {"planes": (start - lo, stop - lo)}
            read.append(slice(lo, hi))
            crop.append(slice(0, stop - start) if isinstance(want, slice) else 0)
            continue
        else:
            lo, hi = start, stop
        read.append(slice(lo, hi))
        crop.append(slice(start - lo, stop - lo) if isinstance(want, slice) else want - lo)
    tile = tuple(sides[axis] for axis in spatial)
    return model.predict(image[tuple(read)], axes, tta=False, tile=tile, **planes)[tuple(crop)]  # cheap: one view

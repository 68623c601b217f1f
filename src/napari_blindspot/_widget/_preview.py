"""Where the live preview is computed, and where its pixels go in the viewer.

The preview region is one int or slice per image axis (the core's `set_preview_region`):
  * ints on the axes the user is not looking at (Z, T, S): the viewer's current step;
  * the whole of C;
  * on Y and X: the visible field of view when the canvas knows it, at most `max_side`
    pixels a side (centred on the view), at least `MIN_SIDE`;
  * a 3D network in napari's 3D view: a bounded sub-volume (`VOLUME_3D`) around the camera's
    centre, Z included (in the 2D view it previews the current Z plane). Previews take at most
    `core.preview.PREVIEW_SHARE` of training time, so a smaller CPU preview comes more often
    (docs/benchmarks.md, "Figures behind the widget's design choices"); zoom in and it covers the view.

The preview layer holds only the region: an array with the source's number of dimensions and
length 1 on the int axes, placed by `translate` (source translate + region start * scale).
So a preview of a huge stack costs one plane of the view, never a full-size buffer, and a 3D
preview only shows on the plane it was computed for.
"""

from __future__ import annotations

import numpy as np

MAX_SIDE = {"cpu": 256, "gpu": 512}  # preview at most this many pixels along Y and X
# ...for a 3D network, whose plane costs 2 * core.preview.DEPTH_CONTEXT + 1 planes of work
MAX_SIDE_3D = {"cpu": 128, "gpu": 512}
VOLUME_3D = {"cpu": (16, 96), "gpu": (64, 256)}  # a 3D network in the 3D view: (Z depth, Y/X side)
MIN_SIDE = 64  # ...and at least this many, so a zoomed-in view still gets a useful preview


def _clip_range(lo: int, hi: int, size: int, max_side: int) -> slice:
    """[lo, hi) widened to MIN_SIDE, narrowed to max_side around its centre, inside [0, size)."""
    lo, hi = max(0, lo), min(size, hi)
    want = min(size, max(MIN_SIDE, min(max_side, hi - lo)))
    centre = (lo + hi) // 2
    start = min(max(0, centre - want // 2), size - want)
    return slice(start, start + want)


def _around(centre: float, side: int, size: int) -> slice:
    """At most `side` pixels centred on `centre`, inside [0, size)."""
    want = min(size, side)
    start = int(np.clip(np.round(centre) - want // 2, 0, size - want))
    return slice(start, start + want)


def preview_region(layer, axes: str, world_point, world_displayed, max_side: int = MAX_SIDE["gpu"],
                   volume: tuple[int, int] | None = None, camera_centre=None) -> tuple:
    """The region of `layer`'s data to preview, for the viewer's current point and view.

    `world_point`: ``viewer.dims.point``; `world_displayed`: ``viewer.dims.displayed``. With
    `volume` = (depth, side), for a 3D network in the 3D view: that much of the displayed Z, Y
    and X around `camera_centre` (``viewer.camera.center``, world coordinates of the displayed axes).
    """
    shape = layer.data[0].shape if layer.multiscale else layer.data.shape
    if volume is not None and camera_centre is not None:
        world_point = list(world_point)
        for d, c in zip(world_displayed, list(camera_centre)[-len(world_displayed):]):
            world_point[d] = c
    data_point = np.asarray(layer.world_to_data(world_point), dtype=float)
    offset = len(world_point) - len(shape)  # world axes before the layer's first axis
    displayed = {d - offset for d in world_displayed if d >= offset}
    if volume is not None and "Z" in axes and axes.index("Z") in displayed:
        depth, side = volume
        return tuple(slice(None) if axis == "C" else
                     _around(data_point[i], depth if axis == "Z" else side, size) if axis in "ZYX" else
                     int(np.clip(np.round(data_point[i]), 0, size - 1))
                     for i, (size, axis) in enumerate(zip(shape, axes)))
    corners = np.asarray(layer.corner_pixels, dtype=float)
    drawn = corners[1] > corners[0]  # the canvas has drawn this layer along that axis
    if layer.multiscale:  # corner pixels are in the shown level's pixels: back to level 0
        factors = np.asarray(layer.downsample_factors[layer.data_level])
        corners = np.stack([corners[0] * factors, (corners[1] + 1) * factors - 1])
    region = []
    for i, (size, axis) in enumerate(zip(shape, axes)):
        if axis == "C":
            region.append(slice(None))
        elif axis in "YX":
            lo, hi = 0, size
            if i in displayed and drawn[i]:
                lo, hi = int(corners[0, i]), int(corners[1, i]) + 1
            region.append(_clip_range(lo, hi, size, max_side))
        else:
            region.append(int(np.clip(np.round(data_point[i]), 0, size - 1)))
    return tuple(region)


def place(preview: np.ndarray, region: tuple) -> tuple[np.ndarray, tuple[int, ...]]:
    """Give `preview` back the axes its int entries dropped; return it and its data offset."""
    data, start = preview, []
    for axis, want in enumerate(region):
        if isinstance(want, slice):
            start.append(want.start or 0)
        else:
            data = np.expand_dims(data, axis)
            start.append(int(want))
    return data, tuple(start)


def blank(region: tuple, shape: tuple[int, ...]) -> np.ndarray:
    """Zeros shaped like the preview of `region` of an image of `shape` (before `place`)."""
    sizes = [len(range(*want.indices(size))) for want, size in zip(region, shape) if isinstance(want, slice)]
    return np.zeros(sizes, np.float32)

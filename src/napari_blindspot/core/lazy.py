"""Lazy prediction: a dask array that denoises a plane (or volume) only when it is read.

    denoised = predict_lazy(model, stack, "TZYX")       # instant; nothing computed yet
    denoised[3, 10]                                     # still lazy
    np.asarray(denoised[3, 10])                         # predicts the one chunk that holds it

Chunks are whole units of the model's spatial layout: one YX plane (all channels) for a 2D
model, one ZYX volume for a 3D one, one chunk per sample (S, T, and Z when trained slice by
slice). Each chunk is computed by `Model.predict`, tiled with overlap inside the chunk, so the
result equals predicting the whole stack at once; with neighbour planes each chunk's task also
reads the planes around it (`_with_neighbours`). The model is copied when the array is
made: training the model further does not change what the array computes.
"""

from __future__ import annotations

import copy
import uuid

import numpy as np



def unit_chunks(shape: tuple[int, ...], axes: str, spatial_ndim: int) -> tuple[int, ...]:
    """Chunk shape holding one whole plane (2D) or volume (3D) with all its channels."""
    spatial = "ZYX" if spatial_ndim == 3 else "YX"
    return tuple(size if axis in spatial or axis == "C" else 1 for axis, size in zip(axes, shape))


def predict_lazy(model, image, axes: str | None = None, *, tile=None, batch_size: int = 4,
                 return_uncertainty: bool = False, tta=None):
    """`model.predict(image, axes)` as a lazy float32 dask array of the image's shape.

    `image` may be numpy, dask or zarr (anything with shape, dtype and slicing); it is read one
    chunk at a time. With `return_uncertainty` (HQ-SSL), returns ``(denoised, std)``; both come
    from the same per-chunk task, so a dask cache (napari keeps one) computes each chunk once.
    `tta` as in `Model.predict`, decided for the whole image (a large one: one view), not per chunk.
    """
    import dask.array as da

    if return_uncertainty and not model.algorithm.has_uncertainty:
        raise ValueError(f"uncertainty maps come from HQ-SSL's posterior; this model is {model.method}")
    view, _, _ = model.tiling(image, axes, tile)  # validates axes and channels up front
    axes, frozen = view.axes, copy.deepcopy(model)
    views = model.views(tta, view.n_samples * int(np.prod(view.spatial_shape)))
    chunks = unit_chunks(tuple(image.shape), axes, model.spec.spatial_ndim)
    if isinstance(image, da.Array):
        source = image.rechunk(chunks)
    else:  # name=False: a random name instead of hashing the whole array
        source = da.from_array(image, chunks=chunks, name=False)
    name = f"blindspot-predict-{uuid.uuid4().hex}"  # given, so dask never hashes the model
    meta = np.empty((0,) * image.ndim, np.float32)
    sources, predict = _with_neighbours(frozen, source, axes, chunks)

    if not return_uncertainty:
        def one(*blocks, block_info=None):
            return predict(blocks, block_info=block_info, tile=tile, batch_size=batch_size, tta=views)

        return da.map_blocks(one, *sources, dtype=np.float32, meta=meta, name=name)

    def both(*blocks, block_info=None):
        return np.stack(predict(blocks, block_info=block_info, tile=tile, batch_size=batch_size,
                                return_uncertainty=True, tta=views))

    stacked = da.map_blocks(both, *sources, dtype=np.float32, new_axis=0, chunks=((2,),) + source.chunks,
                            meta=np.empty((0,) * (image.ndim + 1), np.float32), name=name)
    return stacked[0], stacked[1]


def _with_neighbours(model, source, axes: str, chunks):
    """The arrays each chunk's task reads, and how it predicts from their blocks.

    Without neighbour planes, the chunk itself. With k of them, 2k + 1 arrays: the stack shifted
    by -k..k planes along the model's plane axis (clamped at its ends), so the task of plane i
    gets planes i-k..i+k as one-plane blocks, keeps those inside the stack and predicts plane i
    of them. Cut at the stack's own ends only, that piece mirrors its windows as the whole does.
    """
    k, axis = model.spec.context_planes, model.spec.context_axis
    if not k:
        return [source], lambda blocks, block_info=None, **kw: model.predict(blocks[0], axes, **kw)
    at, planes = axes.index(axis), source.shape[axes.index(axis)]
    shifted = [source if d == 0 else
               source[(slice(None),) * at + ([min(max(i + d, 0), planes - 1) for i in range(planes)],)].rechunk(chunks)
               for d in range(-k, k + 1)]

    def predict(blocks, block_info=None, **kw):
        plane = block_info[0]["chunk-location"][at]  # one plane per chunk along the axis
        inside = [b for d, b in zip(range(-k, k + 1), blocks) if 0 <= plane + d < planes]
        first = max(0, plane - k)
        return model.predict(np.concatenate(inside, axis=at), axes, planes=(plane - first, plane - first + 1), **kw)

    return shifted, predict

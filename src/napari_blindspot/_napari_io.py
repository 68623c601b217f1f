"""napari's File > Save and File > Open for TIFFs, keeping what napari's own TIFF writer drops.

napari's builtin writer saves only the pixels (``tifffile.imwrite(path, data)``) and its reader
only reads them (imageio): a result saved and reopened forgets how it was made, its scale and
its units. This writer keeps the layer's JSON metadata (our provenance first), its scale,
translate, units and axis labels in the TIFF's JSON description, writing whole or not at all;
this reader gives them back, and reads any other TIFF too (with its ImageJ/OME spacing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._provenance import KEY, layer_kwargs, read_tiff_metadata, tiff_metadata

_PLACEMENT = ("scale", "translate", "units", "axis_labels")
_SUFFIXES = (".tif", ".tiff")


def write_tiff(path: str, data, meta: dict) -> list[str]:
    """npe2 single-layer writer for image layers: the pixels exactly, and the record beside them."""
    from ._outputs import write_image

    if meta.get("multiscale"):
        data = data[0]  # the full-resolution level; the others are derived from it
    array = np.asarray(data)
    if array.dtype == bool:
        array = array.astype(np.uint8)  # TIFF has no one-bit samples that tifffile maps
    metadata = dict(meta.get("metadata") or {})
    described = tiff_metadata(array.ndim, metadata.get(KEY) if isinstance(metadata.get(KEY), dict) else None,
                              metadata, {k: meta.get(k) for k in _PLACEMENT})
    write_image(path, array, overwrite=True, metadata=described)  # napari's dialog asked before replacing
    return [path]


def get_reader(path):
    """npe2 reader: one TIFF file (a list or another kind of file is left to other readers)."""
    if isinstance(path, (list, tuple)) or Path(path).suffix.lower() not in _SUFFIXES or not Path(path).is_file():
        return None
    return read_tiff


def read_tiff(path) -> list[tuple]:
    """Each image series of the TIFF as a layer; ours come back with their metadata and placement."""
    import tifffile

    from .io import read_image, read_scale

    with tifffile.TiffFile(path) as tif:
        count = len(tif.series)
    found = read_tiff_metadata(path)
    layers = []
    for series in range(count):
        data = read_image(path, series if count > 1 else None)
        kwargs = layer_kwargs(found, data.ndim) if series == 0 else {}
        if "scale" not in kwargs and (scale := read_scale(path, series)) is not None:
            kwargs["scale"] = scale
        if count > 1:
            kwargs["name"] = f"{Path(path).stem} [series {series}]"
        layers.append((data, kwargs, "image"))
    return layers

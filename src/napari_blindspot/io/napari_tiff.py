"""napari's File > Save and File > Open for TIFFs, keeping what napari's own TIFF writer drops.

napari's builtin writer saves only the pixels (``tifffile.imwrite(path, data)``) and its reader
only reads them (imageio): a result saved and reopened forgets how it was made, its scale and
its units. This writer keeps the layer's JSON metadata (our provenance first), its scale,
translate, units and axis labels in the TIFF's JSON description, writing whole or not at all;
this reader gives them back, and reads any other TIFF too (with its ImageJ/OME spacing).

napari offers its own writer and reader first (``viewer.layers.save(path)``, ``viewer.open(path)``):
ours are asked for by name, ``plugin="napari-blindspot"``, or by the file type 'TIFF with
provenance' in File > Save. The dock's Save result uses `save_result`, which replaces only a
TIFF that holds our record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .provenance import KEY, layer_kwargs, read_tiff_metadata, tiff_metadata

_PLACEMENT = ("scale", "translate", "units", "axis_labels")
_SUFFIXES = (".tif", ".tiff")


def write_tiff(path: str, data, meta: dict) -> list[str]:
    """npe2 single-layer writer for image layers: the pixels exactly, and the record beside them."""
    return _write(path, data, meta)  # napari's dialog asked before replacing


def check_ours(path) -> None:
    """Refuse (ValueError) a `path` that exists and is not a TIFF holding our record."""
    path = Path(path)
    if Path(path).suffix.lower() not in _SUFFIXES:
        raise ValueError(f"{path.name} is not a .tif or .tiff name: choose one that is")
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_file() or KEY not in read_tiff_metadata(path):
        raise ValueError(f"{path} exists and was not written by napari-blindspot (it holds no record of "
                         "ours): it is not ours to replace; choose a new name")


def save_result(path, data, meta: dict) -> list[str]:
    """`write_tiff`, replacing an existing file only when it holds our record (`check_ours`)."""
    check_ours(path)
    return _write(path, data, meta)


def _write(path, data, meta: dict) -> list[str]:
    from .outputs import write_image

    if meta.get("multiscale"):
        data = data[0]  # the full-resolution level; the others are derived from it
    array = np.asarray(data)
    if array.dtype == bool:
        array = array.astype(np.uint8)  # TIFF has no one-bit samples that tifffile maps
    metadata = dict(meta.get("metadata") or {})
    described = tiff_metadata(array.ndim, metadata.get(KEY) if isinstance(metadata.get(KEY), dict) else None,
                              metadata, {k: meta.get(k) for k in _PLACEMENT})
    write_image(path, array, overwrite=True, metadata=described)
    return [str(path)]


def get_reader(path):
    """npe2 reader: one TIFF file (a list or another kind of file is left to other readers)."""
    if isinstance(path, (list, tuple)) or Path(path).suffix.lower() not in _SUFFIXES or not Path(path).is_file():
        return None
    return read_tiff


def read_tiff(path) -> list[tuple]:
    """Each image series of the TIFF as a layer; ours come back with their metadata and placement.
    Placement napari cannot use (units it does not know, say) is dropped with a warning: plain pixels."""
    import warnings

    from .readers import MetadataWarning

    layers = _read_tiff(path)
    for data, kwargs, _ in layers:
        try:
            _check_placement(data.ndim, kwargs)
        except Exception as err:  # noqa: BLE001 - any placement napari refuses: the pixels still open
            warnings.warn(f"{path}: its placement cannot be used ({err}): opened as plain pixels",
                          MetadataWarning, stacklevel=2)
            for name in _PLACEMENT:
                kwargs.pop(name, None)
    return layers


def _check_placement(ndim: int, kwargs: dict) -> None:
    """Raise what napari would raise for this placement, on a one-pixel layer."""
    from napari.layers import Image

    placement = {k: kwargs[k] for k in _PLACEMENT if k in kwargs}
    if placement:
        layer = Image(np.zeros((1,) * ndim, np.uint8), **placement)
        np.linalg.inv(layer._data_to_world.affine_matrix)  # a singular transform poisons the viewer


def _read_tiff(path) -> list[tuple]:
    import tifffile

    from .readers import read_image, read_scale

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

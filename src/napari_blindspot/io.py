"""Reading and writing images: ``.tif``/``.tiff``, ``.npy`` and ``.zarr``.

Inputs are opened lazily where the format allows (memory-mapped TIFF and npy, zarr arrays),
so a stack larger than memory is never loaded whole. Outputs are written atomically: into a
temporary file or folder beside the target, renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

FORMATS = (".tif", ".tiff", ".npy", ".zarr")


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported file type '{path.suffix or path.name}': use one of {', '.join(FORMATS)}")
    return suffix


def read_image(path) -> object:
    """Open an image without loading it: numpy memmap, zarr array, or an in-memory array."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.exists():
        raise FileNotFoundError(f"input {path} does not exist")
    try:
        with _quiet_tifffile():
            return _open(path, suffix)
    except Exception as err:  # noqa: BLE001 - any reader failure means an unreadable file
        raise ValueError(f"cannot read {path} as {suffix[1:]}: {err}") from None


@contextlib.contextmanager
def _quiet_tifffile():
    """tifffile logs every bad tag of a broken file to stderr; our one error line says it all."""
    logger = logging.getLogger("tifffile")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _open(path: Path, suffix: str):
    if suffix == ".npy":
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if suffix == ".zarr":
        import zarr

        node = zarr.open(str(path), mode="r")
        if hasattr(node, "shape"):
            return node
        arrays = sorted(node.array_keys())  # a group: multiscale level 0, or the only array
        if not arrays:
            raise ValueError("it is a zarr group without arrays")
        return node["0"] if "0" in arrays else node[arrays[0]]
    import tifffile

    try:
        return tifffile.memmap(path, mode="r")
    except ValueError:  # compressed or tiled TIFF: cannot be memory-mapped
        with tifffile.TiffFile(path) as tif:
            return tif.asarray()


_UNITS = {"nm": 1e-3, "µm": 1.0, "um": 1.0, "micron": 1.0, "mm": 1e3}  # to micrometres


def read_scale(path) -> tuple[float, ...] | None:
    """Voxel spacing per axis of a TIFF's first series (ImageJ or OME metadata), else None.

    Only Z, Y and X get spacings (others 1.0), and only when the file says how far apart the
    Z planes are: that is all the 2D/3D choice needs. Any reading problem means "unknown".
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        import tifffile

        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            axes = tif.series[0].axes
            spacing = _ome_spacing(tif) if tif.is_ome else _imagej_spacing(tif)
    except Exception:  # noqa: BLE001 - metadata is optional
        return None
    if spacing is None or "Z" not in axes:
        return None
    return tuple(float(spacing.get(a, 1.0)) for a in axes)


def _imagej_spacing(tif) -> dict | None:
    meta = tif.imagej_metadata or {}
    if "spacing" not in meta:
        return None
    tags = tif.pages[0].tags
    x, y = (tags[name].value for name in ("XResolution", "YResolution"))  # pixels per unit
    return {"Z": float(meta["spacing"]), "Y": y[1] / y[0], "X": x[1] / x[0]}


def _ome_spacing(tif) -> dict | None:
    import tifffile

    image = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
    pixels = (image[0] if isinstance(image, list) else image)["Pixels"]
    if "PhysicalSizeZ" not in pixels:
        return None
    return {a: float(pixels[f"PhysicalSize{a}"]) * _UNITS[pixels.get(f"PhysicalSize{a}Unit", "µm")]
            for a in "ZYX"}


def check_writable(path) -> None:
    """Fail early (before any training) when the output cannot be written."""
    path = Path(path)
    _suffix(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write {path}: folder {parent} is not writable")


@contextlib.contextmanager
def atomic_output(path, shape: tuple[int, ...], dtype=np.float32, chunks=None):
    """Yield an array-like to fill; it becomes `path` only if the block completes.

    ``.zarr`` and ``.tif``/``.npy`` outputs are disk-backed (zarr store or memory map), so
    outputs larger than memory are fine.
    """
    path = Path(path)
    suffix = _suffix(path)
    check_writable(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent or "."))
    target = tmp / path.name
    try:
        if suffix == ".zarr":
            import zarr

            out = zarr.open_array(str(target), mode="w", shape=shape, dtype=dtype,
                                  chunks=chunks or _default_chunks(shape))
        elif suffix == ".npy":
            out = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=shape)
        else:
            import tifffile

            out = tifffile.memmap(target, shape=shape, dtype=dtype, bigtiff=True)
        yield out
        if hasattr(out, "flush"):
            out.flush()
        del out
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(target, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _default_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Planes of at most 512x512 (a few MB each): small enough to write tile by tile."""
    return tuple(1 for _ in shape[:-2]) + tuple(min(s, 512) for s in shape[-2:])


def write_image(path, array: np.ndarray) -> None:
    with atomic_output(path, array.shape, array.dtype) as out:
        out[...] = array

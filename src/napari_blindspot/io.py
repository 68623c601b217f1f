"""Reading images: ``.tif``/``.tiff``, ``.npy`` and ``.zarr`` (an array inside a group: ``stack.zarr/raw``).

Inputs are opened lazily where the format allows (memory-mapped TIFF and npy, zarr arrays),
so a stack larger than memory is never loaded whole. Axes and voxel spacing come from the
file's own metadata (tifffile's series axes, ImageJ and OME metadata, OME-Zarr multiscales)
when it has them. Writing, and the rules that keep us from destroying data, are in `_outputs`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from pathlib import Path

import numpy as np

from ._outputs import (FORMATS, atomic_output, check_model_dir, check_outputs, check_space,  # noqa: F401
                       check_writable, output_bytes, suffix_of, write_image)

MAX_CHUNKS = 10_000  # more chunks than this, each of fewer than MIN_CHUNK_ELEMENTS elements,
MIN_CHUNK_ELEMENTS = 4096  # take minutes to read one by one: refuse, and say how to rechunk
_AXIS_NAMES = {"t": "T", "c": "C", "z": "Z", "y": "Y", "x": "X"}  # OME-Zarr / xarray names
_TIFF_AXES = {"T": "T", "C": "C", "S": "C", "Z": "Z", "Y": "Y", "X": "X"}  # tifffile's letters; S: samples


class MetadataWarning(UserWarning):
    """The file's metadata says something we cannot use (it is then ignored)."""


def locate(path) -> tuple[Path, str, str | None]:
    """(file, suffix, array inside a zarr group): ``a/stack.zarr/raw`` -> (a/stack.zarr, .zarr, raw)."""
    path = Path(path)
    for i, part in enumerate(path.parts[:-1]):
        if part.lower().endswith(".zarr"):
            return Path(*path.parts[: i + 1]), ".zarr", "/".join(path.parts[i + 1:])
    return path, suffix_of(path), None


def read_image(path, series: int | None = None) -> object:
    """Open an image without loading it: numpy memmap, zarr array, or an in-memory array.

    `series`: which image series of a multi-series TIFF (refused without it when there are several).
    """
    file, suffix, inner = locate(path)
    _check_input_file(file, suffix)
    try:
        with _quiet_tifffile():
            if suffix == ".npy":
                return np.load(file, mmap_mode="r", allow_pickle=False)
            if suffix == ".zarr":
                return _open_zarr(file, inner)[0]
            return _open_tiff(file, series)
    except _Refusal as err:
        raise ValueError(str(err)) from None
    except Exception as err:  # noqa: BLE001 - any reader failure means an unreadable file
        raise ValueError(f"cannot read {path} as {suffix[1:]}: {err}") from None


def read_axes(path, series: int | None = None) -> str | None:
    """The axes the file's metadata gives (tifffile series axes, OME-Zarr axes), or None if unknown."""
    file, suffix, inner = locate(path)
    try:
        if suffix == ".zarr":
            return _open_zarr(file, inner)[1]
        if suffix in (".tif", ".tiff"):
            import tifffile

            with _quiet_tifffile(), tifffile.TiffFile(file) as tif:
                return _our_axes(tif.series[series or 0].axes, _TIFF_AXES)
    except Exception:  # noqa: BLE001 - read_image reports unreadable files; here "unknown"
        return None
    return None


class _Refusal(Exception):
    """A readable file we will not guess about: its message is the whole error."""


def _check_input_file(file: Path, suffix: str) -> None:
    if not file.exists():
        raise FileNotFoundError(f"input {file} does not exist")
    if suffix == ".zarr":
        if not file.is_dir():
            raise ValueError(f"input {file} is not a zarr folder: give a .zarr directory")
        from ._paths import check_zarr_folder

        check_zarr_folder(file, "input")  # zarr would open a FIFO inside and block forever
    elif not file.is_file():  # a FIFO or a device would block in open() or never end
        raise ValueError(f"input {file} is not a regular file: give an image file")


@contextlib.contextmanager
def _quiet_tifffile():
    """tifffile logs every bad tag of a broken file to stderr; our one error line says it all."""
    logger = logging.getLogger("tifffile")
    disabled, logger.disabled = logger.disabled, True
    try:
        yield
    finally:
        logger.disabled = disabled


def _open_tiff(file: Path, series: int | None):
    import tifffile

    with tifffile.TiffFile(file) as tif:
        count = len(tif.series)
        if series is None and count > 1:
            listing = ", ".join(f"{i}: {s.axes} {'x'.join(map(str, s.shape))}" for i, s in enumerate(tif.series))
            raise _Refusal(f"{file} holds {count} image series ({listing}): choose one with --series N")
        series = series or 0
        if not 0 <= series < count:
            raise _Refusal(f"--series {series} does not exist: {file} holds series 0 to {count - 1}")
        try:
            return tifffile.memmap(file, series=series, mode="r")
        except ValueError:  # compressed or tiled TIFF: cannot be memory-mapped
            return tif.series[series].asarray()


def _open_zarr(file: Path, inner: str | None):
    """(array, axes or None). A group gives its multiscale level 0, its array '0' or its only array."""
    import zarr

    node = zarr.open(str(file), mode="r")
    name = f"{file}/{inner}" if inner else str(file)
    group_axes = None
    if inner:
        if hasattr(node, "shape") or inner not in node:
            raise _Refusal(f"{file} has no array '{inner}'{_listing(node)}")
        parent_attrs = dict(node.attrs) if not hasattr(node, "shape") else {}
        node = node[inner]
        group_axes = _multiscale_axes(parent_attrs) if "/" not in inner else None
    if not hasattr(node, "shape"):
        datasets, group_axes = _multiscale_level0(dict(node.attrs)), _multiscale_axes(dict(node.attrs))
        arrays = sorted(node.array_keys())
        if datasets and datasets in node:
            pick = datasets
        elif "0" in arrays or len(arrays) == 1:
            pick = "0" if "0" in arrays else arrays[0]
        else:
            example = f"{file}/{arrays[0]}" if arrays else ""
            raise _Refusal(f"{file} is a zarr group " + (f"holding arrays {', '.join(arrays)}: name the one to "
                                                         f"use, e.g. {example}" if arrays else "without arrays"))
        node, name = node[pick], f"{file}/{pick}"
    _check_chunks(node, name)
    dims = node.attrs.get("_ARRAY_DIMENSIONS") or getattr(node.metadata, "dimension_names", None)
    axes = group_axes or (_our_axes(dims, _AXIS_NAMES) if dims else None)
    return node, axes if axes and len(axes) == node.ndim else None


def _listing(node) -> str:
    if hasattr(node, "shape"):
        return ": it is a single array, give the path without the array name"
    arrays = sorted(node.array_keys())
    return f": it holds {', '.join(arrays)}" if arrays else ": it holds no arrays"


def _multiscale_level0(attrs: dict) -> str | None:
    scales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    try:
        return str(scales[0]["datasets"][0]["path"])
    except (TypeError, KeyError, IndexError):
        return None


def _multiscale_axes(attrs: dict) -> str | None:
    scales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    try:
        names = [a["name"] if isinstance(a, dict) else a for a in scales[0]["axes"]]
    except (TypeError, KeyError, IndexError):
        return None
    return _our_axes(names, _AXIS_NAMES)


def _our_axes(names, table: dict) -> str | None:
    """Translate a library's axis names; None when any has no meaning for us (tifffile's Q, I, ...)."""
    axes = "".join(table.get(str(n), table.get(str(n).lower(), "?")) for n in names)
    return axes if axes and "?" not in axes and len(set(axes)) == len(axes) else None


def _check_chunks(array, name: str) -> None:
    chunks = getattr(array, "chunks", None)
    if not chunks:
        return
    count = math.prod(math.ceil(s / c) for s, c in zip(array.shape, chunks))
    if count > MAX_CHUNKS and math.prod(chunks) < MIN_CHUNK_ELEMENTS:
        better = tuple(1 for _ in array.shape[:-2]) + tuple(min(s, 512) for s in array.shape[-2:])
        raise _Refusal(f"{name} is stored in {count} chunks of {'x'.join(map(str, chunks))} pixels: reading it "
                       f"would take minutes; rewrite it with larger chunks, e.g. {better}")


# Lengths in micrometres, for the OME UnitsLength names (and ImageJ's spellings of them)
_SI = {"Y": 1e24, "Z": 1e21, "E": 1e18, "P": 1e15, "T": 1e12, "G": 1e9, "M": 1e6, "k": 1e3, "h": 1e2, "da": 1e1,
       "": 1.0, "d": 1e-1, "c": 1e-2, "m": 1e-3, "µ": 1e-6, "n": 1e-9, "p": 1e-12, "f": 1e-15, "a": 1e-18,
       "z": 1e-21, "y": 1e-24}
_UNITS = {f"{prefix}m": metres * 1e6 for prefix, metres in _SI.items()}
_UNITS.update({"Å": 1e-4, "\u212b": 1e-4, "angstrom": 1e-4, "um": 1.0, "μm": 1.0, "micron": 1.0, "microns": 1.0,
               "\\u00B5m": 1.0, "thou": 25.4, "li": 25_400.0 / 12, "in": 25_400.0,
               "inch": 25_400.0, "ft": 304_800.0, "yd": 914_400.0, "mi": 1.609344e9, "ua": 1.495978707e17,
               "ly": 9.4607304725808e21, "pc": 3.0856775814913673e22, "pt": 25_400.0 / 72})


def unit_in_um(unit: str) -> float | None:
    """Micrometres per `unit` (an OME UnitsLength name such as 'nm', 'µm', 'Å', 'cm'), or None."""
    return _UNITS.get(str(unit).strip())


def read_scale(path, series: int | None = None) -> tuple[float, ...] | None:
    """Voxel spacing per axis of a TIFF series (ImageJ or OME metadata), else None.

    Only Z, Y and X get spacings (others 1.0), and only when the file says how far apart the
    Z planes are: that is all the 2D/3D choice needs. A unit we do not understand is a warning
    and means "unknown"; so does any other reading problem.
    """
    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        return None
    try:
        import tifffile

        with _quiet_tifffile(), tifffile.TiffFile(path) as tif:
            axes = tif.series[series or 0].axes
            spacing = _ome_spacing(tif, series or 0, path) if tif.is_ome else _imagej_spacing(tif)
    except Exception:  # noqa: BLE001 - metadata is optional
        return None
    if spacing is None or "Z" not in axes:
        return None
    if not all(math.isfinite(v) and 1e-9 <= v <= 1e9 for v in spacing.values()):  # NaN, 0, absurd
        warnings.warn(f"{path}: voxel spacing {spacing} is not usable (zero, NaN or absurd): ignored "
                      "(give it with --scale)", MetadataWarning, stacklevel=2)
        return None
    return tuple(float(spacing.get(a, 1.0)) for a in axes)


def _imagej_spacing(tif) -> dict | None:
    """ImageJ keeps spacing and resolution in one unit: their ratio is all we need, whatever it is."""
    meta = tif.imagej_metadata or {}
    if "spacing" not in meta:
        return None
    tags = tif.pages[0].tags
    x, y = (tags[name].value for name in ("XResolution", "YResolution"))  # pixels per unit
    return {"Z": float(meta["spacing"]), "Y": y[1] / y[0], "X": x[1] / x[0]}


def _ome_spacing(tif, series: int, path: Path) -> dict | None:
    import tifffile

    images = tifffile.xml2dict(tif.ome_metadata)["OME"]["Image"]
    images = images if isinstance(images, list) else [images]
    pixels = images[min(series, len(images) - 1)]["Pixels"]
    if "PhysicalSizeZ" not in pixels:
        return None
    spacing = {}
    for axis in "ZYX":
        unit = pixels.get(f"PhysicalSize{axis}Unit", "µm")  # the OME default
        factor = unit_in_um(unit)
        if factor is None:
            warnings.warn(f"{path}: voxel size unit {unit!r} of axis {axis} is not a length we know: the voxel "
                          "spacing is ignored (give it with --scale)", MetadataWarning, stacklevel=3)
            return None
        spacing[axis] = float(pixels.get(f"PhysicalSize{axis}", 1.0)) * factor
    return spacing

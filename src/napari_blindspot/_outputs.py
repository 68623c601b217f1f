"""Writing results without ever destroying data.

The rule: never delete or replace anything we did not write. An output that is an input, or
inside one, or two outputs that coincide, are refused; an existing output is replaced only if
it is a file of the same kind (a TIFF by a TIFF, a plain zarr array by one) and the caller says
`overwrite`; a model folder is written only into an empty or new folder, or over one of our own
models. All checks run before any work, so a refusal costs nothing. Outputs are written into a
hidden temporary beside the target, with their disk space reserved up front (a full disk is an
error, not a SIGBUS on a memory map), and renamed into place only when complete.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import re
import shutil
import signal
import tempfile
import threading
from glob import escape as glob_escape
from pathlib import Path

import numpy as np

from ._paths import check_no_overlap, special_files

FORMATS = (".tif", ".tiff", ".npy", ".zarr")
_MAGIC = {".npy": (b"\x93NUMPY",), ".tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")}
_ZARR_ENTRY = re.compile(r"^(\.zarray|\.zattrs|zarr\.json|(c/)?[0-9]+([./][0-9]+)*)$")  # metadata, chunk keys


def suffix_of(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unsupported file type '{Path(path).suffix or Path(path).name}': "
                         f"use one of {', '.join(FORMATS)}")
    return suffix


def check_writable(path) -> None:
    """The folder of `path` exists and can be written to."""
    path = Path(path)
    suffix_of(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write {path}: folder {parent} is not writable")


def check_outputs(outputs: dict, inputs: dict | None = None, model_dirs: dict | None = None,
                  overwrite: bool = False, reports: dict | None = None) -> None:
    """Refuse, before any work, every output that would destroy data.

    Each argument maps the name the user knows (``OUTPUT``, ``--uncertainty``) to a path.
    `inputs` are only read; `model_dirs` are model folders to write; `reports` are JSON files
    to write (checked here for overlap only: their own rules are the caller's).
    """
    outputs = {k: Path(v) for k, v in outputs.items() if v}
    model_dirs = {k: Path(v) for k, v in (model_dirs or {}).items() if v}
    check_no_overlap(inputs or {}, {**outputs, **model_dirs, **(reports or {})})
    for name, out in outputs.items():
        check_writable(out)
        _check_replaceable(name, out, overwrite)
    for name, folder in model_dirs.items():
        check_model_dir(folder, overwrite, name)


def _check_replaceable(name: str, path: Path, overwrite: bool) -> None:
    """An existing `path` may be replaced only by a file of its own kind, and only with `overwrite`."""
    if not path.exists() and not path.is_symlink():
        return
    suffix = suffix_of(path)
    if suffix == ".zarr":
        if not _is_plain_zarr_array(path):
            raise ValueError(f"{name} {path} exists and is not a single zarr array (a zarr group, with its "
                             "levels and labels, or a folder of other files): choose a new name")
    elif not path.is_file():
        raise ValueError(f"{name} {path} exists and is not a file (a folder or a device): choose a new name")
    elif not _has_magic(path, suffix):
        kind = "TIFF" if suffix in (".tif", ".tiff") else "npy"
        raise ValueError(f"{name} {path} exists and is not a {kind} file: it is not ours to replace; "
                         "choose a new name")
    if not overwrite:
        raise ValueError(f"{name} {path} exists: add --overwrite to replace it, or choose a new name")


def _has_magic(path: Path, suffix: str) -> bool:
    from ._paths import read_bytes

    magic = _MAGIC[".tif" if suffix == ".tiff" else suffix]
    head = read_bytes(path, 7)
    return any(head.startswith(m) for m in magic)


def _is_plain_zarr_array(path: Path) -> bool:
    """A folder holding one zarr array and nothing else (no groups, no files of anyone else)."""
    if not path.is_dir() or path.is_symlink():
        return False
    top = {p.name for p in path.iterdir()}
    if not top & {".zarray", "zarr.json"} or special_files(path):
        return False  # a FIFO or device inside would block zarr's reading
    if not all(_ZARR_ENTRY.match(str(p.relative_to(path))) for p in path.rglob("*") if p.is_file()):
        return False  # a file of someone else's, at any depth (out.zarr/c/notes.txt)
    try:
        import zarr

        return hasattr(zarr.open(str(path), mode="r"), "shape")
    except Exception:  # noqa: BLE001 - unreadable: not ours to replace
        return False


def check_model_dir(path, overwrite: bool = False, name: str = "the model folder") -> None:
    """A model is written only into a new or empty folder, or over our own model with `overwrite`."""
    from .core.model_io import check_model_target

    check_model_target(path, overwrite, name)


def check_space(needs: dict) -> None:
    """Refuse before training when the outputs' raw size does not fit their disks' free space."""
    by_disk: dict = {}
    for path, nbytes in needs.items():
        parent = Path(path).parent if str(Path(path).parent) else Path(".")
        paths, total = by_disk.get(os.stat(parent).st_dev, ([], 0))
        by_disk[os.stat(parent).st_dev] = (paths + [str(path)], total + nbytes)
    for paths, total in by_disk.values():
        free = shutil.disk_usage(Path(paths[0]).parent or ".").free
        if total > free:
            raise OSError(errno.ENOSPC, f"no space left on device for {' and '.join(paths)}: "
                                        f"{_size(total)} needed, {_size(free)} free; free some space or write "
                                        "elsewhere")


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return ""


def _reserve(path: Path, name: Path) -> None:
    """Allocate a sparse file's blocks now: writing a memory map on a full disk is a SIGBUS, this an
    OSError (about `name`, the output the user asked for)."""
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, os.fstat(f.fileno()).st_size)
        except OSError as err:
            if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise OSError(err.errno, err.strerror, str(name)) from None


@contextlib.contextmanager
def atomic_output(path, shape: tuple[int, ...], dtype=np.float32, chunks=None, overwrite: bool = False,
                  metadata: dict | None = None):
    """Yield an array-like to fill; it becomes `path` only if the block completes.

    `metadata`: JSON for a TIFF's description (tifffile's shaped metadata: the provenance).

    ``.zarr`` and ``.tif``/``.npy`` outputs are disk-backed (zarr store or memory map), so
    outputs larger than memory are fine. An existing `path` is replaced only under the rules
    of `check_outputs` (checked again here, just before).
    """
    path = Path(path)
    suffix = suffix_of(path)
    check_writable(path)
    _check_replaceable("output", path, overwrite)
    _clean_debris(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent or "."))
    (tmp / _OWNER).write_text(str(os.getpid()))  # the marker: ours, and whose
    target = tmp / path.name
    try:
        if suffix == ".zarr":
            import zarr

            out = _WholeWrites(zarr.open_array(str(target), mode="w", shape=shape, dtype=dtype,
                                               chunks=chunks or _default_chunks(shape)))
        elif suffix == ".npy":
            out = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=shape)
            _reserve(target, path)
        else:
            import tifffile

            # minisblack: a stack of three or four planes is not a colour image
            out = tifffile.memmap(target, shape=shape, dtype=dtype, bigtiff=True, photometric="minisblack",
                                  metadata=metadata or {})
            _reserve(target, path)
        yield out
        if hasattr(out, "flush"):
            out.flush()
        del out
        _check_replaceable("output", path, overwrite)  # nobody put anything else there meanwhile
        if path.is_dir():  # a zarr array of ours: move it aside, then put the new one in its place
            os.replace(path, tmp / ".old")
        os.replace(target, path)
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):  # name the output, not a chunk in our temporary
            raise OSError(err.errno, err.strerror, str(path)) from None
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_OWNER = ".napari-blindspot-owner"  # inside each temporary folder: the writing process's id


def _clean_debris(path: Path) -> None:
    """Temporary folders a killed run (SIGKILL: no cleanup) left beside `path`: removed when ours
    and their process is gone, else named."""
    import warnings

    for old in (path.parent or Path(".")).glob(f".{glob_escape(path.name)}.*"):
        owner = old / _OWNER
        try:
            pid = int(owner.read_text()) if old.is_dir() and owner.is_file() else None
        except (OSError, ValueError):
            pid = None
        if pid is not None and not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
            warnings.warn(f"removed {old}, a partial output an interrupted run left", stacklevel=3)
        elif pid is None:
            warnings.warn(f"{old} looks like a partial output of an interrupted run, but is not marked as ours: "
                          "delete it yourself if it is", stacklevel=3)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class _WholeWrites:
    """A zarr array whose writes finish before a signal unwinds: zarr writes chunks on its own
    thread, and one still in flight after the temporary is removed would leave it behind."""

    def __init__(self, array):
        self._array = array

    def __getattr__(self, name):
        return getattr(self._array, name)

    def __getitem__(self, index):
        return self._array[index]

    def __setitem__(self, index, value):
        with _signals_deferred():
            self._array[index] = value


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT and the signals that have Python handlers until the block ends, then deliver them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    held = [s for s in signal.valid_signals() if s == signal.SIGINT or
            (s not in (signal.SIGKILL, signal.SIGSTOP) and callable(signal.getsignal(s)))]
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in pending[:1]:
            signal.raise_signal(signum)


def _default_chunks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Planes of at most 512x512 (a few MB each): small enough to write tile by tile."""
    return tuple(1 for _ in shape[:-2]) + tuple(min(s, 512) for s in shape[-2:])


def output_bytes(shape: tuple[int, ...], dtype=np.float32) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def write_image(path, array: np.ndarray, overwrite: bool = False, metadata: dict | None = None) -> None:
    with atomic_output(path, array.shape, array.dtype, overwrite=overwrite, metadata=metadata) as out:
        out[...] = array

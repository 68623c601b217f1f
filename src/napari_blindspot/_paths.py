"""The rules every path the user names obeys: no two overlap, and nothing but a regular file is read.

One check covers every pair of paths (inputs, outputs, model folders, reports, uncertainty
maps, zips, and paths inside each of them): a written path may never be, hold or lie inside
another path. And a file we read must be a regular file: a FIFO or a device blocks in open()
or never ends, so it is refused after a stat, before it is ever opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path


def same_or_nested(a: Path, b: Path) -> bool:
    """`a` and `b` are one path (also through links), or one lies inside the other."""
    ra, rb = Path(a).resolve(), Path(b).resolve()
    if ra == rb or ra in rb.parents or rb in ra.parents:
        return True
    with contextlib.suppress(OSError):
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    return False


def check_no_overlap(inputs: dict, written: dict) -> None:
    """Refuse any written path that is, holds or lies inside an input or another written path.

    Both map the name the user knows (``OUTPUT``, ``--report``) to a path; empty ones are skipped.
    """
    inputs = {k: Path(v) for k, v in inputs.items() if v}
    written = {k: Path(v) for k, v in written.items() if v}
    for name, out in written.items():
        for in_name, src in inputs.items():
            if same_or_nested(out, src):
                raise ValueError(f"{name} {out} is the {in_name} (or holds it, or lies inside it): the "
                                 f"{in_name} is never written to; give {name} a new name")
    items = list(written.items())
    for i, (name_a, a) in enumerate(items):
        for name_b, b in items[i + 1:]:
            if same_or_nested(a, b):
                raise ValueError(f"{name_a} {a} and {name_b} {b} are the same path (or one lies inside "
                                 "the other): give them different names")


def check_regular(path, what: str = "") -> None:
    """Refuse `path` if it exists and is not a regular file (a FIFO, a device, a socket), unopened."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as err:
        raise ValueError(f"{what or path} cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{what or path} is not a regular file (a folder, a FIFO or a device): "
                         "it is not read, as it could block forever; give a file")


def read_bytes(path, limit: int | None = None, what: str = "") -> bytes:
    """The bytes of a regular file (at most `limit`+1), never blocking on a FIFO or device."""
    check_regular(path, what)
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped since the stat
            raise ValueError(f"{what or path} is not a regular file: give a file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read() if limit is None else f.read(limit + 1)
    finally:
        os.close(fd)


def loads(text) -> object:
    """json.loads, with nesting too deep for Python's parser as the ValueError it is."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("its JSON is nested too deeply to be ours") from None


def read_json(path, limit: int = 1 << 20, what: str = "") -> object:
    """The parsed JSON of a regular file of at most `limit` bytes; ValueError for anything else."""
    data = read_bytes(path, limit, what)
    if len(data) > limit:
        raise ValueError(f"{what or path} is larger than {limit} bytes: it is not ours")
    try:
        return loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ValueError(f"{what or path} is not valid JSON ({err})") from None
    except ValueError as err:
        raise ValueError(f"{what or path} is not valid JSON ({err})") from None


def special_files(folder, limit: int = 1_000_000) -> list[Path]:
    """Entries under `folder` (recursively, links not followed) that are neither files nor folders."""
    found, todo, seen = [], [Path(folder)], 0
    while todo and seen < limit:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                seen += 1
                if entry.is_dir(follow_symlinks=False):
                    todo.append(Path(entry.path))
                elif not entry.is_file(follow_symlinks=True):
                    found.append(Path(entry.path))
    return found


def check_zarr_folder(folder, what: str) -> None:
    """A zarr folder whose every entry is a file or folder: zarr opens its metadata blindly."""
    bad = special_files(folder)
    if bad:
        raise ValueError(f"{what} {folder} holds {bad[0].relative_to(folder)}, which is not a regular file "
                         "(a FIFO, a device or a broken link): it is not read, as it could block forever")

"""Model folders on disk: ``config.json`` + ``weights.safetensors``, and nothing that runs code.

safetensors holds raw tensors only; the config is plain JSON. A folder is written whole or not
at all (a temporary folder renamed into place), and only where nothing of anyone else's is
lost: a new or empty folder, or over one of our own models when asked to. An exported
bioimage.io package (`bmz/export.py`) carries the same two files; `unpacked_package` reads just those.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from .spec import FORMAT, ModelFileError

CONFIG, WEIGHTS = "config.json", "weights.safetensors"
# Most bytes read from a package per file: a config is a few kB; 1 GiB of float32 weights is far
# more than any preset network (MAX_FEATURES aside), so a larger entry is not one of ours.
PACKAGE_LIMITS = {CONFIG: 1 << 20, WEIGHTS: 1 << 30}


def is_model_folder(path) -> bool:
    """True when `path` holds exactly one of our models and nothing else."""
    path = Path(path)
    if not path.is_dir() or {p.name for p in path.iterdir()} != {CONFIG, WEIGHTS}:
        return False
    try:
        return _read_json(path / CONFIG).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _read_json(file: Path):
    """A config's JSON, never opening a FIFO or device, nor recursing without end (core/ has no
    `io/paths.py`: the same rules, in two lines)."""
    if not stat.S_ISREG(os.stat(file).st_mode):
        raise ModelFileError(f"{file} is not a regular file (a FIFO or a device): it is not read; "
                             "a model folder holds plain files")
    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        data = f.read(PACKAGE_LIMITS[CONFIG] + 1)
    if len(data) > PACKAGE_LIMITS[CONFIG]:
        raise ModelFileError(f"{file} is larger than {PACKAGE_LIMITS[CONFIG]} bytes: not a config of ours")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{file} is not valid JSON ({err})") from None
    except RecursionError:
        raise ModelFileError(f"{file} is JSON nested too deeply to be a config of ours") from None


def check_model_target(path, overwrite: bool = False, name: str = "") -> Path:
    """Refuse a target folder whose contents we would lose; return it as a Path. `name` is what
    the user called it (e.g. "--save-model"), for the message."""
    path = Path(path)
    said = f"{name} {path}" if name else str(path)
    if path.exists() and not path.is_dir():
        raise ModelFileError(f"{said} is a file: give a folder to save the model in")
    entries = sorted(p.name for p in path.iterdir()) if path.is_dir() else []
    if entries and not is_model_folder(path):
        shown = ", ".join(entries[:3]) + (", ..." if len(entries) > 3 else "")
        raise ModelFileError(f"{said} holds other files ({shown}): save the model into a new or empty folder")
    if entries and not overwrite:
        raise ModelFileError(f"{said} holds a model already: choose another folder, or overwrite it "
                             "(--overwrite on the command line, overwrite=True in Python)")
    return path


def write_model_folder(path, config: dict, tensors: dict, overwrite: bool = False) -> Path:
    """Write `config` and `tensors` (name -> CPU tensor) as a model folder, atomically."""
    from safetensors.torch import save_file

    path = check_model_target(path, overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=path.parent))
    old = None
    try:
        save_file(tensors, str(tmp / WEIGHTS))
        (tmp / CONFIG).write_text(json.dumps(config, indent=2))
        if path.exists():  # empty, or our own model (checked above): set it aside, then swap
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=path.parent))
            os.replace(path, old / "model")
        os.replace(tmp, path)
    except BaseException:
        if old is not None and not path.exists():
            os.replace(old / "model", path)
        shutil.rmtree(tmp, ignore_errors=True)  # our own temporary folder only
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return path


def read_config(path) -> dict:
    """The parsed config.json of a model folder (not yet checked: see spec.spec_from_json)."""
    path = Path(path)
    if path.is_file():
        raise ModelFileError(f"{path} is a file; a napari-blindspot model is a folder holding "
                             f"{CONFIG} and {WEIGHTS} (pickled .pt/.ckpt files are never loaded)")
    if not (path / CONFIG).exists() or not (path / WEIGHTS).exists():
        raise ModelFileError(f"{path} is not a napari-blindspot model: expected {CONFIG} and {WEIGHTS} in it")
    if not stat.S_ISREG(os.stat(path / WEIGHTS).st_mode):
        raise ModelFileError(f"{path / WEIGHTS} is not a regular file (a FIFO or a device): it is not read")
    return _read_json(path / CONFIG)


def read_weights(path, expected: dict[str, tuple[int, ...]]) -> dict:
    """The tensors of a model folder, after checking that the file's header lists exactly the
    `expected` names and shapes (so nothing is allocated for a file that does not fit)."""
    from safetensors import SafetensorError, safe_open

    file = Path(path) / WEIGHTS
    try:
        with safe_open(str(file), framework="pt") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
            missing = sorted(set(expected) - set(shapes))
            unexpected = sorted(set(shapes) - set(expected))
            wrong = [k for k in expected if k in shapes and shapes[k] != tuple(expected[k])]
            if missing or unexpected or wrong:
                raise ModelFileError(f"{file} does not fit the network in {CONFIG}: {len(missing)} missing, "
                                     f"{len(unexpected)} unexpected, {len(wrong)} wrongly shaped tensors")
            return {k: f.get_tensor(k) for k in expected}
    except ModelFileError:
        raise
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelFileError(f"{file} is not a valid safetensors file ({err})") from None


def is_package(path) -> bool:
    """True for a .zip file (a bioimage.io package); a model folder is a folder."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() == ".zip"


def is_our_package(path) -> bool:
    """True for a regular-file .zip holding our config.json (format checked) and weights: one we
    exported, so `export --overwrite` may replace it."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) or not zipfile.is_zipfile(path):
            return False
        with zipfile.ZipFile(path) as package:
            names = set(package.namelist())
            info = package.getinfo(CONFIG) if {CONFIG, WEIGHTS} <= names else None
            if info is None or info.file_size > PACKAGE_LIMITS[CONFIG] or not names & {"rdf.yaml", "bioimageio.yaml"}:
                return False
            return json.loads(package.read(info)).get("format") == FORMAT
    except (OSError, ValueError, RecursionError, AttributeError, zipfile.BadZipFile, RuntimeError):
        return False


@contextmanager
def unpacked_package(path, weights_bytes=None):
    """A temporary model folder holding the config.json and weights.safetensors attached to our
    exported bioimage.io package `path`. Nothing else in the zip is read, and each of the two is
    read only up to its declared size, which must be within `PACKAGE_LIMITS` and, for the
    weights, `weights_bytes(config)` (what the config's network holds), checked before reading."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="napari-blindspot-") as tmp:
        try:
            with zipfile.ZipFile(path) as package:
                for name, limit in PACKAGE_LIMITS.items():
                    if name == WEIGHTS and weights_bytes is not None:
                        limit = min(limit, weights_bytes(_read_json(Path(tmp) / CONFIG)))
                    try:
                        info = package.getinfo(name)
                    except KeyError:
                        raise ModelFileError(f"{path} has no {name}: it is not a package exported by "
                                             "napari-blindspot (run other bioimage.io models with "
                                             "bioimageio.core)") from None
                    if info.file_size > limit:
                        raise ModelFileError(f"{path}: its {name} declares {info.file_size} bytes, more "
                                             f"than this napari-blindspot model holds ({limit}): it is not ours")
                    with package.open(info) as entry:
                        data = entry.read(info.file_size + 1)
                    if len(data) != info.file_size:
                        raise ModelFileError(f"{path}: its {name} is not the size it declares")
                    (Path(tmp) / name).write_bytes(data)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, EOFError, OSError) as err:
            raise ModelFileError(f"{path} is not a readable .zip file ({err})") from None
        except ModelFileError as err:  # about our temporary copy: name the user's zip
            raise ModelFileError(str(err).replace(str(Path(tmp) / CONFIG), f"{path}'s {CONFIG}")) from None
        try:
            yield Path(tmp)
        except ModelFileError as err:
            text = str(err).replace(str(Path(tmp) / CONFIG), f"{path}'s {CONFIG}")
            raise ModelFileError(text.replace(str(Path(tmp) / WEIGHTS), f"{path}'s {WEIGHTS}")
                                 .replace(tmp, str(path))) from None

"""The bad-input matrix: every case through the Python API and the command line.

Each case must give a clear error (type and message), leave the input byte-identical, and
leave no output behind. docs/reliability.md summarises this table.
"""

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import tifffile

import napari_blindspot as nb
from napari_blindspot.cli import main

GOOD = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
FAST = dict(steps=2, time_budget_s=None, patch_size=16, batch_size=2, features=8)

with_nan = GOOD.copy()
with_nan[5, 5] = np.nan
with_inf = GOOD.copy()
with_inf[5, 5] = np.inf

# (id, image, api kwargs, expected message fragment)
IMAGE_CASES = [
    ("empty", np.zeros((0, 48), np.float32), {}, "empty"),
    ("too small", np.random.rand(8, 8).astype(np.float32), {}, "too small"),
    ("nan", with_nan, {}, "NaN or Inf"),
    ("inf", with_inf, {}, "NaN or Inf"),
    ("constant", np.full((48, 48), 3.0, np.float32), {}, "constant"),
    ("bool", GOOD > 100, {}, "integer or floating"),
    ("complex", GOOD.astype(np.complex64), {}, "integer or floating"),
    ("1d", GOOD[0], {}, "2 to 6 dimensions"),
    ("7d", GOOD.reshape(1, 1, 1, 1, 1, 48, 48), {}, "2 to 6 dimensions"),
    ("axes mismatch", GOOD, {"axes": "ZYX"}, "do not match"),
    ("unknown axis letter", GOOD, {"axes": "QX"}, "unknown letter"),
    ("patch larger than image", GOOD, {"patch_size": 64}, "patch size of at most 48"),
    ("zero budget", GOOD, {"time_budget_s": 0, "steps": None}, "positive"),
    ("negative budget", GOOD, {"time_budget_s": -5, "steps": None}, "positive"),
    ("unknown method", GOOD, {"method": "care"}, "unknown method"),
    ("unknown noise", GOOD, {"noise": "laplace"}, "unknown noise"),
]


@pytest.mark.parametrize("name, image, kwargs, message", IMAGE_CASES, ids=[c[0] for c in IMAGE_CASES])
def test_api_refuses_bad_input_clearly_and_leaves_it_unchanged(name, image, kwargs, message):
    before = image.copy()
    with pytest.raises((ValueError, TypeError), match=message):
        nb.denoise(image, **{"axes": None, **FAST, **kwargs})
    assert np.array_equal(image, before, equal_nan=image.dtype.kind == "f")


CLI_ARGS = {"axes": "--axes", "patch_size": "--patch-size", "time_budget_s": "--time-budget",
            "method": "--method", "noise": "--noise"}


def _cli_flags(kwargs):
    flags = []
    for key, value in kwargs.items():
        if key in CLI_ARGS and value is not None:
            flags += [CLI_ARGS[key], str(value)]
    if "time_budget_s" not in kwargs:
        flags += ["--steps", "2"]
    return flags


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name, image, kwargs, message",
                         [c for c in IMAGE_CASES if c[0] not in ("bool", "unknown method", "unknown noise")],
                         ids=[c[0] for c in IMAGE_CASES if c[0] not in ("bool", "unknown method", "unknown noise")])
def test_cli_refuses_bad_input_with_exit_2_and_no_output(tmp_path, capsys, name, image, kwargs, message):
    src = tmp_path / "in.npy"
    np.save(src, image)
    before = _digest(src)
    flags = _cli_flags({"patch_size": 16, **kwargs})
    assert main(["denoise", str(src), str(tmp_path / "out.tif"), *flags, "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert _digest(src) == before
    assert [p.name for p in tmp_path.iterdir()] == ["in.npy"]


@pytest.mark.parametrize("flags", [["--method", "care"], ["--noise", "laplace"]])
def test_cli_refuses_unknown_choices(tmp_path, capsys, flags):
    np.save(tmp_path / "in.npy", GOOD)
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.tif"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "invalid choice" in err[0], err


FILE_CASES = [
    ("truncated tif", "in.tif", lambda p: p.write_bytes(tifffile_bytes()[:200]), "cannot read"),
    ("not an image", "in.tif", lambda p: p.write_text("hello"), "cannot read"),
    ("pickled npy", "in.npy", lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
     "cannot read"),
    ("unknown input type", "in.png", lambda p: p.write_bytes(b"\x89PNG"), "unsupported file type"),
]


def tifffile_bytes():
    import io

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, GOOD)
    return buffer.getvalue()


@pytest.mark.parametrize("name, filename, make, message", FILE_CASES, ids=[c[0] for c in FILE_CASES])
def test_unreadable_files_are_refused(tmp_path, capsys, name, filename, make, message):
    src = tmp_path / filename
    make(src)
    before = _digest(src)
    assert main(["denoise", str(src), str(tmp_path / "out.tif"), "--steps", "2", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert _digest(src) == before and not (tmp_path / "out.tif").exists()


def test_model_for_other_channels_is_refused(tmp_path, capsys):
    np.save(tmp_path / "in.npy", GOOD)
    assert main(["train", str(tmp_path / "in.npy"), str(tmp_path / "m"), "--steps", "2", "--patch-size", "16",
                 "--quiet"]) == 0
    np.save(tmp_path / "rgbish.npy", np.stack([GOOD] * 3))
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "rgbish.npy"), str(tmp_path / "o.npy"),
                 "--axes", "CYX", "--quiet"]) == 2
    assert "trained on 1 channel" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


@pytest.mark.parametrize("name, filename, make", [
    ("inf", "in.npy", lambda p: np.save(p, with_inf)),  # numpy warned while measuring the std
    ("truncated tif", "in.tif", lambda p: p.write_bytes(tifffile_bytes()[:200])),  # tifffile logged each tag
], ids=["inf", "truncated tif"])
def test_console_script_prints_the_error_line_and_nothing_else(tmp_path, name, filename, make):
    """Outside pytest, warnings and library logs reach stderr too: the user sees one line."""
    make(tmp_path / filename)
    proc = subprocess.run([sys.executable, "-m", "napari_blindspot.cli", "denoise", str(tmp_path / filename),
                           str(tmp_path / "out.tif"), "--steps", "2", "--quiet"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: "), proc.stderr

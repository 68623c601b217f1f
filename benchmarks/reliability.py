"""Bad inputs through every entry point (Python API, command line, napari widget): does each one
end in a clear error, leave the data as it was, and never hang?

    .venv/bin/python benchmarks/reliability.py            # starts the widget part under xvfb-run itself

The API and CLI cases are the table that tests/test_bad_input.py checks (imported from there,
so the two cannot drift apart), plus a few extras; the widget cases are what a user can do in
the dock (an RGB or labels layer, bad axes text, a too-small, NaN or constant image, ...).
Every case runs in a child process with a deadline (`--timeout`): the API in a forked process,
the CLI as the real console script, the widget in one napari process per batch that reports
case by case. For each case this records:

- outcome: "clear error" (API: ValueError/TypeError whose message has the expected words;
  CLI: exit 2, an `error:` line with the expected words, no traceback; widget: one error
  notification with the expected words, back to idle, no result layer), "unclear error",
  "accepted" (no error at all), "prevented" (the UI cannot express the input), "hang", "crash";
- data_changed: the input's bytes (SHA-256 of the array, the file, or the layer's data) differ;
- for the CLI, files left next to the input (partial outputs, temporary folders);
- the seconds until the refusal.

Also checks cancellation of the console script (SIGINT while training, while writing the
output over an existing file): exit 130, no new or partial file, the old output untouched.
Writes benchmarks/results/reliability.json. Not timing-sensitive.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import test_bad_input as table  # the case table the test suite checks
from harness import LoopbackServer
from _measure import _cpu, load, pump_qt

RESULTS = HERE / "results" / "reliability.json"
_exe = Path(sys.executable).with_name("napari-blindspot")
CLI = [str(_exe)] if _exe.exists() else [sys.executable, "-m", "napari_blindspot.cli"]
GOOD = table.GOOD


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fragment_in(fragment: str, text: str) -> bool:
    return re.search(fragment, text) is not None


# -- Python API: nb.denoise in a forked process ------------------------------------------------

def _unknown_chunks():
    import dask.array as da

    lazy = da.from_array(GOOD, chunks=16)
    return lazy[lazy[:, 0] > 0]


API_EXTRA = [  # (id, image, kwargs, expected words): beyond the table the tests check
    ("axes not a string", GOOD, {"axes": 2}, "must be a string"),
    ("unknown device", GOOD, {"device": "tpu"}, "unknown device"),
    ("string for a number", GOOD, {"time_budget_s": "60", "steps": None}, "time_budget_s must be a number"),
    ("float for a whole number", GOOD, {"batch_size": 2.0}, "batch_size must be a whole number"),
    ("negative seed", GOOD, {"seed": -1}, "seed must be a whole number from 0"),
    ("zero training steps", GOOD, {"time_budget_s": 1e-9, "steps": None}, "no step"),
    ("dask array of unknown chunk sizes", _unknown_chunks(), {}, "compute_chunk_sizes"),
]


def _bytes(image) -> bytes:
    """The array's bytes; a dask array of unknown shape by its graph's name (computing it would change nothing)."""
    return image.tobytes() if hasattr(image, "tobytes") else str(getattr(image, "name", id(image))).encode()


def _api_child(conn, image, kwargs) -> None:
    import napari_blindspot as nb

    before = _sha(_bytes(image))
    try:
        nb.denoise(image, **{"axes": None, **table.FAST, **kwargs})
        result = {"raised": None, "message": ""}
    except Exception as err:  # noqa: BLE001 - recorded, that is the point
        result = {"raised": type(err).__name__, "message": str(err)}
    result["data_changed"] = _sha(_bytes(image)) != before
    conn.send(result)


def api_case(name, image, kwargs, fragment, timeout) -> dict:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    start = time.perf_counter()
    proc = ctx.Process(target=_api_child, args=(child, image, kwargs))
    proc.start()
    child.close()  # only the child writes: a child that dies then reads as EOF, not as silence
    got = parent.poll(timeout)
    seconds = round(time.perf_counter() - start, 2)
    if not got:
        proc.kill()
        proc.join()
        return {"entry": "api", "case": name, "outcome": "hang", "seconds": seconds, "data_changed": None}
    try:
        result = parent.recv()
    except EOFError:
        proc.join()
        return {"entry": "api", "case": name, "outcome": "crash", "exit_code": proc.exitcode, "seconds": seconds,
                "data_changed": None}
    proc.join()
    if result["raised"] is None:
        outcome = "accepted"
    elif result["raised"] in ("ValueError", "TypeError") and _fragment_in(fragment, result["message"]):
        outcome = "clear error"
    else:
        outcome = "unclear error"
    return {"entry": "api", "case": name, "outcome": outcome, "error_type": result["raised"],
            "message": result["message"], "expected": fragment, "data_changed": result["data_changed"],
            "seconds": seconds}


# -- command line: the console script --------------------------------------------------------


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _hashes(folder: Path) -> dict:
    """Every file and folder under `folder` (links as their target's name): what must not change."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = _sha(p.read_bytes())
        elif p.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = "special"
    return out


def cli_case(name, folder: Path, inputs: list[str], argv: list[str], fragment, timeout, accept: bool = False,
             cmd=None) -> dict:
    """`accept`: the right answer is exit 0 with `fragment` on stderr (the file's axes, a warning).
    `inputs` is kept for the record; every file already in the folder must keep its bytes."""
    before = _hashes(folder)
    start = time.perf_counter()
    try:
        proc = subprocess.run((cmd or CLI) + argv, check=False, cwd=folder, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"entry": "cli", "case": name, "outcome": "hang", "seconds": timeout, "data_changed": None,
                "files_left": [p for p in _hashes(folder) if p not in before]}
    seconds = round(time.perf_counter() - start, 2)
    err_lines = [line for line in proc.stderr.splitlines() if line.strip()]
    traceback = "Traceback" in proc.stderr
    error_lines = [line for line in err_lines if "error: " in line]
    after = _hashes(folder)
    changed = any(after.get(f) != h for f, h in before.items())
    left = [f for f in after if f not in before and not Path(f).parts[-1].startswith(ACCEPTED_OUTPUTS)
            and not any(part.startswith(ACCEPTED_OUTPUTS) for part in Path(f).parts)]
    if accept:
        outcome = ("correct" if proc.returncode == 0 and _fragment_in(fragment, proc.stderr) and not traceback
                   else "wrong")
    elif proc.returncode == 0:
        outcome = "accepted"
    elif proc.returncode < 0:
        outcome = "crash"
    elif (proc.returncode == 2 and not traceback and error_lines
          and any(_fragment_in(fragment, line) for line in error_lines)):
        outcome = "clear error"
    else:
        outcome = "unclear error"
    return {"entry": "cli", "case": name, "outcome": outcome, "exit_code": proc.returncode,
            "message": error_lines[-1] if error_lines else proc.stderr[-300:], "stderr_lines": len(err_lines),
            "one_line": len(err_lines) == 1 and err_lines[0].startswith("error: "), "traceback": traceback,
            "expected": fragment, "data_changed": changed, "files_left": left, "seconds": seconds,
            "stdout_tail": proc.stdout[-300:] if cmd else ""}


ACCEPTED_OUTPUTS = ("ok-",)  # outputs meant to be written, even by a case that fails later (named ok-...)


def cli_cases(timeout) -> list[dict]:
    out = []
    skip = ("bool", "unknown method", "unknown noise")  # numpy bool saves as bool; the others are argparse choices
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = tmp / "model"
        setup = subprocess.run(CLI + ["train", "in.npy", str(model), "--steps", "2", "--patch-size", "16",
                                      "--quiet"], check=False, cwd=_with_npy(tmp, GOOD), capture_output=True,
                               text=True)
        assert setup.returncode == 0, setup.stderr
        for name, image, kwargs, fragment in table.IMAGE_CASES:
            if name in skip:
                continue
            folder = _fresh(tmp, name)
            _with_npy(folder, image)
            flags = table._cli_flags({"patch_size": 16, **kwargs})
            out.append(cli_case(name, folder, ["in.npy"], ["denoise", "in.npy", "out.tif", *flags, "--quiet"],
                                fragment, timeout))
        for flags in (["--method", "care"], ["--noise", "laplace"]):
            folder = _fresh(tmp, flags[0])
            _with_npy(folder, GOOD)
            out.append(cli_case(f"unknown choice {' '.join(flags)}", folder, ["in.npy"],
                                ["denoise", "in.npy", "out.tif", "--steps", "2", *flags], "invalid choice", timeout))
        for name, filename, make, fragment in table.FILE_CASES:
            folder = _fresh(tmp, name)
            make(folder / filename)
            out.append(cli_case(name, folder, [filename], ["denoise", filename, "out.tif", "--steps", "2", "--quiet"],
                                fragment, timeout))
        folder = _fresh(tmp, "channels")
        np.save(folder / "rgbish.npy", np.stack([GOOD] * 3))
        out.append(cli_case("model for other channels", folder, ["rgbish.npy"],
                            ["predict", str(model), "rgbish.npy", "o.npy", "--axes", "CYX", "--quiet"],
                            "trained on 1 channel", timeout))
        folder = _fresh(tmp, "missing")  # extras beyond the test table
        out.append(cli_case("input file missing", folder, [], ["denoise", "nope.tif", "out.tif", "--quiet"],
                            "nope.tif", timeout))
        _with_npy(folder, GOOD)
        out.append(cli_case("output folder missing", folder, ["in.npy"],
                            ["denoise", "in.npy", "no/such/out.tif", "--steps", "2", "--quiet"], "does not exist",
                            timeout))
        out += safety_cases(tmp, model, timeout) + wrong_result_cases(tmp, timeout) + fault_cases(tmp, model, timeout)
        out += path_cases(tmp, model, timeout)
    return out


FAST = ["--steps", "2", "--patch-size", "16", "--quiet"]


def _ome_zarr(path: Path, arrays=("0", "1"), multiscales=True) -> None:
    import zarr

    group = zarr.open_group(str(path), mode="w")
    if multiscales:
        group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "y"}, {"name": "x"}],
                                       "datasets": [{"path": a} for a in arrays]}]
    for i, a in enumerate(arrays):
        group.create_array(a, shape=(48 >> i, 48 >> i), dtype="f4")[...] = GOOD[:: 1 << i, :: 1 << i]
    group.create_group("labels").create_array("cells", shape=(48, 48), dtype="u2")[...] = 1


def _tiff(path: Path, array=None, **kwargs) -> None:
    import tifffile

    tifffile.imwrite(path, GOOD if array is None else array, **kwargs)


def _npy_case_maker(tmp: Path, prefix: str, cases: list, timeout):
    """`case(name, setup, argv, fragment)`: a fresh folder holding in.npy, `setup` run on it, and the
    command line's verdict on `argv` appended to `cases`."""
    def case(name, setup, argv, fragment):
        folder = _fresh(tmp, prefix + name)
        _with_npy(folder, GOOD)
        setup(folder)
        cases.append(cli_case(name, folder, ["in.npy"], argv, fragment, timeout))
    return case


def safety_cases(tmp: Path, model: Path, timeout) -> list[dict]:
    """Never destroy data (issue 15): every one must be refused with every file left as it was."""
    cases = []
    case = _npy_case_maker(tmp, "safety ", cases, timeout)

    def project(f):
        (f / "project").mkdir()
        (f / "project" / "config.json").write_text('{"microscope": "confocal"}')
        (f / "project" / "notes.txt").write_text("keep me")

    def with_model(f):
        shutil.copytree(model, f / "model")

    docx = lambda f: ((f / "r.tif").mkdir(), (f / "r.tif" / "thesis.docx").write_text("four years"))
    nothing = lambda f: None
    case("output is an existing folder", docx, ["denoise", "in.npy", "r.tif", *FAST], "not a file")
    case("output is an existing folder, --overwrite", docx, ["denoise", "in.npy", "r.tif", *FAST, "--overwrite"],
         "not a file")
    case("output is an OME-Zarr group", lambda f: _ome_zarr(f / "stack.zarr"),
         ["denoise", "in.npy", "stack.zarr", *FAST, "--overwrite"], "not a single zarr array")
    case("predict output is its OME-Zarr input", lambda f: (_ome_zarr(f / "stack.zarr"), with_model(f)),
         ["predict", "model", "stack.zarr", "stack.zarr", "--quiet", "--overwrite"], "is the INPUT")
    case("predict output inside its zarr input", lambda f: (_ome_zarr(f / "stack.zarr"), with_model(f)),
         ["predict", "model", "stack.zarr", "stack.zarr/out.zarr", "--quiet"], "INPUT")
    case("output = input", nothing, ["denoise", "in.npy", "in.npy", *FAST, "--overwrite"], "is the INPUT")
    case("output = input (symlink)", lambda f: os.symlink("in.npy", f / "out.npy"),
         ["denoise", "in.npy", "out.npy", *FAST, "--overwrite"], "is the INPUT")
    case("output = input (hard link)", lambda f: os.link(f / "in.npy", f / "out.npy"),
         ["denoise", "in.npy", "out.npy", *FAST, "--overwrite"], "is the INPUT")
    case("predict output = input", with_model, ["predict", "model", "in.npy", "in.npy", "--quiet", "--overwrite"],
         "is the INPUT")
    case("predict output inside the model", with_model, ["predict", "model", "in.npy", "model/out.npy", "--quiet"],
         "MODEL")
    case("--uncertainty = input", nothing,
         ["denoise", "in.npy", "out.npy", "--method", "hqssl", "--uncertainty", "in.npy", *FAST], "INPUT")
    case("--uncertainty = output", nothing,
         ["denoise", "in.npy", "out.npy", "--method", "hqssl", "--uncertainty", "out.npy", *FAST], "same path")
    case("--save-model = output", nothing, ["denoise", "in.npy", "out.npy", "--save-model", "out.npy", *FAST],
         "same path")
    case("--save-model = the input's folder", nothing, ["denoise", "in.npy", "out.npy", "--save-model", ".", *FAST],
         "INPUT")
    case("train into a project folder", project, ["train", "in.npy", "project", *FAST], "holds other files")
    case("train into a project folder, --overwrite", project, ["train", "in.npy", "project", *FAST, "--overwrite"],
         "holds other files")
    case("train over our model without --overwrite", with_model, ["train", "in.npy", "model", *FAST],
         "--overwrite")
    case("existing TIFF output without --overwrite", lambda f: _tiff(f / "out.tif"),
         ["denoise", "in.npy", "out.tif", *FAST], "--overwrite")
    case("existing non-TIFF out.tif, --overwrite", lambda f: (f / "out.tif").write_text("notes"),
         ["denoise", "in.npy", "out.tif", *FAST, "--overwrite"], "not ours to replace")
    case("output is a FIFO", lambda f: os.mkfifo(f / "out.npy"),
         ["denoise", "in.npy", "out.npy", *FAST, "--overwrite"], "not a file")
    return cases


def path_cases(tmp: Path, model: Path, timeout) -> list[dict]:
    """Issue 24: every path option against every other, FIFOs where a file is expected, files
    whose JSON or numbers are not ours. Each refused before any work, nothing changed, no hang."""
    import zarr

    cases = []
    case = _npy_case_maker(tmp, "paths ", cases, timeout)

    def with_model(f):
        shutil.copytree(model, f / "model")

    def fifo_config(f):
        with_model(f)
        (f / "model" / "config.json").unlink()
        os.mkfifo(f / "model" / "config.json")

    def out_zarr(f, fifo=False, notes=False):
        zarr.open_array(str(f / "out.zarr"), mode="w", shape=(48, 48), dtype="f4", zarr_format=2)[...] = 1
        if fifo:
            os.remove(f / "out.zarr" / ".zarray")
            os.mkfifo(f / "out.zarr" / ".zarray")
        if notes:
            (f / "out.zarr" / "c").mkdir()
            (f / "out.zarr" / "c" / "notes.txt").write_text("keep me")

    def in_zarr(f, fifo=False):
        zarr.open_array(str(f / "in.zarr"), mode="w", shape=(48, 48), dtype="f4")[...] = GOOD
        if fifo:
            os.remove(f / "in.zarr" / "zarr.json")
            os.mkfifo(f / "in.zarr" / "zarr.json")

    def deep_config(f):
        with_model(f)
        (f / "model" / "config.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000)

    def history(f):
        with_model(f)
        config = json.loads((f / "model" / "config.json").read_text())
        config["history"]["seconds"] = "abc"
        (f / "model" / "config.json").write_text(json.dumps(config))

    def bomb(f):
        import zipfile

        with zipfile.ZipFile(f / "x.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("config.json", (model / "config.json").read_text())
            z.writestr("weights.safetensors", bytes(256 << 20))

    def nan_target(f):
        second = GOOD + 1
        second[10:20, 10:20] = np.nan
        np.save(f / "b.npy", second)

    nothing = lambda f: None
    fifo = lambda name: (lambda f: os.mkfifo(f / name))
    hq = ["--method", "hqssl"]
    case("--report inside --save-model", nothing,
         ["denoise", "in.npy", "out.npy", "--save-model", "m", "--report", "m/config.json", *FAST], "lies inside")
    case("--report = --uncertainty", nothing,
         ["denoise", "in.npy", "out.npy", *hq, "--uncertainty", "u.tif", "--report", "u.tif", *FAST], "same path")
    case("--report inside the output zarr", nothing,
         ["denoise", "in.npy", "out.zarr", "--report", "out.zarr/zarr.json", *FAST], "lies inside")
    case("--report inside the input zarr", in_zarr,
         ["denoise", "in.zarr", "out.npy", "--report", "in.zarr/run.json", *FAST], "INPUT")
    case("--report in a missing folder", nothing,
         ["denoise", "in.npy", "out.npy", "--report", "nodir/run.json", *FAST], "does not exist")
    case("--report = MODEL_DIR", nothing, ["train", "in.npy", "m", "--report", "m", *FAST], "same path")
    case("--report empty", nothing, ["denoise", "in.npy", "out.npy", "--report", "", *FAST], "empty path")
    case("--save-model empty", nothing, ["denoise", "in.npy", "out.npy", "--save-model", "", *FAST], "empty path")
    case("--report is a FIFO", fifo("run.json"), ["denoise", "in.npy", "out.npy", "--report", "run.json", *FAST],
         "not a report of ours")
    case("FIFO config.json in MODEL_DIR (train)", fifo_config, ["train", "in.npy", "model", "--overwrite", *FAST],
         "holds other files|not a regular file")
    case("FIFO config.json in MODEL (predict)", fifo_config, ["predict", "model", "in.npy", "out.npy", "--quiet"],
         "not a regular file")
    case("FIFO .zarray in the output zarr", lambda f: out_zarr(f, fifo=True),
         ["denoise", "in.npy", "out.zarr", "--overwrite", *FAST], "not a single zarr array")
    case("FIFO zarr.json in the input zarr", lambda f: in_zarr(f, fifo=True),
         ["denoise", "in.zarr", "out.npy", *FAST], "not a regular file")
    case("user file deep in the output zarr, --overwrite", lambda f: out_zarr(f, notes=True),
         ["denoise", "in.npy", "out.zarr", "--overwrite", *FAST], "not a single zarr array")
    case("model config nested 50k deep", deep_config, ["predict", "model", "in.npy", "out.npy", "--quiet"],
         "nested too deeply")
    case("tampered history in config.json", history, ["predict", "model", "in.npy", "out.npy", "--quiet"],
         "history seconds")
    case("zip declaring 256 MiB of weights", bomb, ["predict", "x.zip", "in.npy", "out.npy", "--quiet"],
         "declares")
    case("--target = INPUT", nothing, ["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "in.npy", *FAST],
         "the second recording is the same as the first")
    case("--target a copy of INPUT", lambda f: np.save(f / "b.npy", GOOD),
         ["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "b.npy", *FAST], "the same as the first")
    case("NaN block in --target", nan_target,
         ["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "b.npy", *FAST], "second recording holds NaN")
    case("nearest-neighbour upscaled image", lambda f: np.save(f / "up.npy", np.kron(GOOD[:24, :24], np.ones((2, 2)))),
         ["denoise", "up.npy", "out.npy", *FAST], "not independent between pixels")
    case("float64 beyond float32's range", lambda f: np.save(f / "big.npy", GOOD.astype(np.float64) * 1e300),
         ["denoise", "big.npy", "out.npy", *FAST], "beyond float32's range")
    case("export over a text file named out.zip", lambda f: (with_model(f), (f / "out.zip").write_text("notes")),
         ["export", "model", "out.zip", "--overwrite"], "not ours to replace|needs bioimageio")
    case("export into the model folder", with_model, ["export", "model", "model/out.zip"], "lies inside")
    case("export --sample with NaN", lambda f: (with_model(f), np.save(f / "s.npy", np.full((48, 48), np.nan, "f4"))),
         ["export", "model", "out.zip", "--sample", "s.npy"], "NaN or infinite|needs bioimageio")
    return cases


def wrong_result_cases(tmp: Path, timeout) -> list[dict]:
    """Never a wrong result with exit 0: asked about, or read right from the metadata."""
    cases = []

    def case(name, setup, argv, fragment, accept=False):
        folder = _fresh(tmp, "result " + name)
        setup(folder)
        cases.append(cli_case(name, folder, [], argv, fragment, timeout, accept=accept))

    rng = np.random.default_rng(0)
    stack = lambda shape: rng.normal(100, 10, shape).astype(np.float32)

    def two_series(f):
        import tifffile

        with tifffile.TiffWriter(f / "two.ome.tif", ome=True) as tif:
            tif.write(stack((32, 32)), metadata={"axes": "YX"})
            tif.write(stack((3, 32, 32)), metadata={"axes": "ZYX"})

    def raw_and_mask(f):
        import zarr

        group = zarr.open_group(str(f / "stack.zarr"), mode="w")
        group.create_array("mask", shape=(32, 32), dtype="u1")[...] = 1
        group.create_array("raw", shape=(32, 32), dtype="f4")[...] = stack((32, 32))

    case("ImageJ ZCYX hyperstack", lambda f: _tiff(f / "hyper.tif", stack((3, 2, 32, 40)), imagej=True,
                                                    metadata={"axes": "ZCYX"}),
         ["train", "hyper.tif", "ok-model", "--steps", "1", "--patch-size", "16"], r"axes: ZCYX", accept=True)
    case("OME-TIFF TCYX", lambda f: _tiff(f / "t.ome.tif", stack((2, 3, 32, 40)), metadata={"axes": "TCYX"}),
         ["train", "t.ome.tif", "ok-model", "--steps", "1", "--patch-size", "16"], r"axes: TCYX", accept=True)
    case("zarr group without array 0", raw_and_mask, ["denoise", "stack.zarr", "out.npy", *FAST], "name the one")
    case("zarr group: stack.zarr/raw", raw_and_mask, ["denoise", "stack.zarr/raw", "ok-out.npy", "--steps", "1",
                                                      "--patch-size", "16"], r"training n2v", accept=True)
    case("zarr group: missing array", raw_and_mask, ["denoise", "stack.zarr/rwa", "out.npy", *FAST], "no array")
    case("multi-series OME-TIFF", two_series, ["denoise", "two.ome.tif", "out.npy", *FAST], "--series N")
    case("multi-series OME-TIFF, --series 1", two_series,
         ["denoise", "two.ome.tif", "ok-out.npy", "--series", "1", "--steps", "1", "--patch-size", "16"],
         r"training n2v", accept=True)
    case("--series out of range", two_series, ["denoise", "two.ome.tif", "out.npy", "--series", "5", *FAST],
         "does not exist")
    case("zero training steps", lambda f: _with_npy(f, GOOD),
         ["denoise", "in.npy", "out.npy", "--time-budget", "1e-9", "--quiet"], "no step")
    case("OME unit not a length", lambda f: _tiff(f / "u.ome.tif", stack((4, 32, 32)),
                                                 metadata={"axes": "ZYX", "PhysicalSizeZ": 1, "PhysicalSizeZUnit":
                                                           "pixel", "PhysicalSizeY": 0.2, "PhysicalSizeX": 0.2}),
         ["train", "u.ome.tif", "ok-model", "--steps", "1", "--patch-size", "16"], r"warning: .*'pixel'", accept=True)
    return cases


def fault_cases(tmp: Path, model: Path, timeout) -> list[dict]:
    """Never crash, hang or leave debris: odd files, servers, option values, memory, full disks."""
    import zarr

    cases = []

    def case(name, setup, argv, fragment, cmd=None):
        folder = _fresh(tmp, "fault " + name)
        _with_npy(folder, GOOD)
        setup(folder)
        cases.append(cli_case(name, folder, ["in.npy"], argv, fragment, timeout, cmd=cmd))

    nothing = lambda f: None
    case("input is a FIFO", lambda f: os.mkfifo(f / "fifo.npy"), ["denoise", "fifo.npy", "out.npy", *FAST],
         "not a regular file")
    case("zarr of one-pixel chunks", lambda f: zarr.open_array(str(f / "tiny.zarr"), mode="w", shape=(256, 256),
                                                               chunks=(1, 1), dtype="f4"),
         ["denoise", "tiny.zarr", "out.npy", *FAST], "larger chunks")
    for label, answer in (("silent", None), ("HTTP", b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")):
        server = LoopbackServer(answer)
        case(f"scheduler: {label} server on 127.0.0.1", lambda f: shutil.copytree(model, f / "model"),
             ["predict", "model", "in.npy", "out.npy", "--scheduler", server.address, "--quiet"],
             "dask scheduler")
        server.close()
    for flags, option in ((["--seed", "-1"], "--seed"), (["--seed", "2.5"], "--seed"),
                          (["--batch-size", "0"], "--batch-size"), (["--tile", "2"], "--tile"),
                          (["--time-budget", "nan"], "--time-budget"), (["--sigma", "-1"], "--sigma"),
                          (["--patch-size", "4"], "--patch-size"), (["--series", "-1"], "--series")):
        argv = ["denoise", "in.npy", "out.npy", "--quiet", *flags] + ([] if "--time-budget" in flags else
                                                                        ["--steps", "2"])
        case(f"option {' '.join(flags)}", nothing, argv, option)
    case("--batch-size too large for memory", nothing,
         ["denoise", "in.npy", "out.npy", "--steps", "1", "--patch-size", "16", "--batch-size", "100000000"],
         "--batch-size")
    cases += full_disk_cases(tmp, timeout)
    return cases


def full_disk_cases(tmp: Path, timeout) -> list[dict]:
    """A real full disk: a small tmpfs mounted in a private mount namespace (root and unshare only).
    The namespace ends with the command, so the listing of the disk is printed from inside it."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return []
    exe = " ".join(CLI)
    rng = np.random.default_rng(0)
    cases = []

    def case(name, size_kb, argv, fragment, image=GOOD):
        folder = _fresh(tmp, "disk " + name)
        _with_npy(folder, image)
        (folder / "disk").mkdir()
        script = (f"mount -t tmpfs -o size={size_kb}k tmpfs disk && {exe} {' '.join(argv)}; rc=$?; "
                  "echo LEFT: $(ls -A disk); exit $rc")
        record = cli_case(name, folder, ["in.npy"], ["-m", "sh", "-c", script], fragment, timeout,
                          cmd=["unshare"])
        left = record.get("stdout_tail", "").split("LEFT:")[-1].split()
        record["files_left"] = record.get("files_left", []) + [f"disk/{n}" for n in left
                                                               if not n.startswith(ACCEPTED_OUTPUTS)]
        cases.append(record)

    big = rng.normal(100, 10, (256, 256)).astype(np.float32)  # 256 KB as float32
    for suffix in (".npy", ".tif", ".zarr"):
        case(f"output larger than the disk ({suffix})", 64, ["denoise", "in.npy", f"disk/out{suffix}", *FAST],
             "no space left on", image=big)
        # the model (~470 KB) is saved when training ends (kept, as after Ctrl+C), then the output does not fit
        case(f"disk full after the model ({suffix})", 560,
             ["denoise", "in.npy", f"disk/out{suffix}", "--save-model", "disk/ok-model", *FAST], "no space left on",
             image=big)
    case("model larger than the disk", 8, ["train", "in.npy", "disk/model", *FAST], "no space left on")
    return cases


def _fresh(tmp: Path, name: str) -> Path:
    folder = tmp / re.sub(r"\W+", "-", name).strip("-")
    folder.mkdir()
    return folder


def _with_npy(folder: Path, image) -> Path:
    np.save(folder / "in.npy", image)
    return folder


# -- cancellation: SIGINT to the console script ------------------------------------------------


def _interrupt(argv, folder: Path, when: str, timeout: float, signum=signal.SIGINT) -> dict:
    """Start the CLI, send `signum` once its stderr matches `when`, report what it left behind."""
    paths = _files(folder)
    listing = {f: _sha((folder / f).read_bytes()) for f in paths if (folder / f).is_file()}
    proc = subprocess.Popen(CLI + argv, cwd=folder, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    seen, buffer = threading.Event(), []

    def read():
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            buffer.append(chunk.decode(errors="replace"))
            if re.search(when, "".join(buffer)):
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    sent = seen.wait(timeout)
    if sent:
        time.sleep(0.3)
        proc.send_signal(signum)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"interrupted": sent, "outcome": "hang"}
    reader.join(5)
    after = {f: _sha((folder / f).read_bytes()) for f in _files(folder) if (folder / f).is_file()}
    stderr = "".join(buffer)
    left = sorted(set(_files(folder)) - set(paths))
    changed = sorted(f for f in listing if after.get(f) != listing[f])
    return {"interrupted": sent, "exit_code": code, "last_line": stderr.strip().splitlines()[-1] if stderr.strip() else "",
            "files_left": left, "files_changed": changed,
            "outcome": "clean" if code == 128 + signum and sent and not left and not changed else "not clean"}


def cancellation_cases(timeout) -> list[dict]:
    rng = np.random.default_rng(0)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            name = signal.Signals(signum).name
            folder = _fresh(tmp, f"train {name}")
            _with_npy(folder, rng.normal(100, 10, (256, 256)).astype(np.float32))
            _tiff(folder / "out.tif", np.zeros((4, 4), np.float32))  # an older result, to be kept
            result = _interrupt(["denoise", "in.npy", "out.tif", "--time-budget", "120", "--patch-size", "32",
                                 "--overwrite"], folder, r"loss=", timeout, signum)
            out.append({"case": f"{name} while training (existing output)", **result})
            folder = _fresh(tmp, f"predict {name}")
            _with_npy(folder, rng.normal(100, 10, (256, 256)).astype(np.float32))
            subprocess.run(CLI + ["train", "in.npy", "model", "--steps", "2", "--patch-size", "16", "--quiet"],
                           cwd=folder, check=True, capture_output=True)
            np.save(folder / "big.npy", rng.normal(100, 10, (64, 512, 512)).astype(np.float32))
            np.save(folder / "out.npy", np.zeros(3))
            for suffix in (".npy", ".zarr"):
                result = _interrupt(["predict", "model", "big.npy", f"out{suffix}", "--axes", "TYX", "--tile", "128",
                                     "--overwrite"], folder, r"predicting:\s+\d+%", timeout, signum)
                out.append({"case": f"{name} while writing the {suffix} output" +
                            (" (existing output)" if suffix == ".npy" else ""), **result})
            folder = _fresh(tmp, f"save {name}")
            _with_npy(folder, rng.normal(100, 10, (64, 64)).astype(np.float32))
            result = _interrupt(["train", "in.npy", "model", "--time-budget", "120", "--patch-size", "16"],
                                folder, r"loss=", timeout, signum)
            out.append({"case": f"{name} while training into a model folder", **result})
    return out


# -- the napari widget: one process, case by case ---------------------------------------------


def _noisy(shape, seed=0):
    return np.random.default_rng(seed).normal(100, 15, shape).astype(np.float32)


def _widget_cases():
    """(id, layers to add, widget settings, expected words). Settings are applied before Train."""
    nan, inf = _noisy((48, 48)), _noisy((48, 48))
    nan[3, 3], inf[3, 3] = np.nan, np.inf
    image = [("image", _noisy((48, 48)))]
    return [
        ("no layer", [], {}, "Choose an image layer"),
        ("RGB layer", [("rgb", (np.random.default_rng(0).random((48, 48, 3)) * 255).astype(np.uint8))], {},
         "Choose an image layer"),
        ("labels layer", [("labels", np.arange(48 * 48, dtype=np.int32).reshape(48, 48) % 7)], {},
         "Choose an image layer"),
        ("axes: unknown letter", image, {"axes": "QX"}, "unknown letter"),
        ("axes: wrong length", image, {"axes": "ZYX"}, "do not match"),
        ("axes: repeated letter", image, {"axes": "YY"}, "repeat"),
        ("axes: empty", image, {"axes": ""}, "do not match"),
        ("too small image", [("image", _noisy((8, 64)))], {}, "too small"),
        ("NaN image", [("image", nan)], {}, "NaN or Inf"),
        ("Inf image", [("image", inf)], {}, "NaN or Inf"),
        ("constant image", [("image", np.full((48, 48), 7.0, np.float32))], {}, "constant"),
        ("patch larger than image", image, {"patch": 64}, "patch size of at most 48"),
        ("CUDA chosen, no GPU", image, {"device": "cuda"}, "no CUDA GPU"),
        ("zero time budget", image, {"seconds": 0}, ""),
        ("zero steps", image, {"steps": 0}, ""),
    ]


def widget_worker(names: list[str], timeout: float) -> None:
    """Runs inside napari (under Xvfb); prints one JSON line per case."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_blindspot._widget import DenoiseWidget, _dock

    notes: list[tuple[str, str]] = []
    for kind in ("error", "warning", "info"):
        setattr(_dock, f"show_{kind}", lambda msg, kind=kind: notes.append((kind, str(msg))))
    app = QApplication.instance() or QApplication([])

    def pump(until, limit) -> bool:
        return pump_qt(app, until, limit)

    cases = {c[0]: c for c in _widget_cases()}
    for name in names:
        _, layers, settings, fragment = cases[name]
        print(json.dumps({"start": name}), flush=True)
        notes.clear()
        viewer = napari.Viewer(show=False)
        added = []
        for kind, data in layers:
            if kind == "labels":
                added.append(viewer.add_labels(data, name=kind))
            else:
                added.append(viewer.add_image(data, name=kind, rgb=kind == "rgb"))
        widget = DenoiseWidget(viewer)
        viewer.window.add_dock_widget(widget)
        widget.form.features.value = 8
        widget.form.batch_size.value = 4
        widget.form.patch_size.value = settings.get("patch", 16)
        widget.form.unit.value = "steps"
        widget.form.duration.value = 3  # if a bad input were accepted, it would finish quickly
        if "axes" in settings:
            widget.form.axes.value = settings["axes"]
        if "device" in settings:
            widget.form.device.value = settings["device"]
        prevented = None
        for unit in ("seconds", "steps"):
            if unit in settings:
                widget.form.unit.value = unit
                try:  # the field refuses values out of its range
                    widget.form.duration.value = settings[unit]
                    prevented = widget.form.duration.value != settings[unit]
                except ValueError:
                    prevented = True
        before = [_sha(np.asarray(layer.data).tobytes()) for layer in added]
        start = time.perf_counter()
        record = {"entry": "widget", "case": name, "expected": fragment}
        if prevented:
            record.update(outcome="prevented", message=f"the spin box refuses {settings}: it holds "
                          f"{widget.form.duration.value} (minimum {widget.form.duration.min})",
                          data_changed=False, seconds=0.0)
        else:
            widget.controls.train_button.click()
            idle = pump(lambda w=widget: not w.busy, timeout)
            errors = [msg for kind, msg in notes if kind == "error"]
            new_layers = [layer.name for layer in viewer.layers if layer not in added]
            if not idle:
                outcome = "hang"
            elif not errors:
                outcome = "accepted"
            elif (len(errors) == 1 and _fragment_in(fragment, errors[0]) and not new_layers
                  and widget.controls.train_button.text() == "Train" and widget.controls.train_button.isEnabled()):
                outcome = "clear error"
            else:
                outcome = "unclear error"
            record.update(outcome=outcome, message=errors[-1] if errors else "", notifications=notes[:],
                          skipped_label=widget.form.skipped.value, new_layers=new_layers,
                          data_changed=[_sha(np.asarray(layer.data).tobytes()) for layer in added] != before,
                          seconds=round(time.perf_counter() - start, 2))
        widget._res.release()
        viewer.close()
        print(json.dumps(record), flush=True)


def _forward_lines(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def widget_cases(timeout: float, startup: float = 600.0) -> list[dict]:
    """Run the widget worker in a child process, restarting it after a case that hangs."""
    todo = [c[0] for c in _widget_cases()]
    records = []
    while todo:
        cmd = [sys.executable, __file__, "--widget-worker", *todo, "--timeout", str(timeout)]
        if not os.environ.get("DISPLAY") and shutil.which("xvfb-run"):
            cmd = ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24"] + cmd
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                start_new_session=True)
        lines: queue.Queue = queue.Queue()
        threading.Thread(target=_forward_lines, args=(proc.stdout, lines), daemon=True).start()
        current, limit = None, startup
        while True:
            try:
                line = lines.get(timeout=limit)
            except queue.Empty:
                line = "timeout"
            if line is None or line == "timeout":
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                name = current or todo[0]
                records.append({"entry": "widget", "case": name, "data_changed": None, "seconds": limit,
                                "outcome": "hang" if line == "timeout" else "crash"})
                todo.remove(name)
                break
            if not line.startswith("{"):
                continue
            message = json.loads(line)
            if "start" in message:
                current, limit = message["start"], timeout + 60  # the worker's own deadline, plus slack
                continue
            records.append(message)
            todo.remove(message["case"])
            current, limit = None, startup
            if not todo:
                proc.wait()
                break
    return records


# -- report -----------------------------------------------------------------------------------


def summarise(records: list[dict]) -> dict:
    count = lambda outcome: sum(r["outcome"] == outcome for r in records)
    refusals = [r["seconds"] for r in records if r["outcome"] in ("clear error", "unclear error")]
    if not records:
        return {}
    return {"bad_inputs": len(records), "clear_errors": count("clear error"), "prevented_by_ui": count("prevented"),
            "unclear_errors": count("unclear error"), "accepted": count("accepted"), "hangs": count("hang"),
            "correct": count("correct"), "wrong": count("wrong"),
            "crashes": count("crash"), "data_changed": sum(bool(r.get("data_changed")) for r in records),
            "outputs_left": sum(bool(r.get("files_left")) for r in records),
            "median_refusal_s": float(np.median(refusals)) if refusals else 0.0,
            "slowest_refusal_s": max(refusals, default=0.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds before a case counts as a hang")
    parser.add_argument("--only", choices=["api", "cli", "widget", "cancel"], action="append")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--widget-worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.widget_worker is not None:
        widget_worker(args.widget_worker, args.timeout)
        return
    parts = args.only or ["api", "cli", "widget", "cancel"]
    report = {"machine": _cpu(), "load_before": load(), "timeout_s": args.timeout, "summary": {}, "cases": []}
    if "api" in parts:  # first: forks before anything in this process has used torch's threads
        import napari_blindspot.core.training  # noqa: F401  imported once, shared by the forks
        api = [api_case(*case, timeout=args.timeout) for case in table.IMAGE_CASES + API_EXTRA]
        report["summary"]["api"], report["cases"] = summarise(api), report["cases"] + api
    if "cli" in parts:
        cli = cli_cases(args.timeout)
        report["summary"]["cli"], report["cases"] = summarise(cli), report["cases"] + cli
    if "widget" in parts:
        widget = widget_cases(args.timeout)
        report["summary"]["widget"], report["cases"] = summarise(widget), report["cases"] + widget
    if "cancel" in parts:
        report["cancellation"] = cancellation_cases(args.timeout)
    report["load_after"] = load()
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")

    print("| entry point | cases | clear errors | right answers | prevented by the UI | unclear | accepted | wrong "
          "| data changed | outputs left | hangs | crashes | refusal, median / slowest (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for entry, s in report["summary"].items():
        print(f"| {entry} | {s['bad_inputs']} | {s['clear_errors']} | {s['correct']} | {s['prevented_by_ui']} "
              f"| {s['unclear_errors']} | {s['accepted']} | {s['wrong']} | {s['data_changed']} | {s['outputs_left']} "
              f"| {s['hangs']} | {s['crashes']} "
              f"| {s['median_refusal_s']:.1f} / {s['slowest_refusal_s']:.1f} |")
    for record in report["cases"]:
        if record["outcome"] not in ("clear error", "prevented", "correct") or record.get("files_left") \
                or record.get("data_changed"):
            print(f"  {record['entry']} / {record['case']}: {record['outcome']}: {record.get('message', '')}")
    for record in report.get("cancellation", []):
        print(f"  cancel / {record['case']}: {record['outcome']} (exit {record.get('exit_code')}, "
              f"{record.get('last_line', '')!r}, left {record.get('files_left')}, changed {record.get('files_changed')})")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()

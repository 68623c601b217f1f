"""Never crash, hang or leave debris: full disks, signals, unresponsive schedulers, bad option
values and exhausted memory all end in exit 2 (or 128 + the signal) with one line, and leave
every file as it was."""

import errno
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from harness import LoopbackServer, snapshot

from napari_blindspot.cli import main
from napari_blindspot.core import step as training_step
from napari_blindspot.core import training

IMAGE = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
FAST = ["--steps", "2", "--patch-size", "16", "--batch-size", "2", "--quiet"]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", IMAGE)
    return tmp_path


def error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


# -- a full disk -------------------------------------------------------------------------------

@pytest.mark.parametrize("output", ["out.npy", "out.tif"])
def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(folder, capsys, monkeypatch, output):
    """Memory-mapped outputs reserve their blocks first: a full disk is then an OSError, not a SIGBUS."""
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    assert main(["denoise", "in.npy", output, *FAST]) == 2
    assert "no space left on" in error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy"]


def test_a_full_disk_while_saving_the_model_is_one_line_and_leaves_nothing(folder, capsys, monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    assert main(["train", "in.npy", "model", *FAST]) == 2
    assert "no space left on" in error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy"]


def test_an_output_larger_than_the_free_space_is_refused_before_training(folder, capsys, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 100, 100))
    monkeypatch.setattr(training, "train", lambda *a, **k: pytest.fail("trained before the refusal"))
    assert main(["denoise", "in.npy", "out.npy", *FAST]) == 2
    line = error_line(capsys)
    assert "no space left on device for out.npy" in line and "9.2 KB needed, 100 bytes free" in line


def _this_package_env():
    """The child imports the package under test, whatever its working directory."""
    import napari_blindspot

    return {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(napari_blindspot.__file__))}


# -- signals -----------------------------------------------------------------------------------

@pytest.mark.parametrize("signum, suffix", [(signal.SIGTERM, ".npy"), (signal.SIGHUP, ".npy"),
                                            (signal.SIGINT, ".zarr"), (signal.SIGTERM, ".zarr")])
def test_a_signal_while_writing_ends_cleanly(tmp_path, signum, suffix):
    """SIGTERM (a scheduler's kill, `timeout`) and SIGHUP (a closed terminal) clean up like Ctrl+C;
    a zarr output's chunk writes (on zarr's own thread) end before the temporary is removed."""
    np.save(tmp_path / "in.npy", IMAGE)
    assert main(["train", str(tmp_path / "in.npy"), str(tmp_path / "model"), *FAST]) == 0
    np.save(tmp_path / "big.npy", np.random.default_rng(1).normal(100, 10, (24, 256, 256)).astype(np.float32))
    np.save(tmp_path / "out.npy", np.zeros(3))  # an older result, to be kept
    before = snapshot(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "napari_blindspot.cli", "predict", "model", "big.npy", f"out{suffix}",
                             "--axes", "TYX", "--tile", "32", "--overwrite"], cwd=tmp_path,
                            stderr=subprocess.PIPE, text=True, env=_this_package_env(),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # even if ours is ignored
    seen = ""
    while not re.search(r"predicting:\s+[1-9]\d*%", seen):  # tiles are being written to the temporary
        char = proc.stderr.read(1)
        assert char, f"ended before writing: {seen}"
        seen += char
    proc.send_signal(signum)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 128 + signum
    assert ("interrupted" + ("" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}")
            + ": no output written") in rest
    assert snapshot(tmp_path) == before  # no hidden temporary, the old output as it was


# -- a dask scheduler that is not one ---------------------------------------------------------

@pytest.mark.parametrize("answer, words", [(None, "cannot reach the dask scheduler"),
                                           (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
                                            "does not answer as a dask scheduler")])
def test_a_scheduler_that_does_not_answer_is_refused_in_bounded_time(folder, capsys, monkeypatch, answer, words):
    pytest.importorskip("distributed")
    from napari_blindspot import distributed as ours

    monkeypatch.setattr(ours, "HANDSHAKE_TIMEOUT_S", 1.0, raising=False)
    assert main(["train", "in.npy", "model", *FAST]) == 0
    capsys.readouterr()
    server, result = LoopbackServer(answer), []
    worker = threading.Thread(target=lambda: result.append(
        main(["predict", "model", "in.npy", "out.npy", "--scheduler", server.address, "--quiet"])), daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(timeout=60)
    server.close()
    assert not worker.is_alive(), "predict --scheduler hangs"
    assert result == [2] and time.monotonic() - start < 30
    assert words in error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy", "model"]


# -- option values and memory -------------------------------------------------------------------

@pytest.mark.parametrize("flags, option", [
    (["--seed", "-1"], "--seed"), (["--seed", "1.5"], "--seed"), (["--batch-size", "0"], "--batch-size"),
    (["--patch-size", "4"], "--patch-size"), (["--steps", "0"], "--steps"), (["--time-budget", "nan"], "--time-budget"),
    (["--time-budget", "-3"], "--time-budget"), (["--sigma", "-1"], "--sigma"), (["--tile", "2"], "--tile"),
    (["--series", "-1"], "--series"), (["--steps", "ten"], "--steps"),
])
def test_a_bad_option_value_is_one_line_that_names_the_option(folder, capsys, flags, option):
    argv = ["denoise", "in.npy", "out.npy", "--quiet", *flags]
    if "--steps" not in flags and "--time-budget" not in flags:
        argv += ["--steps", "1"]
    assert main(argv) == 2
    assert option in error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy"]


def test_a_batch_too_large_for_memory_is_refused_before_training(folder, capsys, monkeypatch):
    from napari_blindspot import _cli_faults

    monkeypatch.setattr(_cli_faults, "available_memory", lambda: 10**6)
    monkeypatch.setattr(training_step, "loss", lambda *a, **k: pytest.fail("trained before the refusal"))
    assert main(["denoise", "in.npy", "out.npy", "--steps", "1", "--batch-size", "64", "--patch-size", "16"]) == 2
    line = error_line(capsys)
    assert "--batch-size 64" in line and "GB are free" in line


@pytest.mark.parametrize("failure", [
    MemoryError(), RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes"),
    RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"),
])
def test_running_out_of_memory_is_one_line_that_says_what_to_do(folder, capsys, monkeypatch, failure):
    def loss(*args, **kwargs):
        raise failure

    monkeypatch.setattr(training_step, "loss", loss)
    assert main(["denoise", "in.npy", "out.npy", *FAST]) == 2
    assert "out of memory: use a smaller --patch-size, --batch-size" in error_line(capsys)
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_before_or_after_the_command_shows_the_traceback(folder, where):
    argv = ["denoise", "missing.npy", "out.npy"]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    with pytest.raises(FileNotFoundError):
        main(argv)


def test_free_memory_is_read_on_every_platform_and_is_at_most_the_total():
    import psutil

    from napari_blindspot._cli_faults import available_memory

    assert 0 < available_memory() <= psutil.virtual_memory().total

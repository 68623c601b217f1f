"""Ctrl+C on the command line: exit 130, one line saying nothing was written, and nothing was:
no partial output, no temporary folder, an existing output left as it was."""

import io

import numpy as np
import pytest
import tifffile

from harness import snapshot

from napari_blindspot.cli import EXIT_INTERRUPTED, main
from napari_blindspot.core import predict
from napari_blindspot.core import step as training_step

IMAGE = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
def _tiff_bytes(array):
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


OLD = _tiff_bytes(np.zeros((4, 4), np.float32))  # an older result the user wants to keep


def _interrupt_on_call(monkeypatch, owner, name, call):
    """Make owner.name raise KeyboardInterrupt (as Ctrl+C does) on its `call`-th call."""
    real, calls = getattr(owner, name), []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)
    return calls


@pytest.mark.parametrize("command, where", [("denoise", "training"), ("denoise", "writing the output"),
                                            ("train", "training")])
def test_ctrl_c_exits_130_and_leaves_every_file_as_it_was(tmp_path, capsys, monkeypatch, command, where):
    np.save(tmp_path / "in.npy", IMAGE)
    (tmp_path / "out.tif").write_bytes(OLD)
    before = snapshot(tmp_path)
    if where == "training":
        calls = _interrupt_on_call(monkeypatch, training_step, "loss", call=2)  # the second step
    else:  # the second batch of tiles: the first is already in the temporary output
        calls = _interrupt_on_call(monkeypatch, predict, "write_group", call=2)
    argv = [command, str(tmp_path / "in.npy"), str(tmp_path / ("out.tif" if command == "denoise" else "model")),
            "--steps", "3", "--patch-size", "16", "--batch-size", "2", "--quiet", "--overwrite"] + (["--tile", "16"] if command == "denoise" else [])

    assert main(argv) == EXIT_INTERRUPTED
    assert len(calls) >= 2  # it really was interrupted mid-way
    assert capsys.readouterr().err.strip().splitlines() == ["interrupted: no output written"]
    assert snapshot(tmp_path) == before  # input, old output: same bytes; nothing new, no temp folder


def test_ctrl_c_while_writing_keeps_the_model_already_saved(tmp_path, capsys, monkeypatch):
    """denoise --save-model saves the model when training ends, before the image is written."""
    np.save(tmp_path / "in.npy", IMAGE)
    _interrupt_on_call(monkeypatch, predict, "write_group", call=2)
    argv = ["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.tif"), "--save-model", str(tmp_path / "model"),
            "--steps", "2", "--patch-size", "16", "--batch-size", "2", "--tile", "16", "--quiet"]
    assert main(argv) == EXIT_INTERRUPTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy", "model"]
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == ["config.json", "weights.safetensors"]

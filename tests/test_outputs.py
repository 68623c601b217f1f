"""Never destroy data: outputs that would replace an input, each other, a folder or anything we
did not write are refused with exit 2, before any training; a file of ours is replaced only
with --overwrite, and model folders are written whole, only into new, empty or our own folders."""

import json
import os

import numpy as np
import pytest
import tifffile
import zarr

from harness import snapshot

from napari_blindspot.cli import main
from napari_blindspot.core import training

IMAGE = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
FAST = ["--steps", "2", "--patch-size", "16", "--batch-size", "2", "--quiet"]


@pytest.fixture
def no_training(monkeypatch):
    """Refusals come before training: reaching it fails the test."""
    def trained(*args, **kwargs):
        raise AssertionError("training started before the refusal")
    monkeypatch.setattr(training, "train", trained)


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", IMAGE)
    return tmp_path


def refused(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert all(w in err[0] for w in words), err[0]


def _ome_zarr_group(path):
    group = zarr.open_group(str(path), mode="w")
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "y"}, {"name": "x"}],
                                   "datasets": [{"path": "0"}, {"path": "1"}]}]
    group.create_array("0", shape=IMAGE.shape, dtype="f4")[...] = IMAGE
    group.create_array("1", shape=(24, 24), dtype="f4")[...] = IMAGE[::2, ::2]
    group.create_group("labels").create_array("cells", shape=IMAGE.shape, dtype="u2")[...] = 1


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_existing_folder_given_as_output_is_never_deleted(folder, capsys, no_training, overwrite):
    (folder / "r.tif").mkdir()
    (folder / "r.tif" / "thesis.docx").write_text("four years of work")
    before = snapshot(folder)
    assert main(["denoise", "in.npy", "r.tif", *FAST, *overwrite]) == 2
    refused(capsys, "r.tif", "not a file")
    assert snapshot(folder) == before


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_an_existing_ome_zarr_group_is_never_replaced(folder, capsys, no_training, overwrite):
    _ome_zarr_group(folder / "stack.zarr")
    before = snapshot(folder)
    assert main(["denoise", "in.npy", "stack.zarr", *FAST, *overwrite]) == 2
    refused(capsys, "not a single zarr array")
    assert snapshot(folder) == before


@pytest.mark.parametrize("output", ["stack.zarr", "stack.zarr/0", "stack.zarr/denoised.zarr"])
def test_predict_never_writes_into_its_zarr_input(folder, capsys, output):
    _ome_zarr_group(folder / "stack.zarr")
    assert main(["train", "in.npy", "model", *FAST]) == 0
    before = snapshot(folder)
    assert main(["predict", "model", "stack.zarr", output, "--quiet", "--overwrite"]) == 2
    refused(capsys, "INPUT")
    assert snapshot(folder) == before


@pytest.mark.parametrize("make_output", ["same name", "symlink", "hard link"])
def test_output_equal_to_input_is_refused(folder, capsys, no_training, make_output):
    if make_output == "symlink":
        os.symlink("in.npy", "out.npy")
    elif make_output == "hard link":
        os.link("in.npy", "out.npy")
    output = "in.npy" if make_output == "same name" else "out.npy"
    before = snapshot(folder)
    assert main(["denoise", "in.npy", output, *FAST, "--overwrite"]) == 2
    refused(capsys, "is the INPUT")
    assert snapshot(folder) == before


@pytest.mark.parametrize("extra, words", [
    (["--method", "hqssl", "--uncertainty", "in.npy"], ["--uncertainty", "INPUT"]),
    (["--method", "hqssl", "--uncertainty", "out.npy"], ["OUTPUT", "--uncertainty", "same path"]),
    (["--save-model", "out.npy"], ["OUTPUT", "--save-model", "same path"]),
    (["--save-model", "."], ["--save-model", "INPUT"]),
])
def test_outputs_that_coincide_are_refused(folder, capsys, no_training, extra, words):
    before = snapshot(folder)
    assert main(["denoise", "in.npy", "out.npy", *FAST, *extra]) == 2
    refused(capsys, *words)
    assert snapshot(folder) == before


def test_an_existing_output_is_replaced_only_with_overwrite(folder, capsys):
    tifffile.imwrite("out.tif", np.zeros((4, 4), np.float32))
    before = snapshot(folder)
    assert main(["denoise", "in.npy", "out.tif", *FAST]) == 2
    refused(capsys, "--overwrite")
    assert snapshot(folder) == before
    assert main(["denoise", "in.npy", "out.tif", *FAST, "--overwrite"]) == 0
    assert tifffile.imread("out.tif").shape == IMAGE.shape
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy", "out.tif"]


@pytest.mark.parametrize("name, content", [("out.tif", b"notes, not an image"), ("out.npy", b"II*\x00 a tiff")])
def test_an_existing_file_of_another_kind_is_never_replaced(folder, capsys, no_training, name, content):
    (folder / name).write_bytes(content)
    assert main(["denoise", "in.npy", name, *FAST, "--overwrite"]) == 2
    refused(capsys, "not ours to replace")
    assert (folder / name).read_bytes() == content


def test_our_own_zarr_output_is_replaced_whole_with_overwrite(folder):
    assert main(["denoise", "in.npy", "out.zarr", *FAST]) == 0
    assert main(["denoise", "in.npy", "out.zarr", *FAST, "--seed", "1", "--overwrite"]) == 0
    assert zarr.open("out.zarr", mode="r").shape == IMAGE.shape
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy", "out.zarr"]


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_train_into_a_project_folder_keeps_every_file(folder, capsys, no_training, overwrite):
    project = folder / "project"
    project.mkdir()
    (project / "config.json").write_text(json.dumps({"microscope": "confocal"}))
    (project / "weights.safetensors").write_bytes(b"someone else's weights")
    (project / "notes.txt").write_text("keep me")
    before = snapshot(folder)
    assert main(["train", "in.npy", "project", *FAST, *overwrite]) == 2
    refused(capsys, "holds other files")
    assert snapshot(folder) == before


def test_our_model_folder_is_replaced_only_with_overwrite(folder, capsys):
    assert main(["train", "in.npy", "model", *FAST]) == 0
    before = snapshot(folder)
    assert main(["train", "in.npy", "model", *FAST]) == 2
    refused(capsys, "holds a model already", "--overwrite")
    assert snapshot(folder) == before
    assert main(["train", "in.npy", "model", *FAST, "--seed", "3", "--overwrite"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["in.npy", "model"]  # no temporary left
    assert sorted(p.name for p in (folder / "model").iterdir()) == ["config.json", "weights.safetensors"]
    assert snapshot(folder) != before


def test_model_save_never_deletes_a_folder_that_holds_other_files(tmp_path):
    """Model.save (the API) refuses too: it used to delete config.json, then fail on the rest."""
    import napari_blindspot as nb
    from napari_blindspot.core.model_io import ModelFileError

    run = nb.train(IMAGE, nb.TrainConfig(steps=1, time_budget_s=None, patch_size=16, batch_size=2,
                                         preview_every_s=None))
    for _ in run:
        pass
    (tmp_path / "config.json").write_text('{"format": "napari-blindspot-model"}')
    (tmp_path / "data.csv").write_text("1,2,3")
    before = snapshot(tmp_path)
    with pytest.raises(ModelFileError, match="holds other files"):
        run.model.save(tmp_path)
    assert snapshot(tmp_path) == before


def test_a_killed_runs_temporary_is_cleaned_when_ours_and_named_when_not(tmp_path):
    import subprocess
    import sys

    from napari_blindspot.io import write_image

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid names no living process now
    ours, foreign = tmp_path / ".out.tif.abc123", tmp_path / ".out.tif.mine"
    ours.mkdir()
    (ours / ".napari-blindspot-owner").write_text(str(dead.pid))
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.warns(UserWarning) as said:
        write_image(tmp_path / "out.tif", np.zeros((8, 8), np.float32))
    assert not ours.exists() and (foreign / "notes.txt").read_text() == "keep me"
    assert any(str(foreign) in str(w.message) for w in said) and any("removed" in str(w.message) for w in said)

"""Every path option against every other, FIFOs where files are expected, and files whose JSON
or numbers are not ours (issue 24): refused before any work, exit 2, one line, nothing changed."""

import functools
import json
import os
import zipfile

import numpy as np
import pytest
import zarr

from napari_blindspot.cli import main
from napari_blindspot.core.config import TrainConfig
from napari_blindspot.core.model import load_model
from napari_blindspot.core.spec import ModelFileError

FAST = ["--steps", "2", "--patch-size", "16", "--batch-size", "2", "--quiet"]


@pytest.fixture
def folder(tmp_path, noisy_image, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", noisy_image[1])
    return tmp_path


@pytest.fixture
def model(folder):
    assert main(["train", "in.npy", "m", *FAST]) == 0
    return folder / "m"


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))
            if not p.is_fifo()}


def _refused(argv, capsys, words, folder):
    before = _files(folder)
    assert main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
    assert _files(folder) == before  # nothing written, changed or deleted


@pytest.mark.parametrize("argv, words", [
    (["denoise", "in.npy", "out.npy", "--save-model", "m", "--report", "m/config.json"], "lies inside"),
    (["denoise", "in.npy", "out.npy", "--method", "hqssl", "--uncertainty", "u.tif", "--report", "u.tif"],
     "same path"),
    (["denoise", "in.npy", "out.zarr", "--report", "out.zarr/zarr.json"], "lies inside"),
    (["train", "in.npy", "m", "--report", "m"], "same path"),
    (["denoise", "in.npy", "out.npy", "--report", "nodir/run.json"], "does not exist"),
    (["denoise", "in.npy", "out.npy", "--report", "in.npy"], "is the INPUT"),
])
def test_a_report_on_or_inside_another_path_is_refused_before_training(folder, capsys, argv, words):
    _refused([*argv, *FAST], capsys, words, folder)


def test_a_report_inside_an_input_zarr_is_refused(folder, capsys, noisy_image):
    zarr.open_array("in.zarr", mode="w", shape=(64, 64), dtype="f4")[...] = noisy_image[1]
    _refused(["denoise", "in.zarr", "out.npy", "--report", "in.zarr/run.json", *FAST], capsys, "INPUT", folder)


@pytest.mark.parametrize("option", ["--report", "--save-model", "--uncertainty", "--target"])
def test_an_empty_path_is_refused(folder, capsys, option):
    assert main(["denoise", "in.npy", "out.npy", option, "", *FAST]) == 2
    assert "empty path" in capsys.readouterr().err and not (folder / "out.npy").exists()


def test_a_fifo_as_report_is_refused_unopened(folder, capsys):
    os.mkfifo("run.json")  # opening it for reading would block forever
    _refused(["denoise", "in.npy", "out.npy", "--report", "run.json", *FAST], capsys, "not a report of ours", folder)


@pytest.mark.parametrize("command", ["train", "predict"])
def test_a_fifo_config_in_a_model_folder_is_refused_unopened(folder, model, capsys, command):
    (model / "config.json").unlink()
    os.mkfifo(model / "config.json")
    argv = ["train", "in.npy", "m", "--overwrite", *FAST] if command == "train" else \
        ["predict", "m", "in.npy", "out.npy", "--quiet"]
    assert main(argv) == 2
    assert "error: " in capsys.readouterr().err and not (folder / "out.npy").exists()


def test_a_fifo_in_an_output_zarr_is_refused_unopened(folder, capsys):
    zarr.open_array("out.zarr", mode="w", shape=(64, 64), dtype="f4", zarr_format=2)
    os.remove("out.zarr/.zarray")
    os.mkfifo("out.zarr/.zarray")
    _refused(["denoise", "in.npy", "out.zarr", "--overwrite", *FAST], capsys, "not a single zarr array", folder)


def test_a_fifo_in_an_input_zarr_is_refused_unopened(folder, capsys):
    zarr.open_array("in.zarr", mode="w", shape=(64, 64), dtype="f4")
    os.remove("in.zarr/zarr.json")
    os.mkfifo("in.zarr/zarr.json")
    _refused(["denoise", "in.zarr", "out.npy", *FAST], capsys, "not a regular file", folder)


def test_overwrite_keeps_a_users_file_deep_inside_an_output_zarr(folder, capsys):
    zarr.open_array("out.zarr", mode="w", shape=(64, 64), dtype="f4")[...] = 1
    (folder / "out.zarr" / "c").mkdir(exist_ok=True)
    (folder / "out.zarr" / "c" / "notes.txt").write_text("keep me")
    _refused(["denoise", "in.npy", "out.zarr", "--overwrite", *FAST], capsys, "not a single zarr array", folder)


def test_until_converged_without_a_budget_ends_on_a_plateau(folder, monkeypatch):
    from napari_blindspot.core import training
    from napari_blindspot.core.heldout import Quality, ValidationSet

    monkeypatch.setattr(ValidationSet, "evaluate", lambda self, model: Quality(1.0, 0.1, 1.0))  # flat from the start
    monkeypatch.setattr(training, "VALIDATION_SHARE", 1.0)
    monkeypatch.setattr(TrainConfig, "__init__", functools.partialmethod(TrainConfig.__init__,
                                                                         validation_every_s=1e-6))
    assert main(["train", "in.npy", "m", "--until-converged", "--patch-size", "16", "--batch-size", "2",
                 "--quiet", "--report", "run.json"]) == 0
    report = json.loads((folder / "run.json").read_text())
    assert report["best_step"] == 1 and 6 < report["steps"] < 1000  # the plateau ended it, nothing else could


def _tamper(model, change):
    config = json.loads((model / "config.json").read_text())
    change(config)
    (model / "config.json").write_text(json.dumps(config) if isinstance(config, dict) else config)


@pytest.mark.parametrize("history", [{"seconds": "abc"}, {"steps": -3}, {"best_step": 1.5},
                                     {"estimated_psnr_gain_db": [1]}])
def test_a_tampered_history_is_a_model_file_error(model, history):
    _tamper(model, lambda c: c["history"].update(history))
    with pytest.raises(ModelFileError, match="history"):
        load_model(model)


def test_a_deeply_nested_config_is_a_model_file_error(model):
    (model / "config.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    with pytest.raises(ModelFileError, match="nested too deeply"):
        load_model(model)


def test_a_package_declaring_more_weights_than_its_network_is_refused_unread(model, tmp_path):
    with zipfile.ZipFile(tmp_path / "x.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", (model / "config.json").read_text())
        z.writestr("weights.safetensors", bytes(8 << 20))  # 8 MiB of zeros: a few kB compressed
    with pytest.raises(ModelFileError, match="x.zip: its weights.safetensors declares"):
        load_model(tmp_path / "x.zip")


def test_errors_about_a_package_name_the_zip_not_a_temporary(model, tmp_path):
    config = json.loads((model / "config.json").read_text())
    config["channels"] = 0
    with zipfile.ZipFile(tmp_path / "x.zip", "w") as z:
        z.writestr("config.json", json.dumps(config))
        z.writestr("weights.safetensors", (model / "weights.safetensors").read_bytes())
    with pytest.raises(ModelFileError) as err:
        load_model(tmp_path / "x.zip")
    assert "napari-blindspot-" not in str(err.value)


@pytest.mark.parametrize("image, error", [(np.ones((32, 32), complex), TypeError), (np.ones((32, 32), bool), TypeError),
                                          (np.ones((32, 32), object), TypeError), (np.ones((0, 32), "f4"), ValueError)])
def test_predict_refuses_arrays_it_cannot_denoise(model, image, error):
    with pytest.raises(error, match="integer or floating point|empty"):
        load_model(model).predict(image)


def test_a_target_that_is_the_input_is_refused(folder, capsys):
    _refused(["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "in.npy", *FAST], capsys,
             "the second recording is the same as the first", folder)


def test_a_target_that_is_a_copy_of_the_input_is_refused(folder, capsys):
    np.save("copy.npy", np.load("in.npy"))
    _refused(["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "copy.npy", *FAST], capsys,
             "the second recording is the same as the first", folder)


def test_a_nan_block_in_the_target_is_named(folder, capsys):
    second = np.load("in.npy") + 1
    second[10:20, 10:20] = np.nan
    np.save("b.npy", second)
    _refused(["denoise", "in.npy", "out.npy", "--method", "n2n", "--target", "b.npy", *FAST], capsys,
             "second recording holds NaN", folder)


def test_an_upscaled_image_is_refused_with_the_reason(folder, capsys):
    np.save("up.npy", np.repeat(np.repeat(np.load("in.npy")[:32, :32], 2, 0), 2, 1))
    _refused(["denoise", "up.npy", "out.npy", *FAST], capsys, "not independent between pixels", folder)


def test_values_beyond_float32_are_named_as_such(folder, capsys):
    np.save("big.npy", np.load("in.npy").astype(np.float64) * 1e300)
    _refused(["denoise", "big.npy", "out.npy", *FAST], capsys, "beyond float32's range", folder)


def test_a_masked_array_is_refused():
    import napari_blindspot as nb

    image = np.ma.masked_less(np.random.default_rng(0).normal(0, 1, (48, 48)), -1)
    with pytest.raises(TypeError, match="masked array"):
        nb.train(image, TrainConfig(axes="YX", steps=1))

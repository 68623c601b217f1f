import json

import numpy as np
import pytest

from napari_blindspot import load_model
from napari_blindspot.cli import main

FAST = ["--steps", "2", "--patch-size", "16", "--batch-size", "2", "--quiet"]


def test_the_report_records_the_settings_and_precision_of_the_run(tmp_path, noisy_image):
    np.save(tmp_path / "a.npy", noisy_image[1])
    report = tmp_path / "run.json"
    assert main(["train", str(tmp_path / "a.npy"), str(tmp_path / "m"), "--precision", "bfloat16",
                 "--report", str(report), *FAST]) == 0
    settings = json.loads(report.read_text())["settings"]
    assert settings["precision"] == "bfloat16" and settings["patch"] == [16, 16] and settings["batch"] == 2
    assert settings["features"] == 16 and settings["depth"] == 2 and settings["context_planes"] == 0
    assert load_model(tmp_path / "m").spec.history["precision"] == "bfloat16"


def test_tta_n_predicts_the_mean_of_n_views(tmp_path, noisy_image):
    np.save(tmp_path / "a.npy", noisy_image[1])
    assert main(["train", str(tmp_path / "a.npy"), str(tmp_path / "m"), "--precision", "float32", *FAST]) == 0
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "a.npy"), str(tmp_path / "three.npy"),
                 "--tta", "3", "--precision", "float32", "--quiet"]) == 0
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "a.npy"), str(tmp_path / "one.npy"),
                 "--no-tta", "--precision", "float32", "--quiet"]) == 0
    model = load_model(tmp_path / "m", precision="float32")
    np.testing.assert_allclose(np.load(tmp_path / "three.npy"), model.predict(noisy_image[1], tta=3), atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "one.npy"), model.predict(noisy_image[1], tta=1), atol=1e-5)
    assert not np.allclose(np.load(tmp_path / "three.npy"), np.load(tmp_path / "one.npy"))


@pytest.mark.parametrize("options", [["--tta", "9"], ["--tta", "0"], ["--tta", "2", "--no-tta"],
                                     ["--precision", "half"]])
def test_views_and_precision_out_of_range_are_refused(tmp_path, noisy_image, capsys, options):
    np.save(tmp_path / "a.npy", noisy_image[1])
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "out.npy"), *options, *FAST]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.npy").exists()

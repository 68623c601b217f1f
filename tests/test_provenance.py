"""The provenance a result carries into a TIFF: written by the CLI and by our napari writer as
JSON in the TIFF's description, read back by our napari reader; a foreign or hostile TIFF
opens as pixels only (its description is parsed as JSON, size-checked, never run)."""

import json

import numpy as np
import pytest
import tifffile

from napari_blindspot.io.napari_tiff import get_reader, write_tiff
from napari_blindspot.io.provenance import KEY, MAX_DESCRIPTION, read_tiff_metadata
from napari_blindspot.cli import main

FAST = ["--steps", "3", "--patch-size", "16", "--batch-size", "2", "--quiet"]


def test_cli_outputs_record_how_they_were_made(tmp_path, noisy_image):
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, noisy_image[1])
    assert main(["denoise", str(src), str(tmp_path / "out.tif"), "--save-model", str(tmp_path / "m"), *FAST]) == 0
    made = read_tiff_metadata(tmp_path / "out.tif")[KEY]
    assert made["kind"] == "result" and made["method"] == "n2v" and made["axes"] == "YX" and made["steps"] == 3
    assert made["source"] == str(src.resolve()) and made["model_folder"] == str((tmp_path / "m").resolve())
    assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "again.tif"), "--quiet"]) == 0
    again = read_tiff_metadata(tmp_path / "again.tif")[KEY]
    assert again["steps"] == 3 and again["model_folder"] == made["model_folder"]
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), tifffile.imread(tmp_path / "again.tif"))


def test_the_writer_keeps_pixels_metadata_and_placement_and_the_reader_gives_them_back(tmp_path):
    data = np.random.default_rng(0).normal(100, 15, (3, 20, 30)).astype(np.float32)
    made = {"kind": "result", "method": "hqssl", "axes": "ZYX", "steps": 20, "noise": {"kind": "gaussian"}}
    meta = {"metadata": {KEY: made, "note": "kept", "opaque": object()}, "scale": np.array([2.0, 0.5, 0.5]),
            "translate": (1, 2, 3), "units": ("micrometer",) * 3, "axis_labels": ("z", "y", "x")}
    path = str(tmp_path / "result.tif")
    assert write_tiff(path, data, meta) == [path]
    [(read, kwargs, kind)] = get_reader(path)(path)
    assert kind == "image" and read.dtype == np.float32 and np.array_equal(read, data)
    assert kwargs["metadata"] == {KEY: made, "note": "kept"}  # what is not JSON is left out
    assert kwargs["scale"] == (2.0, 0.5, 0.5) and kwargs["translate"] == (1.0, 2.0, 3.0)
    assert kwargs["units"] == ("micrometer",) * 3 and kwargs["axis_labels"] == ("z", "y", "x")
    with tifffile.TiffFile(path) as tif:  # anyone with tifffile sees the record and the axes
        assert tif.shaped_metadata[0][KEY]["method"] == "hqssl" and tif.series[0].axes == "ZYX"


def test_a_foreign_tiff_opens_as_pixels_with_its_spacing(tmp_path):
    data = np.arange(2 * 8 * 9, dtype=np.uint16).reshape(2, 8, 9)
    path = tmp_path / "foreign.tif"
    tifffile.imwrite(path, data, imagej=True, resolution=(4.0, 4.0), metadata={"spacing": 2.0, "axes": "ZYX"})
    [(read, kwargs, _)] = get_reader(str(path))(str(path))
    assert np.array_equal(read, data) and "metadata" not in kwargs and kwargs["scale"] == (2.0, 0.25, 0.25)
    assert get_reader(str(tmp_path / "x.png")) is None and get_reader([str(path)]) is None


@pytest.mark.parametrize("description", [
    "not json {", '{"napari_blindspot": "a string", "napari": {"scale": [1, "a"], "units": 3}}',
    '{"napari": {"scale": [0, 1], "translate": [1e999, 0]}}', "[1, 2]",
    '{"napari_blindspot": {"pad": "' + "x" * MAX_DESCRIPTION + '"}}',
])
def test_a_description_that_is_not_our_record_is_ignored(tmp_path, description):
    path = str(tmp_path / "odd.tif")
    tifffile.imwrite(path, np.ones((4, 5), np.float32), description=description, metadata=None)
    [(read, kwargs, _)] = get_reader(path)(path)
    assert read.shape == (4, 5) and kwargs == {}


def test_the_manifest_offers_the_writer_and_the_reader_for_tiffs():
    import npe2

    contributions = npe2.PluginManifest.from_distribution("napari-blindspot").contributions
    [writer] = contributions.writers
    assert writer.layer_types == ["image"] and set(writer.filename_extensions) == {".tif", ".tiff"}
    assert set(contributions.readers[0].filename_patterns) == {"*.tif", "*.tiff"}
    assert json.dumps(writer.display_name)

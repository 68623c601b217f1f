"""Never a wrong result with exit code 0: the file's own axes are used, ambiguous files are
asked about instead of guessed, and a run that trained nothing writes nothing."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import tifffile
import zarr

import napari_blindspot as nb
from napari_blindspot.cli import main
from napari_blindspot.core.model import load_model
from napari_blindspot import io

RNG = np.random.default_rng(0)
FAST = ["--steps", "1", "--patch-size", "16", "--batch-size", "2", "--quiet"]


def _only_error_line(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and all(w in err[0] for w in words), err


def _imagej_zcyx(path):
    tifffile.imwrite(path, RNG.normal(100, 10, (3, 2, 32, 40)).astype(np.float32), imagej=True,
                     metadata={"axes": "ZCYX"})


def _ome_tcyx(path):
    tifffile.imwrite(path, RNG.normal(100, 10, (2, 3, 32, 40)).astype(np.float32), metadata={"axes": "TCYX"})


def _ome_zarr_cyx(path):
    group = zarr.open_group(str(path), mode="w")
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": "c", "type": "channel"},
                                                              {"name": "y", "type": "space"},
                                                              {"name": "x", "type": "space"}],
                                   "datasets": [{"path": "0"}]}]
    group.create_array("0", shape=(3, 32, 32), dtype="f4")[...] = RNG.normal(100, 10, (3, 32, 32))


@pytest.mark.parametrize("name, make, axes", [("hyper.tif", _imagej_zcyx, "ZCYX"),
                                              ("series.ome.tif", _ome_tcyx, "TCYX"),
                                              ("ome.zarr", _ome_zarr_cyx, "CYX")])
def test_axes_come_from_the_files_metadata(tmp_path, name, make, axes):
    make(tmp_path / name)
    assert io.read_axes(tmp_path / name) == axes
    assert main(["train", str(tmp_path / name), str(tmp_path / "m"), *FAST]) == 0
    assert load_model(tmp_path / "m").spec.axes == axes  # the shape alone would say otherwise


def test_axes_option_wins_over_the_metadata(tmp_path):
    _imagej_zcyx(tmp_path / "hyper.tif")
    assert main(["train", str(tmp_path / "hyper.tif"), str(tmp_path / "m"), "--axes", "TCYX", *FAST]) == 0
    assert load_model(tmp_path / "m").spec.axes == "TCYX"


def test_plain_files_have_no_axes_to_tell(tmp_path):
    tifffile.imwrite(tmp_path / "plain.tif", np.zeros((5, 16, 16), np.float32))  # tifffile says QYX
    np.save(tmp_path / "plain.npy", np.zeros((5, 16, 16), np.float32))
    assert io.read_axes(tmp_path / "plain.tif") is None and io.read_axes(tmp_path / "plain.npy") is None


def _group_of_raw_and_mask(path):
    group = zarr.open_group(str(path), mode="w")
    group.create_array("mask", shape=(32, 32), dtype="u1")[...] = 1
    group.create_array("raw", shape=(32, 32), dtype="f4")[...] = RNG.normal(100, 10, (32, 32))


def test_a_zarr_group_without_array_0_is_asked_about(tmp_path, capsys):
    _group_of_raw_and_mask(tmp_path / "stack.zarr")
    assert main(["denoise", str(tmp_path / "stack.zarr"), str(tmp_path / "out.npy"), *FAST]) == 2
    _only_error_line(capsys, "mask, raw", "stack.zarr/mask")
    assert not (tmp_path / "out.npy").exists()


def test_an_array_in_a_zarr_group_is_named_by_its_path(tmp_path):
    _group_of_raw_and_mask(tmp_path / "stack.zarr")
    raw = zarr.open(str(tmp_path / "stack.zarr" / "raw"), mode="r")[...]
    assert np.array_equal(io.read_image(tmp_path / "stack.zarr" / "raw")[...], raw)
    assert main(["denoise", str(tmp_path / "stack.zarr" / "raw"), str(tmp_path / "out.npy"), *FAST]) == 0
    assert abs(float(np.load(tmp_path / "out.npy").mean()) - 100) < 10  # raw's level, not the mask's 1


def test_a_missing_array_in_a_zarr_group_is_named(tmp_path, capsys):
    _group_of_raw_and_mask(tmp_path / "stack.zarr")
    assert main(["denoise", str(tmp_path / "stack.zarr" / "rwa"), str(tmp_path / "out.npy"), *FAST]) == 2
    _only_error_line(capsys, "no array 'rwa'", "mask, raw")


def _two_series(path):
    with tifffile.TiffWriter(path, ome=True) as tif:
        tif.write(np.zeros((32, 32), np.float32), metadata={"axes": "YX"})
        tif.write(RNG.normal(100, 10, (3, 32, 32)).astype(np.float32), metadata={"axes": "ZYX"})


def test_a_multi_series_tiff_needs_series(tmp_path, capsys):
    _two_series(tmp_path / "two.ome.tif")
    assert main(["denoise", str(tmp_path / "two.ome.tif"), str(tmp_path / "out.npy"), *FAST]) == 2
    _only_error_line(capsys, "2 image series", "0: YX 32x32", "1: ZYX 3x32x32", "--series")
    assert main(["denoise", str(tmp_path / "two.ome.tif"), str(tmp_path / "out.npy"), "--series", "1", *FAST]) == 0
    assert np.load(tmp_path / "out.npy").shape == (3, 32, 32)
    assert main(["denoise", str(tmp_path / "two.ome.tif"), str(tmp_path / "o2.npy"), "--series", "2", *FAST]) == 2
    _only_error_line(capsys, "--series 2 does not exist", "0 to 1")


def test_a_run_without_a_single_step_writes_nothing(tmp_path, capsys):
    np.save(tmp_path / "in.npy", RNG.normal(100, 10, (48, 48)).astype(np.float32))
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "--time-budget", "1e-9",
                 "--quiet"]) == 2
    _only_error_line(capsys, "no step", "--time-budget")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]
    with pytest.raises(ValueError, match="no step"):
        nb.denoise(RNG.normal(100, 10, (48, 48)).astype(np.float32), time_budget_s=1e-9)


def test_a_fifo_input_is_refused_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "in.npy")
    proc = subprocess.run([sys.executable, "-m", "napari_blindspot.cli", "denoise", str(tmp_path / "in.npy"),
                           str(tmp_path / "out.npy"), "--quiet"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a regular file" in proc.stderr, proc.stderr


def test_a_zarr_of_tiny_chunks_is_refused_with_advice(tmp_path, capsys):
    zarr.open_array(str(tmp_path / "tiny.zarr"), mode="w", shape=(128, 128), chunks=(1, 1), dtype="f4")
    assert main(["denoise", str(tmp_path / "tiny.zarr"), str(tmp_path / "out.npy"), "--quiet"]) == 2
    _only_error_line(capsys, "16384 chunks of 1x1", "larger chunks")


def _ome_stack(path, units):
    sizes = {"Z": 0.001, "Y": 2000.0, "X": 0.00002}  # 1 um, 0.2 um, 0.2 um in the units below
    meta = {"axes": "ZYX"}
    for axis, unit in zip("ZYX", units):
        meta[f"PhysicalSize{axis}"], meta[f"PhysicalSize{axis}Unit"] = sizes[axis], unit
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint16), metadata=meta)


def test_voxel_units_of_ome_metadata_are_understood(tmp_path):
    _ome_stack(tmp_path / "a.ome.tif", ("mm", "Å", "cm"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.allclose(io.read_scale(tmp_path / "a.ome.tif"), (1.0, 0.2, 0.2))


def test_a_unit_that_is_not_a_length_is_said_and_ignored(tmp_path):
    _ome_stack(tmp_path / "a.ome.tif", ("pixel", "Å", "cm"))
    with pytest.warns(UserWarning, match="'pixel'"):
        assert io.read_scale(tmp_path / "a.ome.tif") is None

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import zarr

from napari_blindspot.cli import main

FAST = ["--steps", "3", "--patch-size", "16", "--batch-size", "2", "--quiet"]


@pytest.fixture
def image(noisy_image):
    return noisy_image[1]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".zarr"])
def test_denoise_end_to_end_writes_float32_of_the_same_shape(tmp_path, image, suffix):
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image)
    before = _digest(src)
    out = tmp_path / f"out{suffix}"
    assert main(["denoise", str(src), str(out), *FAST]) == 0
    result = np.load(out) if suffix == ".npy" else (zarr.open(str(out), mode="r")[...] if suffix == ".zarr"
                                                     else tifffile.imread(out))
    assert result.shape == image.shape and result.dtype == np.float32 and np.isfinite(result).all()
    assert _digest(src) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.tif", out.name])  # no temp leftovers


def test_train_then_predict_equals_denoise_with_save_model(tmp_path, image):
    src = tmp_path / "in.npy"
    np.save(src, image)
    assert main(["denoise", str(src), str(tmp_path / "a.npy"), "--save-model", str(tmp_path / "m"), *FAST]) == 0
    assert main(["predict", str(tmp_path / "m"), str(src), str(tmp_path / "b.npy"), "--quiet"]) == 0
    assert np.array_equal(np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy"))


def test_predict_averages_views_unless_no_tta(tmp_path, image):
    from napari_blindspot import load_model

    src = tmp_path / "in.npy"
    np.save(src, image)
    assert main(["train", str(src), str(tmp_path / "m"), *FAST]) == 0
    model = load_model(tmp_path / "m")
    for flag, tta in ([], True), (["--no-tta"], False):
        out = tmp_path / f"out{tta}.npy"
        assert main(["predict", str(tmp_path / "m"), str(src), str(out), "--quiet", *flag]) == 0
        np.testing.assert_allclose(np.load(out), model.predict(image, tta=tta), atol=1e-4)
    assert not np.allclose(np.load(tmp_path / "outTrue.npy"), np.load(tmp_path / "outFalse.npy"), atol=1e-3)


@pytest.mark.parametrize("args, message", [
    (["denoise", "missing.tif", "out.tif"], "does not exist"),
    (["denoise", "in.npy", "out.png"], "unsupported file type"),
    (["denoise", "in.npy", "nowhere/out.tif"], "does not exist"),
    (["denoise", "in.npy", "out.tif", "--axes", "ZYX"], "do not match"),
    (["denoise", "in.npy", "out.tif", "--time-budget", "-1"], "positive"),
    (["predict", "in.npy", "in.npy", "out.tif"], "is a file"),
    (["denoise", "in.npy", "out.tif", "--scale", "1,a"], "not a list of numbers"),
    (["denoise", "in.npy", "out.tif", "--scale", "1,1,1"], "one spacing per axis"),
])
def test_user_errors_exit_2_with_one_line_and_no_output(tmp_path, image, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", image)
    assert main(args + ["--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


@pytest.mark.parametrize("extra, spatial_ndim", [([], 2), (["--3d"], 3), (["--scale", "1,1,1"], 2)])
def test_z_spacing_in_tiff_metadata_chooses_2d_unless_told_otherwise(tmp_path, capsys, extra, spatial_ndim):
    from napari_blindspot.core.model import load_model

    stack = np.random.default_rng(0).normal(100, 10, (16, 16, 16)).astype(np.float32)
    src = tmp_path / "stack.tif"  # ImageJ: 0.2 um pixels, 1 um between planes (5x)
    tifffile.imwrite(src, stack, imagej=True, resolution=(5.0, 5.0), metadata={"spacing": 1.0, "axes": "ZYX"})
    assert main(["train", str(src), str(tmp_path / "m"), "--steps", "1", "--batch-size", "1", "--device", "cpu",
                 *extra]) == 0
    assert load_model(tmp_path / "m").spec.spatial_ndim == spatial_ndim
    reason = [line for line in capsys.readouterr().err.splitlines() if line.startswith("Z: ")]
    assert reason and ("5.0x" in reason[0]) == (extra == [])  # --scale replaces the metadata (1.0x:
    # near-isotropic, yet slices on the CPU)


def test_console_script_reports_progress_on_stderr(tmp_path, image):
    np.save(tmp_path / "in.npy", image)
    proc = subprocess.run([sys.executable, "-m", "napari_blindspot.cli", "denoise", str(tmp_path / "in.npy"),
                           str(tmp_path / "out.npy"), "--steps", "3", "--patch-size", "16"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "training n2v" in proc.stderr and "3/3" in proc.stderr


def test_voxel_spacing_is_read_from_ome_and_imagej_tiffs(tmp_path):
    from napari_blindspot.io import read_scale

    stack = np.zeros((4, 8, 8), np.uint16)
    tifffile.imwrite(tmp_path / "a.ome.tif", stack, metadata={"axes": "ZYX", "PhysicalSizeZ": 1.0,
                                                              "PhysicalSizeY": 200, "PhysicalSizeYUnit": "nm",
                                                              "PhysicalSizeX": 0.2})
    tifffile.imwrite(tmp_path / "b.tif", stack, imagej=True, resolution=(4.0, 4.0),
                     metadata={"spacing": 2.0, "axes": "ZYX"})
    tifffile.imwrite(tmp_path / "c.tif", stack)  # no metadata: unknown
    assert np.allclose(read_scale(tmp_path / "a.ome.tif"), (1.0, 0.2, 0.2))
    assert np.allclose(read_scale(tmp_path / "b.tif"), (2.0, 0.25, 0.25))
    assert read_scale(tmp_path / "c.tif") is None


def test_n2n_from_a_second_recording_with_a_report(tmp_path, image):
    np.save(tmp_path / "a.npy", image)
    np.save(tmp_path / "b.npy", image + np.random.default_rng(5).normal(0, 5, image.shape).astype(np.float32))
    report = tmp_path / "run.json"
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "out.npy"), "--method", "n2n",
                 "--target", str(tmp_path / "b.npy"), "--report", str(report), "--save-model", str(tmp_path / "m"),
                 *FAST]) == 0
    summary = json.loads(report.read_text())
    assert summary["method"] == "n2n" and summary["steps"] == 3
    assert {"seconds", "best_step", "heldout_loss", "estimated_psnr_gain_db", "noise",
            "estimated_psnr_gain_db_interval"} <= set(summary)
    low, high = summary["estimated_psnr_gain_db_interval"] or (-np.inf, np.inf)  # null: it cannot be told
    told = summary["estimated_psnr_gain_db"]
    assert summary["best_step"] in (1, 2, 3) and (told is None or low <= told <= high)
    from napari_blindspot import load_model

    model = load_model(tmp_path / "m")  # the output is the mean of both recordings, denoised
    both = model.predict(np.load(tmp_path / "a.npy"), second=np.load(tmp_path / "b.npy"))
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), both, atol=1e-4)


def test_a_second_recording_of_another_shape_is_refused(tmp_path, image, capsys):
    np.save(tmp_path / "a.npy", image)
    np.save(tmp_path / "b.npy", image[:-2])
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "out.npy"), "--method", "n2n",
                 "--target", str(tmp_path / "b.npy"), *FAST]) == 2
    assert "alike in shape" in capsys.readouterr().err
    assert not (tmp_path / "out.npy").exists()


def test_until_converged_is_capped_by_the_time_budget(tmp_path, image, fake_clock):
    np.save(tmp_path / "a.npy", image)
    report = tmp_path / "run.json"
    fake_clock.step_s = 0.5  # the budget of 2 s is 4 steps: too few to converge
    assert main(["train", str(tmp_path / "a.npy"), str(tmp_path / "model"), "--until-converged", "--time-budget", "2",
                 "--patch-size", "16", "--batch-size", "2", "--quiet", "--report", str(report)]) == 0
    summary = json.loads(report.read_text())
    assert summary["seconds"] == 2.0 and fake_clock.steps == 4


def test_a_report_never_replaces_a_file_that_is_not_one(tmp_path, image, capsys):
    np.save(tmp_path / "a.npy", image)
    (tmp_path / "notes.json").write_text('{"mine": true}')
    assert main(["denoise", str(tmp_path / "a.npy"), str(tmp_path / "out.npy"), "--report",
                 str(tmp_path / "notes.json"), "--overwrite", *FAST]) == 2
    assert "not a report of ours" in capsys.readouterr().err
    assert (tmp_path / "notes.json").read_text() == '{"mine": true}' and not (tmp_path / "out.npy").exists()


@pytest.mark.parametrize("flags, axes, said", [([], "TYX", "guessed from the shape (6, 24, 24): the first axis as frames"),
                                              (["--axes", "ZYX"], "ZYX", None),
                                              (["--scale", "2,1,1"], "ZYX", "guessed from the shape")])
def test_a_bare_3d_array_is_trained_as_frames_unless_told_and_the_guess_is_said(tmp_path, capsys, flags, axes, said):
    from napari_blindspot.core.model import load_model

    np.save(tmp_path / "in.npy", np.random.default_rng(0).normal(100, 10, (6, 24, 24)).astype(np.float32))
    assert main(["train", str(tmp_path / "in.npy"), str(tmp_path / "m"), "--steps", "1", "--batch-size", "1",
                 "--patch-size", "16", "--device", "cpu", *flags]) == 0
    assert load_model(tmp_path / "m").spec.axes == axes
    told = [line for line in capsys.readouterr().err.splitlines() if line.startswith("axes: ")]
    assert (told and said in told[0] and f"axes: {axes} " in told[0]) if said else not told


def test_neighbour_planes_are_chosen_said_and_can_be_turned_off(tmp_path, noisy_image, capsys):
    clean = noisy_image[0]
    stack = np.stack([clean + np.random.default_rng(t).normal(0, 20, clean.shape) for t in range(6)]).astype(np.float32)
    np.save(tmp_path / "in.npy", stack)
    slow = [a for a in FAST if a != "--quiet"]
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "o.npy"), "--axes", "TYX", *slow]) == 0
    assert "neighbour planes: T: 1 plane on each side" in capsys.readouterr().err
    assert main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "p.npy"), "--axes", "TYX",
                 "--context-planes", "0", *slow]) == 0
    assert "neighbour planes: neighbour planes off, as set" in capsys.readouterr().err
    code = main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "q.npy"), "--axes", "TYX",
                 "--context-planes", "3", *FAST])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "at most 2" in err and not (tmp_path / "q.npy").exists()

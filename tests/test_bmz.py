"""bioimage.io export: the package passes bioimageio's own validation and test, runs in
bioimageio.core as our model does, and reads back into napari-blindspot."""

import zipfile

import numpy as np
import pytest

import napari_blindspot as nb
from napari_blindspot.core.spec import ModelFileError

TINY = dict(steps=3, time_budget_s=None, features=8, patch_size=16, batch_size=2, preview_every_s=None,
            device="cpu")
LAYOUTS = {  # name: (config, image shape)
    "n2v-YX": (dict(method="n2v", axes="YX"), (40, 48)),
    "hqssl-YX": (dict(method="hqssl", axes="YX"), (40, 40)),  # square test tensor, other shapes after
    "n2v2-CYX": (dict(method="n2v2", axes="CYX"), (2, 40, 40)),
    "n2n-YX": (dict(method="n2n", axes="YX"), (40, 40)),
    "hqssl-ZYX-3d": (dict(method="hqssl", axes="ZYX", three_d=True), (16, 20, 18)),
}


NO_EXTRA = "the bmz extra is not installed: pip install 'napari-blindspot[bmz]'"


@pytest.fixture
def bioimageio_core():
    return pytest.importorskip("bioimageio.core", reason=NO_EXTRA)


def _image(shape, seed=0):
    grid = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    clean = 100 + 60 * np.sin(grid[-1] / 6.0) * np.cos(grid[-2] / 9.0)
    return (clean + np.random.default_rng(seed).normal(0, 20, shape)).astype(np.float32)


def _trained(layout):
    config, shape = LAYOUTS[layout]
    image = _image(shape)
    second = _image(shape, seed=2) if config["method"] == "n2n" else None
    run = nb.train(image, nb.TrainConfig(**config, **TINY), target=second)
    for _ in run:
        pass
    return run.model, image


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """layout -> (model, training image, package path), each exported once (without its own check)."""
    pytest.importorskip("bioimageio.core", reason=NO_EXTRA)
    from napari_blindspot.bmz import export_model

    cache = {}

    def get(layout):
        if layout not in cache:
            model, image = _trained(layout)
            path = tmp_path_factory.mktemp("bmz") / f"{layout}.zip"
            cache[layout] = model, image, export_model(model, path, sample=image, authors="Ada Lovelace",
                                                       check=False)
        return cache[layout]

    return get


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_package_is_valid_and_passes_its_bioimageio_test(exported, bioimageio_core, layout):
    from bioimageio.spec import InvalidDescr, load_description

    _, _, path = exported(layout)
    descr = load_description(path)
    assert not isinstance(descr, InvalidDescr), descr.validation_summary.format()
    summary = bioimageio_core.test_model(path)
    assert summary.status == "passed", summary.format()


def test_package_describes_the_method_with_citations_cover_and_our_files(exported):
    from bioimageio.spec import load_description

    _, _, path = exported("hqssl-YX")
    descr = load_description(path)
    assert [str(c.doi) for c in descr.cite] == ["10.48550/arXiv.1901.10277"]
    assert [a.name for a in descr.authors] == ["Ada Lovelace"] and str(descr.license) == "CC-BY-4.0"
    assert [str(a.id) for a in descr.inputs[0].axes] == ["batch", "y", "x"]
    assert descr.weights.torchscript is not None and len(descr.covers) == 1
    with zipfile.ZipFile(path) as z:
        assert {"config.json", "weights.safetensors", "README.md", "cover.png"} <= set(z.namelist())


@pytest.mark.parametrize("layout", ["n2v-YX", "hqssl-YX"])
def test_load_model_reads_the_package_back_and_predicts_the_same(exported, layout):
    model, image, path = exported(layout)
    loaded = nb.load_model(path, device="cpu")
    assert loaded.spec == model.spec
    assert np.array_equal(loaded.predict(image), model.predict(image))


@pytest.mark.parametrize("layout", ["n2v-YX", "hqssl-YX", "n2v2-CYX"])
def test_bioimageio_core_predicts_another_image_as_we_do(exported, bioimageio_core, layout):
    """Sizes and shapes other than the test tensor's (bioimageio's own test only tries squares)."""
    from bioimageio.core import predict
    from bioimageio.spec import load_description

    model, image, path = exported(layout)
    other = _image(image.shape[:-2] + (36, 52), seed=1)
    descr = load_description(path)
    batch = other[None]  # the package's axes: batch first, then ours (C when the model has one)
    # the package runs one view in float32; test-time views and bfloat16 (auto on CPUs that have it) are ours
    ours = nb.load_model(path, device="cpu", precision="float32").predict(other, tta=False)
    theirs = predict(model=descr, inputs=batch).members["denoised"].data.values[0]
    np.testing.assert_allclose(theirs, ours, rtol=1e-4, atol=1e-3 * min(model.spec.normalisation.std))


def test_export_replaces_only_its_own_package_and_only_when_asked(exported, tmp_path):
    from napari_blindspot.bmz import export_model

    model, image, _ = exported("n2v-YX")
    target = tmp_path / "model.zip"
    target.write_bytes(b"someone else's file")
    for overwrite in (False, True):  # not ours: never replaced
        with pytest.raises(FileExistsError, match="not ours to replace"):
            export_model(model, target, check=False, overwrite=overwrite)
        assert target.read_bytes() == b"someone else's file"
    target.unlink()
    export_model(model, target, check=False)
    with pytest.raises(FileExistsError, match="overwrite"):
        export_model(model, target, check=False)
    export_model(model, target, overwrite=True, check=False)
    assert zipfile.is_zipfile(target)


def test_export_checks_its_package_and_names_bad_metadata(exported, tmp_path):
    from napari_blindspot.bmz import export_model

    model, _, _ = exported("n2v-YX")
    with pytest.raises(ValueError, match="name"):
        export_model(model, tmp_path / "a.zip", name="bad/name!", check=False)
    assert not (tmp_path / "a.zip").exists()
    export_model(model, tmp_path / "b.zip", check=True)  # synthetic test input, its own test passes
    assert zipfile.is_zipfile(tmp_path / "b.zip")


def test_cli_exports_a_package_that_loads_back(exported, tmp_path):
    from napari_blindspot.cli import main

    model, image, _ = exported("n2v-YX")
    model.save(tmp_path / "m")
    args = ["export", str(tmp_path / "m"), str(tmp_path / "out.zip"), "--name", "My N2V model",
            "--author", "Ada Lovelace", "--author", "Grace Hopper", "--license", "MIT"]
    assert main(args) == 0
    assert np.array_equal(nb.load_model(tmp_path / "out.zip", device="cpu").predict(image), model.predict(image))
    assert main(args) == 2  # exists, and --overwrite was not given


def test_cli_export_without_the_bmz_extra_says_what_to_install(tmp_path, monkeypatch, capsys):
    import sys

    from napari_blindspot.cli import main

    monkeypatch.setitem(sys.modules, "bioimageio.core", None)  # import bioimageio.core now fails
    assert main(["export", str(tmp_path / "m"), str(tmp_path / "out.zip")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "install napari-blindspot[bmz]" in err


def test_a_zip_without_our_files_is_refused_without_unpickling(tmp_path):
    import torch

    torch.save({"a": 1}, tmp_path / "model.zip")  # torch.save writes a zip of pickles
    with pytest.raises(ModelFileError, match="not a package exported by napari-blindspot"):
        nb.load_model(tmp_path / "model.zip")


def test_a_zip_entry_above_the_size_limit_is_not_read(tmp_path):
    from napari_blindspot.core.model_io import PACKAGE_LIMITS

    with zipfile.ZipFile(tmp_path / "big.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", " " * (PACKAGE_LIMITS["config.json"] + 1))  # compresses to almost nothing
        z.writestr("weights.safetensors", b"")
    with pytest.raises(ModelFileError, match="declares"):
        nb.load_model(tmp_path / "big.zip")


def test_export_of_a_model_with_neighbour_planes_says_how_to_export(tmp_path):
    pytest.importorskip("bioimageio.spec", reason=NO_EXTRA)
    from napari_blindspot.bmz import export_model

    stack = np.random.default_rng(0).normal(100, 10, (5, 32, 32)).astype(np.float32)
    run = nb.train(stack, nb.TrainConfig(axes="TYX", context_planes=1, **TINY))
    list(run)
    with pytest.raises(ValueError, match="context_planes=0"):
        export_model(run.model, tmp_path / "m.zip")
    assert not (tmp_path / "m.zip").exists()

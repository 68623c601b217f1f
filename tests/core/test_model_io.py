import json

import numpy as np
import pytest

import napari_blindspot as nb
from napari_blindspot.core.spec import ModelFileError


@pytest.fixture(scope="module", params=["n2v", "n2v2"])
def trained(request):
    image = np.random.default_rng(0).normal(50, 10, (40, 40)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(method=request.param, axes="YX", steps=3, time_budget_s=None,
                                         features=8, patch_size=16, batch_size=2, preview_every_s=None,
                                         device="cpu"))  # predictions compared bit for bit, on one device
    for _ in run:
        pass
    return run.model, image


def test_save_load_round_trip_gives_identical_predictions(trained, tmp_path):
    model, image = trained
    model.save(tmp_path / "m")
    loaded = nb.load_model(tmp_path / "m", device="cpu")
    assert loaded.spec.method == model.spec.method and loaded.spec.axes == "YX"
    assert np.array_equal(loaded.predict(image), model.predict(image))


def test_pickle_files_are_refused(tmp_path):
    import torch

    torch.save({"a": 1}, tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="never loaded"):
        nb.load_model(tmp_path / "model.pt")


def test_tampered_config_is_refused(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["normalisation"]["std"] = [0.0]
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="positive std"):
        nb.load_model(tmp_path / "m")


def test_weights_of_the_wrong_shape_are_refused(trained, tmp_path):
    model, _ = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["network"]["features"] = 16
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="does not fit"):
        nb.load_model(tmp_path / "m")


def test_a_pickle_disguised_as_safetensors_is_refused_without_running(trained, tmp_path):
    import pickle

    model, _ = trained
    model.save(tmp_path / "m")
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "m" / "weights.safetensors").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ModelFileError, match="not a valid safetensors"):
        nb.load_model(tmp_path / "m")
    assert not marker.exists()


@pytest.mark.parametrize("method", ["n2v2", "hqssl"])
def test_independent_channel_models_round_trip(method, tmp_path):
    image = np.random.default_rng(1).normal(50, 10, (2, 24, 24)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(method=method, axes="CYX", channels="independent", steps=2,
                                         time_budget_s=None, features=4, depth=1, patch_size=16, batch_size=2,
                                         preview_every_s=None, device="cpu"))
    for _ in run:
        pass
    run.model.save(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "config.json").read_text())["network"]["groups"] == 2
    loaded = nb.load_model(tmp_path / "m", device="cpu")
    assert loaded.net.groups == 2
    assert np.array_equal(loaded.predict(image), run.model.predict(image))


def test_models_saved_without_groups_load_as_joint_models(trained, tmp_path):
    model, image = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["network"]["groups"]  # as written before independent channel models existed
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    loaded = nb.load_model(tmp_path / "m", device="cpu")
    assert loaded.net.groups == 1
    assert np.array_equal(loaded.predict(image), model.predict(image))


@pytest.mark.parametrize("groups", [2, 0, -1, 1.0, True, "1"])
def test_network_groups_must_be_one_or_one_per_channel(trained, tmp_path, groups):
    model, _ = trained
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["network"]["groups"] = groups
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match="invalid model config"):
        nb.load_model(tmp_path / "m")

"""HQ-SSL's uncertainty calibrated on the held-out pixels (core/calibration.py)."""

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core import methods
from napari_blindspot.core.calibration import MIN_PIXELS, SCALE_RANGE, calibrate
from napari_blindspot.core.data import Normalisation, StackView
from napari_blindspot.core.heldout import ValidationSet, heldout_mask
from napari_blindspot.core.noise import GaussianNoise
from napari_blindspot.core.spec import ModelFileError

SIGMA, ERROR, PRIOR_VAR = 1.0, 1.0, 0.25  # noise std, the fake network's error std, the prior it claims


def _overconfident(seed=0, side=512, prior_var=PRIOR_VAR, learned_sigma=SIGMA, data_noise=None):
    """A clean image, its noisy recording and a fake HQ-SSL model whose prior mean is off by
    N(0, ERROR^2) while its prior variance claims `prior_var`: a posterior std too small."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    clean = 5 * np.sin(x / 20) * np.cos(y / 30)
    noisy = (clean + rng.normal(0, SIGMA, clean.shape)).astype(np.float32)
    mu = clean + rng.normal(0, ERROR, clean.shape)
    a = np.log(np.expm1(prior_var))  # softplus(a) = prior_var (hqssl.prior)
    out = torch.from_numpy(np.stack([mu, np.full_like(mu, a)])[None]).float()
    model = SimpleNamespace(net=SimpleNamespace(eval=lambda: None, groups=1, in_channels=1), forward=lambda z: out,
                            noise=GaussianNoise(1, sigma=[learned_sigma]), spec=SimpleNamespace(data_noise=data_noise))
    return clean, noisy, model, out


def test_the_data_noise_level_gives_back_the_spread_a_noisy_noise_model_took_from_the_prior():
    """The likelihood fits s_x^2 + s_n^2 = ERROR^2 + SIGMA^2; a noise model that claims 1.3 SIGMA
    leaves the prior too narrow. With the data's noise level (var = 0 z + SIGMA^2) the error is right."""
    learned = 1.3 * SIGMA
    prior_var = ERROR**2 + SIGMA**2 - learned**2
    for data_noise, calibrated in ((None, False), (((0.0, SIGMA**2),), True)):
        clean, noisy, model, _ = _overconfident(prior_var=prior_var, learned_sigma=learned, data_noise=data_noise)
        mean, var = methods.get("hqssl").predict_view(model, torch.from_numpy(noisy)[None, None])
        err, std = mean[0, 0].numpy() - clean, var[0, 0].sqrt().numpy()
        within = np.mean(np.abs(err) < 2 * std)
        if calibrated:
            assert np.mean(std) == pytest.approx(np.sqrt(np.mean(err**2)), rel=0.05) and 0.94 < within < 0.97
        else:
            assert np.mean(std) < 0.7 * np.sqrt(np.mean(err**2)) and within < 0.8


def test_the_scale_from_noisy_held_out_pixels_corrects_an_overconfident_std():
    clean, noisy, model, out = _overconfident()
    validation = ValidationSet(StackView.of(noisy, "YX"), Normalisation((0.0,), (1.0,)), "hqssl", sigma=SIGMA)
    scale = validation.evaluate(model).calibration.scale[0]  # the validation saw the noisy image only
    y = torch.from_numpy(noisy)[None, None].double()
    mean, var = model.noise.posterior(y, out[:, :1].double(), torch.full_like(y, PRIOR_VAR))
    err, std = mean[0, 0].numpy() - clean, var[0, 0].sqrt().numpy()
    assert np.mean(np.abs(err) < 2 * std) < 0.8  # as it was: overconfident
    assert np.mean(std * scale) == pytest.approx(np.sqrt(np.mean(err**2)), rel=0.1)
    assert 0.93 < np.mean(np.abs(err) < 2 * std * scale) < 0.97  # a normal error's 95 %
    held = heldout_mask(0, (slice(0, 512), slice(0, 512)), (512, 512))
    assert held.mean() < 0.02  # measured on the held-out pixels alone


def test_the_scale_stays_1_unless_the_held_out_pixels_tell_the_error_model_is_off():
    few = calibrate([0.5], [0.01], [0.1], MIN_PIXELS - 1)
    assert few.scale == (1.0,) and "too few" in few.note
    unsure = calibrate([0.5], [0.3], [0.1], 5000)  # 5 times the model's, +- 3 times: no evidence
    assert unsure.scale == (1.0,) and "agree" in unsure.note
    assert calibrate([0.105], [0.01], [0.1], 5000).scale == (1.0,)
    assert calibrate([0.4], [0.01], [0.1], 5000) == calibrate([0.4], [0.01], [0.1], 5000)
    assert calibrate([0.4], [0.01], [0.1], 5000).scale == (2.0,) and calibrate([0.4], [0.01], [0.1], 5000).note is None
    below = calibrate([0.064], [0.001], [0.1], 5000)  # the held-out estimate errs low: never shrinks
    assert below.scale == (1.0,) and "below" in below.note
    huge = calibrate([100.0, 0.4], [0.1, 0.01], [1e-4, 0.1], 5000)
    assert huge.scale == (SCALE_RANGE[1], 2.0) and "clipped" in huge.note and "channel 0" in huge.note
    assert calibrate([-0.1], [0.01], [0.1], 5000).scale == (1.0,)  # a negative error: no evidence


@pytest.fixture(scope="module")
def hqssl_model():
    image = np.random.default_rng(1).normal(50, 10, (48, 48)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(method="hqssl", axes="YX", steps=2, time_budget_s=None, features=8,
                                         patch_size=16, batch_size=2, preview_every_s=None, device="cpu"))
    for _ in run:
        pass
    return run.model, image


def test_the_scale_multiplies_the_uncertainty_and_survives_save_and_load(hqssl_model, tmp_path):
    model, image = hqssl_model
    raw = replace(model.spec, uncertainty_scale=None)
    scaled = replace(model.spec, uncertainty_scale=(2.5,))
    model.spec = raw
    _, std = model.predict(image, return_uncertainty=True)
    model.spec = scaled
    model.save(tmp_path / "m")
    loaded = nb.load_model(tmp_path / "m", device="cpu")
    assert loaded.uncertainty_scale == (2.5,) and loaded.spec.data_noise == model.spec.data_noise
    np.testing.assert_allclose(loaded.predict(image, return_uncertainty=True)[1], 2.5 * std, rtol=1e-5)


def test_a_model_saved_without_the_scale_loads_with_scale_1(hqssl_model, tmp_path):
    model, image = hqssl_model
    model.spec = replace(model.spec, uncertainty_scale=(3.0,))
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    del cfg["uncertainty_scale"], cfg["data_noise"]  # as a model saved before the calibration
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    old = nb.load_model(tmp_path / "m", device="cpu")
    assert old.spec.uncertainty_scale is None and old.uncertainty_scale == (1.0,) and old.spec.data_noise is None
    model.spec = replace(model.spec, uncertainty_scale=(1.0,), data_noise=None)  # the posterior std as it was
    np.testing.assert_array_equal(old.predict(image, return_uncertainty=True)[1],
                                  model.predict(image, return_uncertainty=True)[1])


@pytest.mark.parametrize("key, value", [("uncertainty_scale", [float("nan")]), ("uncertainty_scale", [0.5]),
                                        ("uncertainty_scale", ["2"]), ("uncertainty_scale", [2.0, 2.0]),
                                        ("uncertainty_scale", 2.0), ("uncertainty_scale", [1e3]),
                                        ("data_noise", [[-1.0, 1.0]]), ("data_noise", [[0.1]]),
                                        ("data_noise", [[0.1, float("inf")]]), ("data_noise", [0.1, 1.0])])
def test_a_bad_calibration_in_a_model_file_is_refused(hqssl_model, tmp_path, key, value):
    model, _ = hqssl_model
    model.save(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg[key] = value
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelFileError, match=key):
        nb.load_model(tmp_path / "m")


def test_a_run_stores_its_scale_and_why(tiny):
    image = np.random.default_rng(2).normal(50, 10, (160, 160)).astype(np.float32)  # ~380 held-out pixels
    run = nb.train(image, nb.TrainConfig(method="hqssl", axes="YX", **tiny))
    for _ in run:
        pass
    scale = run.model.spec.uncertainty_scale
    assert len(scale) == 1 and SCALE_RANGE[0] <= scale[0] <= SCALE_RANGE[1]
    assert "uncertainty_note" in run.model.spec.history
    (slope, offset), = run.model.spec.data_noise  # the data's noise level, normalised: std 10 of 10
    assert slope >= 0 and 0.5 < offset < 1.5
    n2v = nb.train(image[:48, :48], nb.TrainConfig(method="n2v", axes="YX", **tiny))
    for _ in n2v:
        pass
    assert n2v.model.spec.uncertainty_scale is None and n2v.model.uncertainty_scale == (1.0,)

"""The noise level measured from the data (core/noise_level.py) and the gain estimate with its
interval (core/heldout.py Quality), on synthetic data with known noise and a known clean image."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skimage import data

from napari_blindspot.core.data import StackView, measure_normalisation
from napari_blindspot.core.heldout import Quality, ValidationSet
from napari_blindspot.core.noise_level import estimate_noise_level
from napari_blindspot.simulate import simulate_fluorescence

TOLERANCE = 0.03  # the mean noise variance within 3 % (docs/benchmarks.md: "Noise level")


def _clean(texture: str) -> np.ndarray:
    if texture == "smooth":
        yy, xx = np.mgrid[:512, :512] / 30.0
        return np.sin(yy) * np.cos(0.7 * xx) + 0.5 * np.sin(0.3 * (xx + yy))
    if texture == "brick":
        return data.brick().astype(np.float64)
    return simulate_fluorescence((512, 512), seed=0)[1]


def _noisy(clean: np.ndarray, model: str, rng) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, true per-pixel variance) of `clean` scaled to [20, 200]."""
    x = 20 + 180 * (clean - clean.min()) / np.ptp(clean)
    if model == "gaussian":
        return x + rng.normal(0, 15, x.shape), np.full_like(x, 225.0)
    if model == "poisson":
        return rng.poisson(x).astype(np.float64), x
    return rng.poisson(x) + rng.normal(0, 8, x.shape), x + 64


@pytest.mark.parametrize("model", ["gaussian", "poisson", "poisson-gaussian"])
@pytest.mark.parametrize("texture", ["smooth", "brick", "fluorescence"])
def test_the_noise_level_is_measured_within_tolerance_on_smooth_and_textured_images(texture, model):
    y, var = _noisy(_clean(texture), model, np.random.default_rng(0))
    level = estimate_noise_level(y[None, None], signal_dependent=model != "gaussian")
    assert level.variance(y[None, None]).mean() == pytest.approx(var.mean(), rel=TOLERANCE)
    assert 0 < level.rel_stderr[0] < 0.05


def test_the_noise_level_follows_intensity_for_photon_noise():
    y, var = _noisy(_clean("smooth"), "poisson-gaussian", np.random.default_rng(1))
    level = estimate_noise_level(y[None, None])
    assert level.slope[0] == pytest.approx(1.0, rel=0.1) and level.offset[0] == pytest.approx(64, abs=15)


class _Fixed(torch.nn.Module):
    """A fake denoiser whose output is given: the clean image plus a known error."""

    def __init__(self, out):
        super().__init__()
        self.out, self.groups = out, 1

    def forward(self, x):
        return self.out


def _fake_run(error_std: float, sigma=None, seed=3):
    """(Quality, true gain) of clean + N(0, error_std) as the output for N2V on Poisson-Gaussian data."""
    rng = np.random.default_rng(seed)
    clean = 20 + 180 * (_clean("smooth") - _clean("smooth").min()) / np.ptp(_clean("smooth"))
    noisy = (rng.poisson(clean) + rng.normal(0, 8, clean.shape)).astype(np.float32)
    view = StackView.of(noisy, "YX")
    norm = measure_normalisation(view)
    validation = ValidationSet(view, norm, "n2v", seed=0, sigma=sigma)
    out = clean + rng.normal(0, error_std, clean.shape)
    z_out = torch.from_numpy(norm.apply(out[None].astype(np.float32)))[None]
    model = SimpleNamespace(net=_Fixed(z_out), method="n2v", memory_format=torch.contiguous_format)
    quality = validation.evaluate(model)
    true_var = clean + 64
    return quality, 10 * np.log10(true_var.mean() / error_std**2)


def test_the_estimated_gain_of_a_denoiser_with_known_error_is_right_and_its_interval_holds_the_truth():
    quality, true_gain = _fake_run(error_std=6.0)
    low, high = quality.psnr_gain_db_interval
    assert abs(quality.psnr_gain_db - true_gain) < 1.0  # 3900 held-out pixels: the MSE to about 12 %
    assert low < true_gain < high and high - low < 3


def test_a_wrong_noise_level_moves_the_interval_off_the_truth():
    quality, true_gain = _fake_run(error_std=6.0, sigma=1.1 * np.sqrt(20 + 180 / 2 + 64))
    interval = quality.psnr_gain_db_interval
    assert interval is None or not interval[0] < true_gain < interval[1]


def test_an_uncertain_noise_level_widens_the_interval():
    sure = Quality(loss=1.1, mse=0.1, noise_var=1.0, mse_stderr=0.005)
    unsure = Quality(loss=1.1, mse=0.1, noise_var=1.0, mse_stderr=0.005, noise_var_rel_stderr=0.02)
    (a, b), (c, d) = sure.psnr_gain_db_interval, unsure.psnr_gain_db_interval
    assert c < a < b < d
    assert Quality(1.1, 0.1, 1.0, 0.005, noise_var_rel_stderr=0.05).psnr_gain_db is None  # wider than 3 dB


def test_the_gain_is_none_rather_than_an_error_when_the_mse_estimate_is_zero_or_less():
    rng = np.random.default_rng(4)
    noisy = (100 + rng.normal(0, 10, (256, 256))).astype(np.float32)
    view = StackView.of(noisy, "YX")
    validation = ValidationSet(view, measure_normalisation(view), "n2n", seed=0)  # target = input
    quality = validation.evaluate(SimpleNamespace(net=torch.nn.Identity(), method="n2n",
                                                  memory_format=torch.contiguous_format))
    assert quality.mse <= 0
    assert quality.psnr_gain_db is None and quality.psnr_gain_db_interval is None

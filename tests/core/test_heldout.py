"""Held-out pixels, the best weights, until_converged and the quality estimate."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import napari_blindspot as nb
from napari_blindspot.core import heldout, schedule, training
from napari_blindspot.core.data import StackView, measure_normalisation
from napari_blindspot.core.heldout import Quality, ValidationSet, heldout_mask
from napari_blindspot.core.masking import mask_batch
from napari_blindspot.core.noise import GaussianNoise
from napari_blindspot.core.noise_level import estimate_noise_level
from napari_blindspot.core.patches import PatchSampler


def test_a_pixel_is_held_out_whatever_region_it_is_read_in():
    whole = heldout_mask(2, (slice(0, 300), slice(0, 200)), (300, 200), seed=5)
    part = heldout_mask(2, (slice(120, 184), slice(7, 71)), (300, 200), seed=5)
    assert np.array_equal(part, whole[120:184, 7:71])
    assert 0.012 < whole.mean() < 0.018
    assert not np.array_equal(whole, heldout_mask(3, (slice(0, 300), slice(0, 200)), (300, 200), seed=5))
    assert not np.array_equal(whole, heldout_mask(2, (slice(0, 300), slice(0, 200)), (300, 200), seed=6))

def test_patches_carry_their_held_out_pixels_through_flips_and_rotations():
    """The image is bright exactly on held-out pixels: each patch's mask must mark the bright ones."""
    held = heldout_mask(0, (slice(0, 64), slice(0, 64)), (64, 64), seed=0)
    image = held * 100.0 + np.random.default_rng(0).normal(0, 1, (64, 64))
    view = StackView.of(image, "YX")
    sampler = PatchSampler(view, measure_normalisation(view), (16, 16), seed=0)
    patches, masks = sampler.batch_and_heldout(64)
    bright = patches > (patches.max() + patches.min()) / 2
    assert masks.shape == (64, 1, 16, 16) and masks.any()
    assert np.array_equal(bright, masks)

def test_n2v_never_masks_a_held_out_pixel_as_target():
    x = torch.randn(8, 1, 32, 32)
    exclude = torch.zeros(8, 1, 32, 32, dtype=torch.bool)
    exclude[:, :, ::2] = True  # half the rows
    _, coords = mask_batch(x, 5.0, torch.Generator().manual_seed(0), exclude=exclude)
    assert len(coords) > 0 and not exclude[coords[:, 0], 0, coords[:, 1], coords[:, 2]].any()

def test_hqssl_loss_ignores_held_out_pixels():
    noise = GaussianNoise(1, sigma=0.5)
    y, mu, var = torch.randn(1, 1, 8, 8), torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 8, 8)
    weight = torch.ones(1, 1, 8, 8)
    weight[0, 0, 3, 4] = 0
    changed = y.clone()
    changed[0, 0, 3, 4] += 100
    assert noise.loss(changed, mu, var, weight) == pytest.approx(float(noise.loss(y, mu, var, weight)))
    assert noise.loss(changed, mu, var) != pytest.approx(float(noise.loss(y, mu, var)))

def _scripted_validation(monkeypatch, losses):
    """Validations return `losses` in turn (then the last again); each records the weights."""
    seen = []

    def evaluate(self, model):
        seen.append([p.detach().clone() for p in model.net.parameters()])
        return Quality(losses[min(len(seen), len(losses)) - 1], 0.1, 1.0)

    monkeypatch.setattr(ValidationSet, "evaluate", evaluate)
    monkeypatch.setattr(training, "VALIDATION_SHARE", 1.0)  # a validation every step, however long it takes
    return seen

def test_a_run_ends_with_the_weights_of_its_best_held_out_loss(monkeypatch, tiny):
    seen = _scripted_validation(monkeypatch, [3.0, 2.0, 1.0, 5.0, 6.0, 7.0])
    image = np.random.default_rng(0).normal(0, 1, (48, 48)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(axes="YX", method="n2v", validation_every_s=1e-6, **{**tiny, "steps": 30}))
    final = list(run)[-1]
    assert len(seen) == 10 and final.best_step == 9  # validations every 3rd of 30 steps
    assert all(torch.equal(p, q) for p, q in zip(run.model.net.parameters(), seen[2]))
    assert not all(torch.equal(p, q) for p, q in zip(run.model.net.parameters(), seen[-1]))
    assert run.model.spec.history["best_step"] == 9

def test_until_converged_stops_on_a_plateau(monkeypatch, tiny):
    _scripted_validation(monkeypatch, [1.0])
    image = np.random.default_rng(0).normal(0, 1, (48, 48)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(axes="YX", method="n2v", until_converged=True, validation_every_s=1e-6,
                                         **{**tiny, "steps": None, "time_budget_s": 600}))
    final = list(run)[-1]
    assert final.best_step == 1
    assert schedule.PATIENCE < final.step < 1000  # stopped by the plateau, long before the cap

def _smooth_image(shape=(512, 512)):
    yy, xx = np.mgrid[: shape[0], : shape[1]] / 40.0
    return (np.sin(yy) * np.cos(0.7 * xx) + 0.5 * np.sin(0.3 * (xx + yy))).astype(np.float32)

class _NeighbourMean(torch.nn.Module):
    """A J-invariant denoiser: the mean of the 8 neighbours (never the pixel itself); for
    HQ-SSL also a constant prior variance `a` (softplus(a) = s_x^2)."""

    def __init__(self, prior_a=None):
        super().__init__()
        kernel = torch.ones(1, 1, 3, 3) / 8
        kernel[0, 0, 1, 1] = 0
        self.kernel, self.prior_a, self.groups = kernel, prior_a, 1

    def forward(self, x):
        mean = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.kernel)
        return mean if self.prior_a is None else torch.cat([mean, torch.full_like(mean, self.prior_a)], 1)

@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_the_quality_estimate_matches_the_true_error_on_synthetic_data(method):
    clean, sigma = _smooth_image(), 0.2
    noisy = clean + np.random.default_rng(1).normal(0, sigma, clean.shape).astype(np.float32)
    view = StackView.of(noisy, "YX")
    norm = measure_normalisation(view)
    validation = ValidationSet(view, norm, method, seed=0, sigma=sigma)
    sigma_z = sigma / norm.std[0]
    net = _NeighbourMean(prior_a=None if method == "n2v" else -2.0)
    model = SimpleNamespace(net=net, forward=net, method=method, memory_format=torch.contiguous_format,
                            noise=GaussianNoise(1, sigma=sigma_z))
    quality = validation.evaluate(model)

    z_noisy = torch.from_numpy(norm.apply(noisy[None]))[None]
    z_clean = norm.apply(clean[None])[None]
    out = net(validation.inputs if method == "n2v" else z_noisy)
    if method == "hqssl":
        out = model.noise.posterior(z_noisy, out[:, :1], F.softplus(out[:, 1:]) + 1e-6)[0]
    held = validation.held.numpy()
    true_mse = float(((out.numpy() - z_clean) ** 2)[held].mean())
    assert quality.noise_var == pytest.approx(sigma_z**2, rel=1e-6)
    assert quality.mse == pytest.approx(true_mse, rel=0.15)
    true_gain = 10 * np.log10(sigma_z**2 / true_mse)
    assert abs(quality.psnr_gain_db - true_gain) < 0.6
    low, high = quality.psnr_gain_db_interval
    assert low < true_gain < high

def test_the_noise_level_of_n2v_is_estimated_from_the_data():
    noisy = _smooth_image((512, 512)) + np.random.default_rng(2).normal(0, 0.3, (512, 512))
    level = estimate_noise_level(noisy[None, None])
    assert level.variance(noisy[None, None]).mean() == pytest.approx(0.09, rel=0.05)

def test_n2n_loss_ignores_held_out_pixels():
    from napari_blindspot.core import step

    model = SimpleNamespace(method="n2n", net=torch.nn.Identity(), forward=torch.nn.Identity())
    inputs, target = torch.zeros(1, 1, 8, 8), torch.randn(1, 1, 8, 8)
    held = torch.zeros(1, 1, 8, 8, dtype=torch.bool)
    held[0, 0, 2, 5] = True
    changed = target.clone()
    changed[0, 0, 2, 5] += 100
    assert float(step.loss(model, changed, inputs, None, held)) == pytest.approx(float(step.loss(model, target, inputs, None, held)))
    assert float(step.loss(model, changed, inputs, None)) != pytest.approx(float(step.loss(model, target, inputs, None)))

def test_n2n_estimate_takes_the_noise_level_from_the_two_recordings():
    """Photon noise (its level follows the signal, which a single-image estimate gets wrong):
    the estimate of a neighbour-mean denoiser's error still matches the truth."""
    from napari_blindspot.core.patches import Pairs

    clean = 30 + 15 * _smooth_image()
    rng = np.random.default_rng(3)
    a, b = (rng.poisson(clean).astype(np.float32) for _ in range(2))
    view = StackView.of(a, "YX")
    norm = measure_normalisation(view)
    validation = ValidationSet(view, norm, "n2n", seed=0, pairs=Pairs(StackView.of(b, "YX")))
    net = _NeighbourMean()
    quality = validation.evaluate(SimpleNamespace(net=net, forward=net, method="n2n",
                                                  memory_format=torch.contiguous_format))
    held = validation.held.numpy()
    z_clean = norm.apply(clean[None])[None]
    out = net(torch.from_numpy(norm.apply(a[None]))[None]).numpy()
    true_mse = float(((out - z_clean) ** 2)[held].mean())
    true_var = float((clean / norm.std[0] ** 2)[held[0, 0]].mean())
    assert quality.noise_var == pytest.approx(true_var, rel=0.1)
    true_gain = 10 * np.log10(true_var / true_mse)
    low, high = quality.psnr_gain_db_interval  # both recordings' noise: about 3 dB wide on 3900 pixels
    assert low < true_gain < high and abs(10 * np.log10(quality.noise_var / quality.mse) - true_gain) < 0.5

import json
import math

import pytest
import torch

from napari_blindspot.core.noise import (
    GaussianNoise,
    PoissonGaussianNoise,
    PoissonNoise,
    make_noise_model,
    posterior_mean,
    posterior_variance,
)


def _smooth_clean(shape=(4, 1, 64, 64), low=0.0, high=1.0, seed=0):
    """A smooth random field scaled to [low, high]."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    for _ in range(4):  # a few box blurs
        x = torch.nn.functional.avg_pool2d(x, 5, stride=1, padding=2, count_include_pad=False)
    x = (x - x.min()) / (x.max() - x.min())
    return low + (high - low) * x


def _fit(noise, y, mu, steps=300, lr=0.05):
    """Fit only the noise model (and one global prior variance) with mu given."""
    log_prior = torch.nn.Parameter(torch.tensor(math.log(1e-4)))
    opt = torch.optim.Adam(list(noise.parameters()) + [log_prior], lr)
    for _ in range(steps):
        opt.zero_grad()
        noise.loss(y, mu, log_prior.exp().expand_as(mu)).backward()
        opt.step()
    return noise


def _normalise(raw):
    mean, std = raw.mean(), raw.std()
    return (raw - mean) / std, mean, std


def _posterior(sigma, y, mu, prior_var):
    """(mean, variance) of a known-sigma Gaussian model's posterior, on 1x1 images of floats."""
    noise = make_noise_model("gaussian", 1, sigma=sigma)
    mean, var = noise.posterior(*(torch.as_tensor(v, dtype=torch.float32).reshape(1, 1, 1, -1)
                                  for v in (y, mu, prior_var)))
    return mean.flatten().tolist(), var.flatten().tolist()


Y, MU = [2.0, -0.5, 3.0], [-1.0, 1.5, 3.0]  # the last pixel agrees with its prior


def test_posterior_mean_is_the_noisy_pixel_when_noise_vanishes():
    mean, var = _posterior(1e-5, Y, MU, [1.0] * 3)  # s_n -> 0: the pixel is the truth
    assert mean == pytest.approx(Y, abs=1e-5) and var == pytest.approx([0.0] * 3, abs=2e-6)


def test_posterior_mean_is_the_prior_mean_when_the_prior_is_certain():
    mean, var = _posterior(1.0, Y, MU, [1e-9] * 3)  # s_x -> 0
    assert mean == pytest.approx(MU, abs=1e-6) and var == pytest.approx([0.0] * 3, abs=1e-8)


def test_posterior_mean_is_the_noisy_pixel_when_the_prior_is_uninformative():
    mean, _ = _posterior(0.5, Y, MU, [1e9] * 3)  # s_x -> infinity
    assert mean == pytest.approx(Y, abs=1e-6)


def test_posterior_of_equal_variances_is_the_average_with_half_the_variance():
    mean, var = _posterior(0.5, Y, MU, [0.25] * 3)
    assert mean == pytest.approx([0.5, 0.5, 3.0]) and var == pytest.approx([0.125] * 3)


def test_posterior_weighs_pixel_and_prior_by_the_other_ones_variance():
    # s_n^2 = 0.25, s_x^2 = 0.75: 3/4 of y, 1/4 of mu; variance 0.75 * 0.25 / 1 = 0.1875
    mean, var = _posterior(0.5, [2.0], [-2.0], [0.75])
    assert mean == pytest.approx([1.0]) and var == pytest.approx([0.1875])
    # the formulas on their own, with the variances swapped: 1/4 of y, 3/4 of mu
    assert float(posterior_mean(torch.tensor(2.0), -2.0, 0.25, 0.75)) == pytest.approx(-1.0)
    assert float(posterior_variance(torch.tensor(0.25), 0.75)) == pytest.approx(0.1875)


def test_posterior_is_returned_in_the_input_dtype():
    noise = make_noise_model("auto", 2, zero_level=torch.tensor([-1.0, -2.0]))
    y = torch.randn(1, 2, 4, 4)
    mean, var = noise.posterior(y, y.clone(), torch.ones_like(y))
    assert mean.dtype == var.dtype == torch.float32
    assert torch.all(var > 0)


def test_learned_gaussian_sigma_is_recovered():
    torch.manual_seed(0)
    sigma = 0.3
    clean = _smooth_clean(low=-1, high=1)
    y = clean + sigma * torch.randn_like(clean)
    mu = clean + 0.02 * torch.randn_like(clean)  # a good but imperfect prior mean
    noise = _fit(make_noise_model("gaussian", 1), y, mu)
    (learned,) = noise.describe(0.0, 1.0)["sigma"]
    assert learned == pytest.approx(sigma, rel=0.15)


def _regions(levels, shape=(4, 1, 64, 64), side=8, seed=0):
    """Constant 8x8 blocks, each at one of `levels`."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, len(levels), (*shape[:2], shape[2] // side, shape[3] // side), generator=g)
    return torch.tensor(levels)[idx].repeat_interleave(side, 2).repeat_interleave(side, 3)


@pytest.mark.parametrize("dark_level", [0.0, 100.0])
def test_learned_poisson_gaussian_gain_and_read_noise_are_recovered_in_input_units(dark_level):
    torch.manual_seed(0)
    gain, read_sigma = 2.0, 5.0  # ADU per photon, ADU; the dark level is not told to the model
    photons = _regions([0.0, 10.0, 20.0, 40.0, 80.0])
    raw = dark_level + gain * torch.poisson(photons) + read_sigma * torch.randn_like(photons)
    z, mean, std = _normalise(raw)
    mu = (dark_level + gain * photons - mean) / std + 0.01 * torch.randn_like(z)
    noise = _fit(make_noise_model("poisson-gaussian", 1, zero_level=-mean / std), z, mu)
    found = noise.describe(mean, std)
    assert found["gain"][0] == pytest.approx(gain, rel=0.15)
    # var_raw = gain * x + offset: at the dark level only the read noise is left
    assert math.sqrt(found["gain"][0] * dark_level + found["offset"][0]) == pytest.approx(read_sigma, rel=0.15)


def test_learned_poisson_gain_is_recovered_in_input_units():
    torch.manual_seed(0)
    gain = 3.0
    photons = _smooth_clean(low=2.0, high=100.0)
    raw = gain * torch.poisson(photons)
    z, mean, std = _normalise(raw)
    mu = (gain * photons - mean) / std + 0.01 * torch.randn_like(z)
    noise = _fit(make_noise_model("poisson", 1, zero_level=-mean / std), z, mu)
    assert noise.describe(mean, std)["gain"][0] == pytest.approx(gain, rel=0.15)


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "poisson-gaussian"])
def test_initialise_from_noisy_data_starts_near_the_truth(kind):
    torch.manual_seed(0)
    photons = _smooth_clean(low=5.0, high=150.0)
    gain = 2.0
    raw = gain * torch.poisson(photons) if kind != "gaussian" else photons + 8.0 * torch.randn_like(photons)
    z, mean, std = _normalise(raw)
    noise = make_noise_model(kind, 1, zero_level=-mean / std)
    noise.initialise_from(z)
    found = noise.describe(mean, std)
    if kind == "gaussian":
        assert found["sigma"][0] == pytest.approx(8.0, rel=0.25)
    else:
        assert found["gain"][0] == pytest.approx(gain, rel=0.25)


def test_known_sigma_is_fixed_and_not_regularised():
    noise = make_noise_model("gaussian", 2, sigma=0.25)
    assert list(noise.parameters()) == []
    y = torch.randn(1, 2, 8, 8)
    mu, prior_var = torch.zeros_like(y), torch.full_like(y, 0.5)
    total = 0.5 + 0.25 ** 2
    expected = ((y.double() ** 2) / total + math.log(total)).mean()
    assert float(noise.loss(y, mu, prior_var)) == pytest.approx(float(expected), rel=1e-9)
    assert noise.describe([10.0, 0.0], [4.0, 2.0]) == {"kind": "gaussian", "learned": False,
                                                       "sigma": pytest.approx([1.0, 0.5])}


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "poisson-gaussian", "auto"])
def test_noise_models_rebuild_from_json_config_and_state_dict(kind):
    noise = make_noise_model(kind, 2, zero_level=torch.tensor([-1.5, -0.5]))
    with torch.no_grad():
        for p in noise.parameters():
            p.add_(0.3)
    state = noise.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    rebuilt = make_noise_model(**json.loads(json.dumps(noise.config())))
    rebuilt.load_state_dict(state)
    mu = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(rebuilt.variance(mu), noise.variance(mu))


def test_noise_variance_is_positive_everywhere():
    zero = torch.tensor([-1.0])
    mu = torch.linspace(-1e3, 1e3, 101).reshape(1, 1, -1, 1)
    for kind in ("gaussian", "poisson", "poisson-gaussian"):
        assert torch.all(make_noise_model(kind, 1, zero_level=zero).variance(mu) > 0), kind


@pytest.mark.parametrize("kind", ["gaussian", "poisson", "poisson-gaussian"])
@pytest.mark.parametrize("scale", [1e-30, 1e20])
def test_loss_and_gradients_stay_finite_for_extreme_values(kind, scale):
    noise = make_noise_model(kind, 1, zero_level=torch.tensor([-1.0]))
    y = scale * torch.randn(2, 1, 8, 8)
    mu = (-y).clone().requires_grad_(True)
    prior_var = torch.full_like(y, 1e-6)
    loss = noise.loss(y, mu, prior_var)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.all(torch.isfinite(mu.grad))  # (y - mu)^2 / 1e-6 ~ 1e46 would be inf in float32


def test_unknown_kind_and_misplaced_sigma_say_what_to_do():
    with pytest.raises(ValueError, match="gaussian, poisson, poisson-gaussian, auto"):
        make_noise_model("laplace", 1)
    with pytest.raises(ValueError, match="Gaussian noise level"):
        make_noise_model("poisson", 1, zero_level=torch.zeros(1), sigma=0.1)
    with pytest.raises(ValueError, match="zero_level"):
        make_noise_model("poisson", 1)
    with pytest.raises(ValueError, match="positive"):
        make_noise_model("gaussian", 1, sigma=0.0)


def test_auto_is_poisson_gaussian():
    noise = make_noise_model("auto", 1, zero_level=torch.zeros(1))
    assert isinstance(noise, PoissonGaussianNoise)
    assert noise.config()["kind"] == "poisson-gaussian"
    assert isinstance(make_noise_model("poisson", 1, zero_level=torch.zeros(1)), PoissonNoise)
    assert isinstance(make_noise_model("gaussian", 1), GaussianNoise)


@pytest.mark.parametrize("zero", [0.0, 1e-9, -1e-9, 0.5, 40.0])
def test_poisson_gaussian_starts_finite_whatever_the_data_mean(zero):
    """zero_level = -mean/std is >= 0 for data with mean <= 0 (e.g. background-subtracted):
    the model built without `initialise_from` must still have finite parameters and loss."""
    noise = make_noise_model("poisson-gaussian", 1, zero_level=torch.tensor([zero]))
    assert all(torch.all(torch.isfinite(p)) for p in noise.parameters())
    y = torch.randn(1, 1, 8, 8)
    variance = noise.variance(y)
    assert torch.all(torch.isfinite(variance)) and torch.all(variance > 0)
    assert torch.isfinite(noise.loss(y, y, torch.full_like(y, 0.1)))

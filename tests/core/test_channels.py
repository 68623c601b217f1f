"""Axis C: one model over all channels ("joint") or one model per channel ("independent")."""

import numpy as np
import pytest

import napari_blindspot as nb
from napari_blindspot.core.config import TrainConfig



@pytest.fixture(scope="module")
def small(tiny):
    """The tiny settings with a 4-wide, one-level network and three steps."""
    return {**tiny, "steps": 3, "features": 4, "depth": 1}


def _two_channels(seed=0):
    """Channel 0 around 100, channel 1 around 2000: very different units and noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:24, 0:24]
    ch0 = 100 + 20 * np.sin(x / 3.0) + rng.normal(0, 5, (24, 24))
    ch1 = 2000 + 300 * np.cos(y / 4.0) + rng.normal(0, 80, (24, 24))
    return np.stack([ch0, ch1]).astype(np.float32)


def _trained(image, small, **config):
    run = nb.train(image, TrainConfig(axes="CYX", **small, **config))
    for _ in run:
        pass
    return run.model


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_independent_models_denoise_each_channel_from_that_channel_alone(method, small):
    """Training and prediction of channel 0 never look at channel 1: replacing channel 1 by
    anything leaves channel 0's result unchanged."""
    image = _two_channels()
    other = image.copy()
    other[1] = np.random.default_rng(5).uniform(0, 5000, other[1].shape)
    a = _trained(image, small, method=method, channels="independent")
    b = _trained(other, small, method=method, channels="independent")
    assert a.net.groups == 2
    np.testing.assert_allclose(a.predict(image)[0], b.predict(other)[0], rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(a.predict(image)[0], a.predict(other)[0], rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_a_joint_model_lets_channels_inform_each_other(method, small):
    image = _two_channels()
    other = image.copy()
    other[1] = np.random.default_rng(5).uniform(0, 5000, other[1].shape)
    model = _trained(image, small, method=method, channels="joint")
    assert model.net.groups == 1
    assert not np.allclose(model.predict(image)[0], model.predict(other)[0], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
@pytest.mark.parametrize("channels", ["joint", "independent"])
def test_each_channel_keeps_its_own_units(method, channels, small):
    image = _two_channels()
    out = _trained(image, small, method=method, channels=channels).predict(image)
    assert out.shape == image.shape and out.dtype == np.float32
    for c in range(2):
        assert abs(out[c].mean() - image[c].mean()) < image[c].std()


def test_hqssl_independent_models_learn_one_noise_level_per_channel(small):
    image = _two_channels()
    run = nb.train(image, TrainConfig(method="hqssl", axes="CYX", channels="independent", noise="gaussian",
                                      **small))
    events = list(run)
    sigma = events[-1].noise_params["sigma"]
    assert len(sigma) == 2 and sigma[1] > 5 * sigma[0]  # read in each channel's own units


def test_independent_is_harmless_on_a_single_channel_image(small):
    image = _two_channels()[0]
    joint = nb.train(image, TrainConfig(axes="YX", channels="joint", **small))
    independent = nb.train(image, TrainConfig(axes="YX", channels="independent", **small))
    assert joint.model.net.groups == independent.model.net.groups == 1
    assert joint.model.spec.network == independent.model.spec.network


def test_continuing_a_model_keeps_its_channel_layout(small):
    image = _two_channels()
    model = _trained(image, small, method="n2v", channels="independent")
    run = nb.train(image, TrainConfig(axes="CYX", method="n2v", channels="joint", **small), model=model)
    list(run)
    assert run.model.net.groups == 2


def test_an_unknown_channel_mode_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="'joint'.*'independent'"):
        TrainConfig(channels="separate")


def test_a_known_sigma_holds_in_input_units_for_every_channel(tmp_path, small):
    """sigma is in the image's units: each channel's normalised sigma uses that channel's std,
    so the noise model reports the given sigma for a dim and a bright channel alike."""
    image = _two_channels()
    run = nb.train(image, TrainConfig(axes="CYX", method="hqssl", noise="gaussian", sigma=5.0, **small))
    norm = run.model.spec.normalisation
    assert run.model.noise.describe(norm.mean, norm.std)["sigma"] == pytest.approx([5.0, 5.0])
    run.model.save(tmp_path / "m")
    loaded = nb.load_model(tmp_path / "m")
    assert loaded.noise.describe(norm.mean, norm.std)["sigma"] == pytest.approx([5.0, 5.0])


def _disjoint_spots(seed=0):
    """Channel 0 has bright spots where channel 1 is flat background, and vice versa."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:64, 0:64]
    clean = np.full((2, 64, 64), 10.0, np.float32)
    for c, centres in enumerate([[(16, 16), (48, 48)], [(16, 48), (48, 16)]]):
        for cy, cx in centres:
            clean[c] += 100 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * 3.0**2))
    return clean, clean + rng.normal(0, 5, clean.shape).astype(np.float32)


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_by_default_spots_of_one_channel_do_not_appear_in_another(method):
    """Crosstalk: the other channel's denoised background where this channel has its spots,
    over the spots' height, is below 1 %."""
    clean, noisy = _disjoint_spots()
    run = nb.train(noisy, TrainConfig(axes="CYX", method=method, steps=40, time_budget_s=None, features=8,
                                      patch_size=32, batch_size=4, preview_every_s=None, device="cpu", seed=0))
    for _ in run:
        pass
    out = run.model.predict(noisy)
    for c in range(2):
        spots = (clean[c] - 10) > 50
        background = (clean.sum(0) - 20) < 1  # both channels flat
        leak = out[1 - c][spots].mean() - out[1 - c][background].mean()
        assert abs(leak) < 0.01 * 100, f"channel {c}'s spots show in channel {1 - c} at {leak:.1f} (spots: 100)"

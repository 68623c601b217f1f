"""The method objects (core/methods/): each says every part of its method; adding one is one file."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot import _cli_faults
from napari_blindspot.core import methods
from napari_blindspot.core.config import TrainConfig
from napari_blindspot.core.data import Normalisation
from napari_blindspot.core.defaults import Settings
from napari_blindspot.core.model import Model
from napari_blindspot.core.spec import ModelSpec


def _model(name: str, ndim: int = 2, channels: int = 1) -> Model:
    """A small untrained model of method `name`, built only from what its object says."""
    method = methods.get(name)
    network = method.default_network(None, gpu=False) | {"groups": 1}
    network["depth"] = method.default_depth(network["depth"], (32,) * ndim)
    norm = Normalisation((0.0,) * channels, (1.0,) * channels)
    spec = ModelSpec(name, "ZYX"[3 - ndim:], ndim, channels, network, norm,
                     noise=method.noise_config(TrainConfig(method=name), norm))
    torch.manual_seed(0)
    return Model(spec, method.build_network(ndim, channels, network), method.build_noise(spec))


@pytest.mark.parametrize("name", methods.names())
def test_every_method_says_every_part_of_itself(name):
    method, model = methods.get(name), _model(name)
    assert method.name == name and method.label and method.citations
    assert set(model.spec.network) <= method.network_keys  # its own model files pass the spec check
    assert (model.noise is not None) == method.uses_noise_model == (model.spec.noise is not None)
    for ndim in (2, 3):
        for gpu in (False, True):
            patch, batch = method.patch_batch[ndim, gpu]
            assert len(patch) == ndim and batch >= 1
        assert len(method.patch_of_side(32, ndim)) == ndim and method.views_per_step(ndim) >= 1
    assert 0 < method.default_lr(gpu=False) < 1 and 1 <= method.default_views <= 8
    x = torch.randn(2, 2 if method.needs_pairs else 1, 32, 32)
    held = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    inputs, target, coords = method.blind_spot_input(x, torch.Generator().manual_seed(0), 1.5, held)
    assert inputs.shape == target.shape == (2, 1, 32, 32)
    model.net.train()
    value = method.loss(model, model.net(inputs), target, coords, ~held)
    assert value.dim() == 0 and torch.isfinite(value)
    model.net.eval()
    with torch.no_grad():
        z = torch.randn(1, 1, 40, 24)  # not square, not a multiple of 2**depth
        y = z.double()
        terms = method.heldout_terms(model, model.net(method.validation_inputs(z, held[:1, :, :40, :24], 0)).double(),
                                     y, torch.ones_like(y))
        assert [t.shape for t in terms] == [y.shape] * 4
        mean, _ = method.predict_view(model, z)
        # the exported graph computes what prediction computes, from the network's own code
        torch.testing.assert_close(method.export_forward(model.net, model.noise, z), mean, rtol=1e-5, atol=1e-5)


def test_an_unknown_method_is_refused_with_the_list_of_methods():
    with pytest.raises(ValueError, match="unknown method 'n3v': use one of n2v, n2v2, hqssl, n2n"):
        methods.get("n3v")
    with pytest.raises(ValueError, match="use one of n2v, n2v2, hqssl, n2n"):
        TrainConfig(method="n3v")


def test_the_memory_estimate_counts_hqssl_s_six_rotations_in_3d(monkeypatch):
    settings = Settings((32, 32, 32), 4, 2e-3, {"features": 16})
    one_view = 4 * 32**3 * 16 * _cli_faults._VALUES_PER_PIXEL_FEATURE * 4  # bytes for one view

    def run(name):
        return SimpleNamespace(settings=settings, view=SimpleNamespace(channels=1, spatial_ndim=3),
                               device=torch.device("cpu"), model=SimpleNamespace(algorithm=methods.get(name)))

    monkeypatch.setattr(_cli_faults, "available_memory", lambda: 5 * one_view)
    _cli_faults.check_batch_fits(run("n2v"))  # one view fits
    with pytest.raises(ValueError, match="needs about"):
        _cli_faults.check_batch_fits(run("hqssl"))  # six rotations do not


class _Smoothing(methods.Method):
    """A made-up method: a plain UNet fitted to the input's own pixels (no blind spot at all)."""

    name, label = "smoothing-test", "Smoothing"
    citations = (("none", "10.0000/none"),)

    def blind_spot_input(self, x, generator, mask_percent, held=None):
        return x, x, None


@pytest.fixture
def registered():
    methods.register(_Smoothing())
    yield "smoothing-test"
    methods.unregister("smoothing-test")


def test_a_method_registered_in_one_place_trains_predicts_and_reloads(registered, tmp_path):
    image = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
    run = nb.train(image, TrainConfig(method=registered, axes="YX", steps=3, time_budget_s=None, seed=0,
                                      preview_every_s=None, num_threads=1, features=8))
    events = list(run)
    assert events[-1].step == 3 and np.isfinite(events[-1].loss)
    out = run.model.predict(image, tta=False)
    assert out.shape == image.shape and np.isfinite(out).all()
    run.model.save(tmp_path / "model")
    again = nb.load_model(tmp_path / "model", device="cpu")
    assert again.method == registered
    np.testing.assert_array_equal(again.predict(image, tta=False), out)

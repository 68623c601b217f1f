import dask.array as da
import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core.lazy import predict_lazy



@pytest.fixture(scope="module")
def stack():
    return np.random.default_rng(0).normal(100, 20, (6, 40, 48)).astype(np.float32)


@pytest.fixture(scope="module")
def slice_model(stack, tiny):
    """Planes alone: each lazy chunk is one plane (test_neighbour_models.py has the neighbours')."""
    run = nb.train(stack, nb.TrainConfig(axes="ZYX", three_d=False, context_planes=0, **tiny))
    list(run)
    return run.model


def test_lazy_result_is_computed_one_plane_at_a_time_and_equals_predict(stack, slice_model, counting_array):
    source = counting_array(stack, chunks=(2, 20, 24))  # cut planes: the result still predicts whole ones
    lazy = predict_lazy(slice_model, da.from_array(source, chunks=source.chunks), "ZYX")
    assert isinstance(lazy, da.Array) and lazy.shape == stack.shape and lazy.dtype == np.float32
    assert lazy.chunks == ((1,) * 6, (40,), (48,)) and source.read == 0  # nothing read yet

    plane = lazy[4].compute()
    np.testing.assert_allclose(plane, slice_model.predict(stack[4:5], "ZYX")[0], atol=1e-5)
    assert source.read <= 2 * 40 * 48  # the source chunk holding plane 4, not the stack


def test_lazy_result_does_not_change_when_the_model_trains_on(stack, slice_model):
    before = slice_model.predict(stack[1:2], "ZYX")[0]
    lazy = predict_lazy(slice_model, stack, "ZYX")
    saved = [p.detach().clone() for p in slice_model.net.parameters()]
    with torch.no_grad():
        for p in slice_model.net.parameters():
            p.add_(0.1)
    try:
        np.testing.assert_allclose(lazy[1].compute(), before, atol=1e-5)
    finally:
        with torch.no_grad():
            for p, s in zip(slice_model.net.parameters(), saved):
                p.copy_(s)


def test_lazy_hqssl_gives_the_uncertainty_of_the_same_chunk(stack, tiny):
    run = nb.train(stack[:, :32, :32], nb.TrainConfig(method="hqssl", axes="ZYX", three_d=False, context_planes=0,
                                                      **tiny))
    list(run)
    denoised, std = predict_lazy(run.model, stack, "ZYX", return_uncertainty=True)
    assert isinstance(std, da.Array) and std.shape == stack.shape
    expected, expected_std = run.model.predict(stack[2:3], "ZYX", return_uncertainty=True)
    np.testing.assert_allclose(denoised[2].compute(), expected[0], atol=1e-4)
    np.testing.assert_allclose(std[2].compute(), expected_std[0], atol=1e-4)

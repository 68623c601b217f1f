"""Neighbour planes through the networks: blind spots kept, predictions equal however they are cut."""

import json

import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core.data import Normalisation, StackView
from napari_blindspot.core.lazy import predict_lazy
from napari_blindspot.core.model import Model, build_network, build_noise_model
from napari_blindspot.core.preview import preview_of
from napari_blindspot.core.spec import ModelSpec
from napari_blindspot.core.step import blind_spot_input
from napari_blindspot.core.window import PlaneWindow

NETWORKS = {"n2v": {"depth": 2, "features": 8, "batch_norm": False}, "n2v2": {"depth": 2, "features": 8, "batch_norm": False},
            "n2n": {"depth": 2, "features": 8, "batch_norm": False},
            "hqssl": {"depth": 2, "features": 8, "decoder_features": 8}}


def _stack(planes=7, side=32, seed=0):
    return np.random.default_rng(seed).normal(0, 1, (planes, side, side)).astype(np.float32)


def _model(method, axes, k=2, channels=1):
    spec = ModelSpec(method, axes, 2, channels, NETWORKS[method], Normalisation((0.0,) * channels, (1.0,) * channels),
                     noise={"kind": "gaussian", "sigma": None} if method == "hqssl" else None,
                     context_planes=k, context_axis="T" if "T" in axes else "Z")
    torch.manual_seed(0)
    return Model(spec, build_network(method, 2, channels, spec.network, k), build_noise_model(spec))


@pytest.mark.parametrize("axes", ["TYX", "ZYX"])
@pytest.mark.parametrize("method", ["n2v", "n2v2", "hqssl", "n2n"])
def test_output_ignores_its_own_pixel_of_the_target_plane_but_sees_it_in_the_neighbour_planes(method, axes):
    model = _model(method, axes)
    norm = Normalisation((0.0,), (1.0,))
    window = PlaneWindow(StackView.of(_stack(), axes, three_d=False), axes[0], 2, norm)
    region = (slice(0, 32), slice(0, 32))
    first = window.read(3, region)
    x = np.stack([np.concatenate([first, window.read(3, region) + 1]) if method == "n2n" else first])
    x = torch.from_numpy(x).requires_grad_()
    inputs, _, coords = blind_spot_input(model, x, torch.Generator().manual_seed(0), 1.0)
    if coords is None:
        p = (16, 16)
    else:  # a masked pixel no other masked pixel could have copied (5x5 windows)
        positions = coords[:, 1:]
        distance = (positions[:, None] - positions[None]).abs().amax(-1) + 100 * torch.eye(len(positions))
        p = tuple(int(v) for v in positions[int(torch.nonzero(distance.amin(1) > 2)[0, 0])])
    model.net.eval()
    model.net(inputs)[(0, 0) + p].backward()
    grad = x.grad[0][(slice(None),) + p]
    if method == "n2n":  # the input is one recording, the target the other: all of the target unseen
        seen, unseen = (grad[:6], grad[6:]) if torch.equal(inputs[0, 0], x[0, 0]) else (grad[6:], grad[:6])
        assert torch.all(unseen == 0) and torch.all(seen[1:5] != 0)
    else:
        assert grad[0] == 0 and torch.all(grad[1:5] != 0)  # the last channel: the border code


def _trained(stack, axes, tiny, **settings):
    run = nb.train(stack, nb.TrainConfig(axes=axes, **{**tiny, "steps": 3, **settings}))
    list(run)
    return run


@pytest.fixture(scope="module")
def t_stack():
    y, x = np.mgrid[0:40, 0:48]
    clean = np.stack([100 + 40 * np.sin(x / 5.0 + 0.2 * t) * np.cos(y / 7.0) for t in range(9)])
    return (clean + np.random.default_rng(0).normal(0, 10, clean.shape)).astype(np.float32)


@pytest.fixture(scope="module")
def hq_run(t_stack, tiny):
    return _trained(t_stack, "TYX", tiny, method="hqssl", patch_size=32)


def test_a_stack_trains_with_its_neighbour_planes_and_the_model_records_them(hq_run, tmp_path):
    spec = hq_run.model.spec
    assert (spec.context_planes, spec.context_axis) == (2, "T")
    hq_run.model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert (config["context_planes"], config["context_axis"]) == (2, "T")


def test_saved_and_loaded_models_with_neighbour_planes_predict_the_same(hq_run, t_stack, tmp_path):
    hq_run.model.save(tmp_path / "m")
    loaded = nb.load_model(tmp_path / "m", device="cpu")
    np.testing.assert_allclose(loaded.predict(t_stack), hq_run.model.predict(t_stack), atol=1e-5)


def test_models_saved_before_neighbour_planes_load_as_planes_alone(tiny, tmp_path, noisy_image):
    run = _trained(noisy_image[1], "YX", tiny)
    run.model.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    del config["context_planes"], config["context_axis"]
    path.write_text(json.dumps(config))
    assert nb.load_model(tmp_path / "m", device="cpu").spec.context_planes == 0


def test_2d_images_train_as_before_without_neighbour_planes(tiny, noisy_image):
    model = _trained(noisy_image[1], "YX", tiny).model
    assert model.spec.context_planes == 0 and model.net.down[0][0].in_channels == 1


@pytest.mark.parametrize("tile", [24, 40])
def test_tiled_prediction_reads_the_same_windows_as_the_whole(hq_run, t_stack, tile):
    whole = hq_run.model.predict(t_stack)
    tiled = hq_run.model.predict(t_stack, tile=tile)
    assert np.abs(tiled - whole).mean() < 0.1 * whole.std()  # HQ-SSL sees past the margin: seams differ a little


def test_lazy_prediction_reads_each_planes_neighbours_and_equals_predict(hq_run, t_stack, counting_array):
    import dask.array as da

    source = counting_array(t_stack, chunks=(1, 40, 48))
    lazy = predict_lazy(hq_run.model, da.from_array(source, chunks=source.chunks), "TYX")
    assert source.read == 0
    np.testing.assert_allclose(lazy[0].compute(), hq_run.model.predict(t_stack)[0], atol=1e-4)
    assert source.read <= 5 * 40 * 48  # the plane's window, not the stack
    np.testing.assert_allclose(np.asarray(lazy), hq_run.model.predict(t_stack), atol=1e-4)


def test_preview_of_a_plane_equals_its_part_of_the_whole_result(hq_run, t_stack):
    whole = hq_run.model.predict(t_stack, tta=False)
    for plane in (0, 1, 4, 8):
        preview = preview_of(hq_run.model, t_stack, "TYX", (plane, slice(0, 40), slice(0, 48)))
        np.testing.assert_allclose(preview, whole[plane], atol=1e-4)


def test_z_stacks_sliced_in_2d_use_their_z_planes(t_stack, tiny):
    run = _trained(t_stack, "ZYX", tiny, three_d=False)
    assert (run.model.spec.context_planes, run.model.spec.context_axis) == (2, "Z")
    lazy = predict_lazy(run.model, t_stack, "ZYX")
    np.testing.assert_allclose(np.asarray(lazy[7]), run.model.predict(t_stack)[7], atol=1e-4)


def test_n2n_pairs_read_both_recordings_windows(t_stack, tiny):
    second = t_stack + np.random.default_rng(1).normal(0, 10, t_stack.shape).astype(np.float32)
    run = nb.train(t_stack, nb.TrainConfig(method="n2n", axes="TYX", **{**tiny, "steps": 3}), target=second)
    list(run)
    assert run.model.spec.context_planes == 2
    both = run.model.predict(t_stack, second=second)
    assert both.shape == t_stack.shape and np.isfinite(both).all()


def test_n2n_on_frames_that_are_repeats_never_sees_the_frame_it_learns(t_stack, tiny):
    run = nb.train(t_stack, nb.TrainConfig(method="n2n", axes="TYX", frames_are_repeats=True, **tiny))
    assert run.context.k == 0


def test_the_first_and_last_planes_gain_from_their_mirrored_neighbours_too(tiny):
    """They have half as many distinct neighbours as the middle (plane -1 of plane 0 is plane 1),
    so they gain less, but a leak or a misread end would make them worse than planes alone."""
    y, x = np.mgrid[0:64, 0:64]
    clean = np.stack([100 + 40 * np.sin(x / 6.0 + 0.1 * t) * np.cos(y / 8.0) for t in range(9)]).astype(np.float32)
    noisy = clean + np.random.default_rng(0).normal(0, 20, clean.shape).astype(np.float32)
    errors = {}
    for k in (0, 2):
        run = nb.train(noisy, nb.TrainConfig(method="n2v", axes="TYX", context_planes=k,
                                             **{**tiny, "steps": 150, "batch_size": 4, "patch_size": 32}))
        list(run)
        errors[k] = ((run.model.predict(noisy, tta=False) - clean) ** 2).mean(axis=(1, 2))
    assert np.median(errors[2][2:-2]) < 0.7 * np.median(errors[0][2:-2])  # the neighbours help
    assert errors[2][0] < errors[0][0] and errors[2][-1] < errors[0][-1], errors

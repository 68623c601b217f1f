import dask.array as da
import numpy as np
import pytest

from napari_blindspot.core.patches import PatchSampler
from napari_blindspot.core.data import (StackView, axes_from_names, choose_three_d, guess_axes,
                                        measure_normalisation, validate_axes, validate_scale)


@pytest.mark.parametrize("shape, axes", [((64, 64), "YX"), ((10, 64, 64), "TYX"), ((3, 64, 64), "CYX"),
                                         ((5, 10, 64, 64), "TZYX"), ((5, 2, 10, 64, 64), "TCZYX")])
def test_guessed_axes_are_valid(shape, axes):
    assert guess_axes(shape) == axes
    assert validate_axes(axes.lower(), shape) == axes


@pytest.mark.parametrize("shape", [(10, 64, 64), (200, 512, 512), (3, 20, 20)])
def test_an_unknown_leading_axis_is_taken_as_frames_not_as_z(shape):
    # a time-lapse trained as a volume mixes its frames; frames trained as samples lose nothing
    assert guess_axes(shape) == "TYX"
    assert guess_axes(shape, (1.0, 1.0, 1.0)) == "TYX"  # napari's default scale says nothing


@pytest.mark.parametrize("names, axes", [(("t", "y", "x"), "TYX"), (("Z", "Y", "X"), "ZYX"),
                                         (("time", "channel", "y", "x"), "TCYX"), (("c", "z", "y", "x"), "CZYX")])
def test_axis_names_give_the_axes(names, axes):
    assert axes_from_names(names) == axes


@pytest.mark.parametrize("names", [("-3", "-2", "-1"), ("axis 0", "y", "x"), ("y", "y", "x"), ()])
def test_meaningless_axis_names_give_no_axes(names):
    assert axes_from_names(names) is None


@pytest.mark.parametrize("shape, scale, axes", [
    ((3, 64, 64), None, "CYX"), ((3, 64, 64), (1.0, 0.2, 0.2), "CYX"),  # spacing 1: channels or unknown
    ((3, 64, 64), (2.0, 0.2, 0.2), "ZYX"),  # a physical step: a short Z stack, not channels
    ((2, 10, 64, 64), (1.0, 1.0, 1.0, 1.0), "CZYX"), ((2, 10, 64, 64), (30.0, 2.0, 1.0, 1.0), "TZYX"),
    ((10, 64, 64), (4.0, 1.0, 1.0), "ZYX"),
])
def test_a_physical_spacing_on_a_short_leading_axis_makes_it_z_or_t_not_channels(shape, scale, axes):
    assert guess_axes(shape, scale) == axes


@pytest.mark.parametrize("axes, shape, scale, three_d, words", [
    ("ZYX", (32, 64, 64), (1.0, 1.0, 1.0), True, "1.0x the pixel size: trained in 3D"),  # isotropic
    ("ZYX", (32, 64, 64), (0.6, 0.2, 0.2), True, "3.0x"),  # at the threshold: still 3D
    ("ZYX", (32, 64, 64), (1.0, 0.2, 0.2), False, "5.0x the pixel size: trained slice by slice in 2D"),
    ("ZYX", (8, 64, 64), (1.0, 1.0, 1.0), False, "only 8 Z planes"),  # too few planes for 3D patches
    ("TZYX", (3, 20, 64, 64), None, True, "voxel size unknown"),
    ("YXZ", (64, 64, 20), (0.1, 0.1, 0.5), False, "5.0x"),  # Z found wherever it is
    ("TYX", (20, 64, 64), (1.0, 1.0, 1.0), False, "no Z axis"),
])
def test_z_is_trained_in_3d_only_when_voxels_are_near_isotropic_and_deep_enough(axes, shape, scale, three_d, words):
    chosen, reason = choose_three_d(axes, shape, scale)
    assert chosen is three_d and words in reason


def test_on_the_cpu_near_isotropic_stacks_are_still_trained_slice_by_slice():
    chosen, reason = choose_three_d("ZYX", (32, 64, 64), (1.0, 1.0, 1.0), gpu=False)
    assert chosen is False and "on the CPU" in reason
    assert choose_three_d("ZYX", (32, 64, 64), (1.0, 1.0, 1.0), gpu=True)[0] is True


@pytest.mark.parametrize("scale, message", [((1.0, 0.0, 1.0), "positive"), ((1.0, float("nan"), 1.0), "finite"),
                                            ((1.0, 1.0), "one spacing per axis"), ("abc", "one number per")])
def test_bad_scales_are_refused_with_advice(scale, message):
    with pytest.raises(ValueError, match=message):
        validate_scale(scale, ndim=3)


@pytest.mark.parametrize("axes, shape, message", [
    ("YX", (3, 64, 64), "do not match"), ("ZQX", (3, 64, 64), "unknown letter"),
    ("YYX", (3, 64, 64), "repeat"), ("ZCY", (3, 4, 64), "must contain Y and X"),
])
def test_bad_axes_say_what_would_fit(axes, shape, message):
    with pytest.raises(ValueError, match=message):
        validate_axes(axes, shape)


@pytest.mark.parametrize("axes, shape, three_d, canonical", [
    ("YX", (20, 30), None, (1, 20, 30)),
    ("CYX", (2, 20, 30), None, (2, 20, 30)),
    ("ZYX", (6, 20, 30), None, (1, 6, 20, 30)),
    ("ZYX", (6, 20, 30), False, (6, 1, 20, 30)),
    ("YXC", (20, 30, 3), None, (3, 20, 30)),
    ("TCZYX", (4, 2, 6, 20, 30), None, (4, 2, 6, 20, 30)),
    ("ZTYX", (6, 4, 20, 30), False, (4, 6, 1, 20, 30)),
])
def test_view_reorders_to_samples_channel_spatial_and_back(axes, shape, three_d, canonical):
    image = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    view = StackView.of(image, axes, three_d=three_d)
    assert view.array.shape == canonical
    assert np.shares_memory(view.array, image)  # no copy
    assert np.array_equal(view.to_user_layout(np.asarray(view.array)), image)


def test_normalisation_round_trips_per_channel():
    rng = np.random.default_rng(0)
    image = np.stack([rng.normal(10, 2, (32, 32)), rng.normal(-5, 7, (32, 32))]).astype(np.float32)
    view = StackView.of(image, "CYX")
    norm = measure_normalisation(view)
    z = norm.apply(image, channel_axis=0)
    assert np.allclose(z.mean(axis=(1, 2)), 0, atol=1e-5) and np.allclose(z.std(axis=(1, 2)), 1, atol=1e-4)
    assert np.allclose(norm.undo(z, channel_axis=0), image, atol=1e-4)


@pytest.mark.parametrize("bad, message", [(np.nan, "NaN or Inf"), (np.inf, "NaN or Inf")])
def test_non_finite_images_are_refused(bad, message):
    image = np.ones((16, 16), np.float32)
    image[3, 3] = bad
    with pytest.raises(ValueError, match=message):
        measure_normalisation(StackView.of(image, "YX"))


def test_constant_image_is_refused():
    with pytest.raises(ValueError, match="constant"):
        measure_normalisation(StackView.of(np.full((16, 16), 7.0), "YX"))


def test_patches_have_the_right_shape_and_are_augmented_copies_of_the_image():
    image = np.random.default_rng(0).normal(size=(2, 40, 50)).astype(np.float32)
    view = StackView.of(image, "ZYX", three_d=False)
    norm = measure_normalisation(view)
    batch = PatchSampler(view, norm, (16, 16), seed=0).batch(6)
    assert batch.shape == (6, 1, 16, 16) and batch.dtype == np.float32
    z = norm.apply(image[:, None], channel_axis=1)[:, 0]
    windows = np.lib.stride_tricks.sliding_window_view(z, (16, 16), axis=(1, 2)).reshape(-1, 256)
    windows = np.sort(windows, axis=1)
    for patch in batch:  # flips and rotations keep the values: some window has exactly them
        assert np.isclose(windows, np.sort(patch.ravel())).all(axis=1).any()


def test_patch_larger_than_image_is_refused_with_advice():
    image = np.zeros((20, 30), np.float32)
    view = StackView.of(image, "YX")
    with pytest.raises(ValueError, match="patch size of at most 20"):
        PatchSampler(view, measure_normalisation(StackView.of(np.random.rand(20, 30), "YX")), (32, 32), 0)


def test_sampling_is_reproducible_for_a_seed():
    image = np.random.default_rng(1).normal(size=(64, 64)).astype(np.float32)
    view = StackView.of(image, "YX")
    norm = measure_normalisation(view)
    a = PatchSampler(view, norm, (16, 16), seed=3).batch(4)
    b = PatchSampler(view, norm, (16, 16), seed=3).batch(4)
    assert np.array_equal(a, b)


def test_lazy_stack_is_read_in_blocks_not_whole(counting_array):
    big = np.random.default_rng(0).normal(size=(200, 64, 64)).astype(np.float32)
    source = counting_array(big, chunks=(1, 64, 64))
    view = StackView.of(da.from_array(source, chunks=(1, 64, 64)), "ZYX", three_d=False)
    norm = measure_normalisation(view, max_values=64 * 64 * 8)
    sampler = PatchSampler(view, norm, (16, 16), seed=0, cache_blocks=4, refresh_every=5)
    for _ in range(20):
        sampler.batch(8)
    assert 0 < source.read < big.size / 4

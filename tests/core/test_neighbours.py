"""Neighbour planes as context: reading windows, choosing k, and the shared-noise guard."""

import numpy as np
import pytest
import torch

from napari_blindspot.core.data import Normalisation, StackView
from napari_blindspot.core.heldout import ValidationSet
from napari_blindspot.core.neighbours import choose_context, shared_noise
from napari_blindspot.core.patches import PatchSampler
from napari_blindspot.core.predict import predict_tiled
from napari_blindspot.core.window import PlaneWindow, border_code, window_planes

IDENTITY = Normalisation((0.0,), (1.0,))


def _planes_stack(planes=7, side=40):
    """Plane t holds 1000 t plus a pattern that tells every pixel apart."""
    y, x = np.mgrid[0:side, 0:side]
    return np.stack([1000.0 * t + y * side + x for t in range(planes)]).astype(np.float32)


def test_window_mirrors_about_the_target_and_never_reads_the_target_as_its_neighbour():
    assert window_planes(0, 7, 2) == (0, 2, 1, 1, 2)
    assert window_planes(3, 7, 2) == (3, 1, 2, 4, 5)
    assert window_planes(6, 7, 2) == (6, 4, 5, 5, 4)
    for planes in range(5, 9):
        for plane in range(planes):
            window = window_planes(plane, planes, 2)
            assert plane not in window[1:] and all(0 <= p < planes for p in window)


def test_window_read_puts_the_target_plane_first_then_its_neighbours():
    stack = _planes_stack()
    window = PlaneWindow(StackView.of(stack, "TYX"), "T", 2, IDENTITY)
    block = window.read(1, (slice(5, 9), slice(0, 4)))
    assert block.shape == (6, 4, 4) and window.channels == 1 and window.window_channels == 6
    assert [int(b[0, 0] // 1000) for b in block[:5]] == [1, 3, 0, 2, 3]  # plane -1 of plane 1 is plane 3
    np.testing.assert_array_equal(block[0], stack[1, 5:9, 0:4])
    assert np.all(block[5] == 0.5)  # one of two neighbours on the start's side mirrored


def test_the_border_code_says_how_far_and_on_which_side_the_window_is_mirrored():
    codes = [border_code(window_planes(t, 9, 2), 2) for t in range(9)]
    assert codes == [1.0, 0.5, 0, 0, 0, 0, 0, -0.5, -1.0]
    assert border_code(window_planes(4, 9, 2, border=(-1, 0)), 2) == 1.0  # read as if it were plane 0


def test_a_narrowed_window_predicts_its_planes_with_the_whole_stacks_neighbours():
    stack = _planes_stack()
    whole = PlaneWindow(StackView.of(stack, "TYX"), "T", 2, IDENTITY)
    narrowed = PlaneWindow(StackView.of(stack, "TYX"), "T", 2, IDENTITY, planes=(5, 7))
    assert narrowed.sample_shape == (2,)
    region = (slice(0, 8), slice(0, 8))
    np.testing.assert_array_equal(narrowed.read(1, region), whole.read(6, region))


def test_patches_carry_their_neighbour_planes_transformed_alike_and_held_out_pixels_of_the_target():
    stack = _planes_stack(planes=9)
    sampler = PatchSampler(PlaneWindow(StackView.of(stack, "TYX"), "T", 2, IDENTITY), IDENTITY, (16, 16), seed=3)
    patches, held = sampler.batch_and_heldout(8)
    assert patches.shape == (8, 6, 16, 16) and held.shape == (8, 1, 16, 16)
    # every plane of a patch is the target's crop, flipped and turned alike: only the plane offset differs
    offsets = patches[:, 1:5] - patches[:, :1]
    assert np.all(offsets == offsets[:, :, :1, :1]) and np.all(offsets % 1000 == 0) and np.any(offsets != 0)


def test_lazy_stacks_give_the_same_windows_through_the_block_cache():
    import dask.array as da

    stack = _planes_stack(planes=9)
    lazy = da.from_array(stack, chunks=(1, 20, 20))
    sampler = PatchSampler(PlaneWindow(StackView.of(lazy, "TYX"), "T", 1, IDENTITY), IDENTITY, (16, 16), seed=0, cache_blocks=2)
    patches = sampler.batch(4)
    offsets = patches[:, 1:3] - patches[:, :1]
    assert patches.shape == (4, 4, 16, 16) and np.all(offsets == offsets[:, :, :1, :1])


def test_validation_tiles_hold_the_window_and_n2v_hides_only_the_target_planes_pixels():
    stack = np.random.default_rng(0).normal(100, 10, (6, 64, 64)).astype(np.float32)
    norm = Normalisation((100.0,), (10.0,))
    validation = ValidationSet(PlaneWindow(StackView.of(stack, "TYX"), "T", 1, norm), norm, "n2v")
    unmasked = ValidationSet(PlaneWindow(StackView.of(stack, "TYX"), "T", 1, norm), norm, "hqssl")
    assert validation.inputs.shape[1] == 4 and validation.targets.shape[1] == 1
    torch.testing.assert_close(validation.targets, ValidationSet(StackView.of(stack, "TYX"), norm, "n2v").targets)
    held = validation.held[:, 0]
    assert not torch.equal(validation.inputs[:, 0][held], validation.targets[:, 0][held])  # hidden
    # the neighbours keep their values at the hidden positions: their noise is not the target's
    torch.testing.assert_close(validation.inputs[:, 1:], unmasked.inputs[:, 1:])


def test_tiled_prediction_of_a_window_sees_each_tiles_neighbour_planes():
    stack = _planes_stack(planes=6, side=50)
    window = PlaneWindow(StackView.of(stack, "TYX"), "T", 2, IDENTITY)
    out = np.zeros((6, 1, 50, 50), np.float32)
    # a stand-in network: the mean of the neighbour planes (the target's channel left out)
    predict_tiled(window, lambda raw: [raw[:, 1:5].mean(axis=1, keepdims=True)], [out], (24, 24), (4, 4))
    expected = np.stack([stack[list(window_planes(t, 6, 2)[1:])].mean(0) for t in range(6)])
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-6)


# -- choosing k ----------------------------------------------------------------------------


def _cells(planes=16, side=96, seed=0, drift=0.5):
    """Smooth blobs drifting slowly from plane to plane, in photons (10 to ~60)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side]
    centres = rng.uniform(0, side, (25, 2))
    return np.stack([10 + 50 * sum(np.exp(-((y - cy - drift * t) ** 2 + (x - cx) ** 2) / 50.0) for cy, cx in centres)
                     for t in range(planes)])


def _poisson(clean, seed=1):
    return np.random.default_rng(seed).poisson(clean).astype(np.float32)


def test_stacks_get_two_planes_on_each_side_short_ones_fewer_and_2d_images_none():
    view = StackView.of(_poisson(_cells(16)), "TYX")
    context = choose_context(view, None, three_d=False)
    assert (context.k, context.axis, context.reason) == (2, "T", "T: 2 planes on each side")
    assert choose_context(StackView.of(_poisson(_cells(4)), "TYX"), None, three_d=False).k == 1
    assert choose_context(StackView.of(_poisson(_cells(16)), "ZYX", three_d=False), None, three_d=False).axis == "Z"
    assert choose_context(StackView.of(_poisson(_cells(16)[0]), "YX"), None, three_d=False).k == 0
    assert choose_context(StackView.of(_poisson(_cells(16)), "ZYX", three_d=True), None, three_d=True).k == 0
    assert choose_context(view, 0, three_d=False).k == 0


def test_asking_for_more_planes_than_the_stack_has_says_how_many_fit():
    with pytest.raises(ValueError, match="at most 1"):
        choose_context(StackView.of(_poisson(_cells(4)), "TYX"), 2, three_d=False)
    with pytest.raises(ValueError, match="use 0 neighbour planes"):
        choose_context(StackView.of(_poisson(_cells(4)[0]), "YX"), 1, three_d=False)


def test_independent_noise_between_planes_is_not_taken_for_a_shared_pattern():
    for seed in range(3):
        assert abs(shared_noise(_poisson(_cells(6, side=128, seed=seed), seed))) < 0.1


@pytest.mark.parametrize("pattern", ["fixed pattern", "row offsets", "repeated frames"])
def test_noise_shared_between_planes_turns_the_neighbours_off_and_says_why(pattern):
    clean = _cells(16, side=128)
    rng = np.random.default_rng(5)
    noisy = _poisson(clean)
    if pattern == "fixed pattern":  # a camera's per-pixel offsets, about half the shot noise's variance
        noisy = noisy + rng.normal(0, 3, clean.shape[1:])
    elif pattern == "row offsets":
        noisy = noisy + rng.normal(0, 3, (clean.shape[1], 1))
    else:
        noisy = np.repeat(noisy[::2], 2, axis=0)
    context = choose_context(StackView.of(noisy.astype(np.float32), "TYX"), None, three_d=False)
    assert context.k == 0 and context.warning
    assert "share" in context.reason and "without neighbour planes" in context.reason

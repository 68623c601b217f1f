"""Property-based tests (hypothesis) over random shapes: axes parsing, patch sampling, tiling.

Each property is checked on a few dozen small, derandomized examples, so the file runs in
seconds and fails the same way on every machine.
"""

import math
import re
import string

import dask.array as da
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_blindspot.core.data import (
    AXES_LETTERS,
    StackView,
    guess_axes,
    measure_normalisation,
    validate_axes,
)
from napari_blindspot.core.patches import PatchSampler
from napari_blindspot.core.predict import (
    plan_tiles,
    predict_tiled,
    tile_grid,
)

FAST = settings(max_examples=40, deadline=None, derandomize=True)
SLOW = settings(max_examples=15, deadline=None, derandomize=True)  # examples that train or convolve

shapes = st.lists(st.integers(1, 80), min_size=2, max_size=6).map(tuple)
UNKNOWN_LETTERS = "".join(c for c in string.ascii_letters if c.upper() not in AXES_LETTERS)


# -- axes -----------------------------------------------------------------------------------


@FAST
@given(shape=shapes, data=st.data())
def test_guessed_axes_always_validate_against_the_shape(shape, data):
    scale = data.draw(st.none() | st.lists(st.floats(0.1, 10), min_size=len(shape), max_size=len(shape)))
    axes = guess_axes(shape, scale)
    assert validate_axes(axes, shape) == axes
    assert validate_axes(axes.lower(), shape) == axes
    assert axes.endswith("YX")


@FAST
@given(shape=st.lists(st.integers(1, 9), min_size=0, max_size=9).map(tuple).filter(lambda s: not 2 <= len(s) <= 6))
def test_guessing_refuses_fewer_than_2_or_more_than_6_dimensions(shape):
    with pytest.raises(ValueError, match="2 to 6 dimensions"):
        guess_axes(shape)


@FAST
@given(shape=shapes, data=st.data())
def test_axes_of_the_wrong_length_are_refused_with_the_shape_in_the_message(shape, data):
    length = data.draw(st.integers(1, 6).filter(lambda n: n != len(shape)))
    axes = "".join(data.draw(st.permutations(AXES_LETTERS)))[:length]
    with pytest.raises(ValueError, match="do not match") as err:
        validate_axes(axes, shape)
    assert str(tuple(shape)) in str(err.value) and f"'{axes}'" in str(err.value)


@FAST
@given(shape=shapes, data=st.data())
def test_axes_with_an_unknown_letter_are_refused_naming_it(shape, data):
    axes = list(guess_axes(shape))
    letter = data.draw(st.sampled_from(UNKNOWN_LETTERS))
    axes[data.draw(st.integers(0, len(axes) - 1))] = letter
    with pytest.raises(ValueError, match="unknown letter") as err:
        validate_axes("".join(axes), shape)
    assert re.search(r"unknown letter\(s\) (\S+):", str(err.value)).group(1) == letter.upper()


@FAST
@given(shape=shapes, data=st.data())
def test_axes_that_repeat_a_letter_are_refused(shape, data):
    axes = list(guess_axes(shape))
    i, j = data.draw(st.lists(st.integers(0, len(axes) - 1), min_size=2, max_size=2, unique=True))
    axes[i] = axes[j]
    with pytest.raises(ValueError, match="repeat a letter"):
        validate_axes("".join(axes), shape)


# -- random layouts: sample axes, channels, 2D or 3D, in any user order ---------------------


@st.composite
def layouts(draw, max_side=20, max_depth=8):
    """(user axes, shape, three_d) with Y and X, optional S/T/C/Z, in a random order."""
    extra = draw(st.lists(st.sampled_from("STCZ"), unique=True, max_size=2))
    axes = "".join(draw(st.permutations(extra + ["Y", "X"])))
    three_d = "Z" in axes and draw(st.booleans())
    sides = {"S": st.integers(1, 3), "T": st.integers(1, 3), "C": st.integers(1, 3),
             "Z": st.integers(4, max_depth) if three_d else st.integers(1, 3),
             "Y": st.integers(4, max_side), "X": st.integers(4, max_side)}
    shape = tuple(draw(sides[a]) for a in axes)
    return axes, shape, three_d


def _positions_by_value(canonical: np.ndarray, n_sample_axes: int):
    """For each channel: (sorted values, index in the channel's flat array) of the image."""
    lookup = []
    for c in range(canonical.shape[n_sample_axes]):
        flat = np.take(canonical, c, axis=n_sample_axes).ravel()
        order = np.argsort(flat, kind="stable")
        lookup.append((flat[order], order))
    return lookup


# -- patch sampling -------------------------------------------------------------------------


@SLOW
@given(layout=layouts(), lazy=st.booleans(), dtype=st.sampled_from(["uint16", "float32", "float64"]), data=st.data())
def test_patches_are_windows_of_the_normalised_image(layout, lazy, dtype, data):
    """Every patch has the requested shape, is float32, and each of its pixels is a pixel of
    the normalised image: all channels from one sample, one box of exactly the patch's size,
    and neighbours stay neighbours (flipped or rotated, never resampled, wrapped or mixed)."""
    axes, shape, three_d = layout
    # distinct values everywhere, so that each patch value points back to one image pixel
    raw = np.random.default_rng(0).permutation(math.prod(shape)).reshape(shape).astype(dtype)
    view = StackView.of(da.from_array(raw, chunks=5) if lazy else raw, axes, three_d=three_d)
    norm = measure_normalisation(view)
    patch = tuple(data.draw(st.integers(1, s)) for s in view.spatial_shape)
    batch = PatchSampler(view, norm, patch, seed=data.draw(st.integers(0, 99)), cache_blocks=4).batch(3)

    assert batch.shape == (3, view.channels, *patch) and batch.dtype == np.float32
    canonical = norm.apply(np.asarray(view.array, np.float32), channel_axis=view.n_sample_axes)
    per_channel = _positions_by_value(canonical, view.n_sample_axes)
    channel_shape = np.take(canonical, 0, axis=view.n_sample_axes).shape
    for item in batch:
        flat = []
        for c, (values, where) in enumerate(per_channel):
            found = np.searchsorted(values, item[c].ravel())
            assert np.array_equal(values[np.minimum(found, len(values) - 1)], item[c].ravel())
            flat.append(where[found])
        assert all(np.array_equal(f, flat[0]) for f in flat)  # channels stay aligned
        coords = np.unravel_index(flat[0], channel_shape)
        for sample_coord in coords[: view.n_sample_axes]:
            assert len(set(sample_coord)) == 1  # one sample per patch
        spatial = np.stack(coords[view.n_sample_axes:]).reshape(len(patch), *patch)
        assert tuple(int(c.max() - c.min()) + 1 for c in spatial) == patch  # one box of the patch's size
        for axis, side in enumerate(patch):  # a step along a patch axis is one fixed unit step in the image
            steps = np.moveaxis(np.diff(spatial, axis=1 + axis), 0, -1).reshape(-1, len(patch))
            if side > 1:
                assert (steps == steps[0]).all() and np.abs(steps[0]).sum() == 1


# -- tiling ---------------------------------------------------------------------------------


@FAST
@given(size=st.integers(1, 300), tile=st.integers(1, 100), margin=st.integers(0, 40))
def test_tile_writes_partition_each_axis_and_keep_their_context(size, tile, margin):
    if size > tile and tile <= 2 * margin:
        with pytest.raises(ValueError, match="twice the overlap margin"):
            tile_grid(size, tile, margin)
        return
    covered = np.zeros(size, int)
    for r0, r1, w0, w1 in tile_grid(size, tile, margin):
        covered[w0:w1] += 1
        assert 0 <= r0 <= w0 < w1 <= r1 <= size and r1 - r0 == min(tile, size)
        assert w0 == 0 or w0 - r0 >= margin
        assert w1 == size or r1 - w1 >= margin
    assert (covered == 1).all()


@st.composite
def tiled_layouts(draw):
    """A layout with a tile and margin per spatial axis (tile > 2 * margin, margin >= 2)."""
    axes, shape, three_d = draw(layouts(max_side=40, max_depth=12))
    view = StackView.of(np.zeros(shape, np.float32), axes, three_d=three_d)
    margin = tuple(draw(st.integers(2, 4)) for _ in view.spatial_shape)
    tile = tuple(draw(st.integers(2 * m + 1, 2 * m + 16)) for m in margin)
    return axes, shape, three_d, tile, margin


@FAST
@given(layout=tiled_layouts(), batch_size=st.integers(1, 6))
def test_planned_tiles_write_every_pixel_of_every_sample_exactly_once(layout, batch_size):
    axes, shape, three_d, tile, margin = layout
    view = StackView.of(np.zeros(shape, np.float32), axes, three_d=three_d)
    covered = np.zeros((view.n_samples, *view.spatial_shape), int)
    for group in plan_tiles(view, tile, margin, batch_size):
        assert 1 <= len(group.tiles) <= batch_size
        for read, write, inner in group.tiles:
            covered[(group.sample,) + write] += 1
            assert all(r.start <= w.start and w.stop <= r.stop for r, w in zip(read, write))
            assert all(i.stop - i.start == w.stop - w.start for i, w in zip(inner, write))
    assert (covered == 1).all()


def _box_sum(x: np.ndarray) -> np.ndarray:
    """A local operator with radius 1: the 3x3 (3x3x3) neighbourhood sum, zero outside, squared."""
    spatial = x.ndim - 2
    padded = np.pad(x, [(0, 0), (0, 0)] + [(1, 1)] * spatial)
    out = np.zeros_like(x, dtype=np.float64)
    for offset in np.ndindex(*(3,) * spatial):
        out += padded[(slice(None), slice(None)) + tuple(slice(o, o + s) for o, s in zip(offset, x.shape[2:]))]
    return out ** 2


def _tiny_network(channels: int, spatial: int) -> torch.nn.Module:
    """Two seeded 3x3 convolutions (receptive radius 2), zero padding as in our UNets."""
    conv = torch.nn.Conv3d if spatial == 3 else torch.nn.Conv2d
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = torch.nn.Sequential(conv(channels, 4, 3, padding=1), torch.nn.LeakyReLU(0.1),
                                  conv(4, channels, 3, padding=1))
    return net.eval()


def _canonical(view: StackView) -> np.ndarray:
    return np.asarray(view.array, np.float32).reshape(view.n_samples, view.channels, *view.spatial_shape)


@SLOW
@given(layout=tiled_layouts(), batch_size=st.integers(1, 4))
def test_tiled_local_operator_equals_the_untiled_one_everywhere(layout, batch_size):
    axes, shape, three_d, tile, margin = layout
    image = np.random.default_rng(1).normal(0, 1, shape).astype(np.float32)
    view = StackView.of(image, axes, three_d=three_d)
    outputs = [np.full(view.array.shape, np.nan), np.full(view.array.shape, np.nan)]
    predict_tiled(view, lambda b: [_box_sum(b), -b], outputs, tile, margin, batch_size)

    expected = _box_sum(_canonical(view)).reshape(view.array.shape)
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-12, atol=0)  # also shows every pixel was written
    np.testing.assert_array_equal(outputs[1], -np.asarray(view.array))
    assert np.array_equal(view.to_user_layout(-outputs[1]), image)


@SLOW
@given(layout=tiled_layouts(), batch_size=st.integers(1, 4))
def test_tiled_network_equals_the_untiled_network(layout, batch_size):
    axes, shape, three_d, tile, margin = layout
    image = np.random.default_rng(2).normal(0, 1, shape).astype(np.float32)
    view = StackView.of(image, axes, three_d=three_d)
    net = _tiny_network(view.channels, view.spatial_ndim)

    @torch.no_grad()
    def predict_batch(batch):
        return [net(torch.from_numpy(batch)).numpy()]

    out = np.full(view.array.shape, np.nan, np.float32)
    predict_tiled(view, predict_batch, [out], tile, margin, batch_size)
    whole = predict_batch(_canonical(view))[0].reshape(view.array.shape)
    np.testing.assert_allclose(out, whole, rtol=0, atol=1e-5)

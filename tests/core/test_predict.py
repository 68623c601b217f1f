import numpy as np
import pytest
import zarr

import napari_blindspot as nb
from napari_blindspot.core import preview
from napari_blindspot.core.predict import iter_tiles


# tile_grid on one axis: tests/test_properties.py, test_tile_writes_partition_each_axis_and_keep_their_context


def test_tiles_cover_every_pixel_once_in_3d():
    covered = np.zeros((20, 50, 70), int)
    for _, write, _ in iter_tiles(covered.shape, (8, 32, 32), (2, 4, 4)):
        covered[write] += 1
    assert (covered == 1).all()


@pytest.fixture(scope="module")
def tiny_model(tiny):
    """A model whose output has structure (a pattern and a disc, different per plane) to compare."""
    rng = np.random.default_rng(0)
    z, y, x = np.mgrid[0:2, 0:96, 0:80]
    clean = 100 + 40 * np.sin(x / 5.0 + z) * np.cos(y / 7.0) + 30 * (((y - 30) ** 2 + (x - 50) ** 2) < 100)
    image = (clean + rng.normal(0, 10, clean.shape)).astype(np.float32)
    run = nb.train(image, nb.TrainConfig(axes="ZYX", three_d=False, **{**tiny, "steps": 20}))
    for _ in run:
        pass
    return run.model, image, clean


@pytest.mark.parametrize("tile", [48, 40])
def test_tiled_prediction_matches_untiled(tiny_model, tile):
    model, image, clean = tiny_model
    whole = model.predict(image, tile=512)
    assert np.corrcoef(whole.ravel(), clean.ravel())[0, 1] > 0.8  # there is structure to misplace
    tiled = model.predict(image, tile=tile)
    assert tiled.shape == image.shape and tiled.dtype == np.float32
    # the UNet sees further than the margin, so tiles differ slightly near their seams; a block
    # written one pixel off would differ by as much as the output changes from pixel to pixel
    tolerance = 0.1 * whole.std()
    assert np.abs(np.diff(whole, axis=-1)).max() > 5 * tolerance
    difference = np.abs(tiled - whole)
    assert difference.max() < tolerance and difference.mean() < 0.01 * whole.std()


def test_prediction_writes_into_a_zarr_array_in_the_users_layout(tiny_model, tmp_path):
    model, image, _ = tiny_model
    expected = model.predict(image)
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="w", shape=image.shape, dtype="f4", chunks=(1, 48, 48))
    model.predict(image, out=out)
    assert np.allclose(out[...], expected, atol=1e-5)


def test_prediction_handles_axes_in_any_order(tiny_model):
    model, image, _ = tiny_model
    moved = np.ascontiguousarray(np.moveaxis(image, 0, -1))  # YXZ
    assert np.allclose(model.predict(moved, "YXZ"), np.moveaxis(model.predict(image), 0, -1), atol=1e-5)


def test_wrong_channel_count_is_refused(tiny_model):
    model, *_ = tiny_model
    with pytest.raises(ValueError, match="1 channel"):
        model.predict(np.zeros((3, 32, 32), np.float32), "CYX")


def test_test_time_augmentation_averages_the_eight_dihedral_views(tiny_model):
    model, image, clean = tiny_model
    views = []
    for turns in range(4):
        for mirror in (False, True):
            seen = np.rot90(image, turns, axes=(1, 2))
            seen = seen[..., ::-1] if mirror else seen
            out = model.predict(np.ascontiguousarray(seen), tta=False)
            out = out[..., ::-1] if mirror else out
            views.append(np.rot90(out, -turns, axes=(1, 2)))
    assert np.abs(views[0] - views[3]).max() > 1.0  # the views differ, so the order matters
    averaged = model.predict(image)
    np.testing.assert_allclose(averaged, np.mean(views, axis=0), atol=1e-3)
    single = model.predict(image, tta=False)
    assert np.mean((averaged - clean) ** 2) < np.mean((single - clean) ** 2)


def test_progress_counts_tiles_from_zero_and_within_a_batch_of_views(tiny_model):
    model, image, _ = tiny_model
    said = []
    model.predict(image, tile=64, batch_size=8, tta=3, progress=lambda done, total: said.append((done, total)))
    totals = {total for _, total in said}
    assert len(totals) == 1 and said[0][0] == 0 and said[-1][0] == totals.pop()  # from 0 to all tiles
    done = [d for d, _ in said]
    assert done == sorted(done) and any(d != int(d) for d in done)  # shares of a batch on the way


def test_a_preview_is_predicted_as_one_tile(tiny_model, monkeypatch):
    model, image, _ = tiny_model
    monkeypatch.setattr("napari_blindspot.core.model.prediction_tiles", lambda ndim: ((32, 32), (4, 4)))
    batches = []
    real = model._predict_batch
    monkeypatch.setattr(model, "_predict_batch", lambda raw, *a, **k: batches.append(raw.shape) or real(raw, *a, **k))
    out = preview.preview_of(model, image, "ZYX", (1, slice(8, 72), slice(0, 64)))
    assert out.shape == (64, 64) and len(batches) == 1 and batches[0][0] == 1 and batches[0][-2:] == (88, 80)  # with its context

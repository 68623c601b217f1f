"""Lazy sources (dask, zarr) and multiscale layers: training reads patches, never the whole
stack, and the result is a lazy layer whose planes are denoised when napari shows them."""

import dask.array as da
import numpy as np
from napari.layers import Image

from napari_blindspot._widget._preview import preview_region

from .conftest import noisy, wait_idle


def test_dask_stack_trains_without_reading_it_whole_and_gives_lazy_results(viewer, make_widget, qtbot, counting_array):
    stack = noisy((300, 64, 64))
    source = counting_array(stack, chunks=(1, 64, 64))
    layer = viewer.add_image(da.from_array(source, chunks=source.chunks), name="lazy", scale=(4.0, 1.0, 1.0),
                             contrast_limits=(0, 200))
    widget = make_widget(steps=5)
    # planes alone: with k neighbour planes the validation tiles read 2k+1 planes each, a bound of
    # its own (heldout.VALIDATION_PIXELS) that is above half of so small a stack
    widget.form.context_planes.value = 0
    source.read = 0
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)

    result = viewer.layers["lazy [n2v denoised]"]
    assert isinstance(result.data, da.Array) and result.data.shape == stack.shape
    assert tuple(result.scale) == (4.0, 1.0, 1.0)
    assert 0 < source.read < stack.size / 2  # patches, blocks and shown planes only
    np.testing.assert_allclose(result.data[7].compute(), widget.model.predict(stack[7:8], "ZYX")[0], atol=1e-4)
    assert "as you view it" in widget.controls.progress_bar.text()

    widget.controls.apply_picker.value = layer  # applying the model to a lazy layer is lazy too
    widget.controls.apply_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    applied = [lay for lay in viewer.layers if lay.name.startswith("lazy [n2v denoised]")]
    assert len(applied) == 2 and isinstance(applied[1].data, da.Array)


def test_multiscale_layer_trains_on_level_0_and_gives_a_lazy_result(viewer, make_widget, qtbot):
    level0 = noisy((96, 96), seed=1)
    viewer.add_image([level0, level0[::2, ::2]], name="pyramid", multiscale=True, contrast_limits=(0, 200))
    widget = make_widget(steps=5)
    assert widget.form.axes.value == "YX"
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)

    result = viewer.layers["pyramid [n2v denoised]"]
    assert isinstance(result.data, da.Array) and result.data.shape == level0.shape
    np.testing.assert_allclose(np.asarray(result.data), widget.model.predict(level0), atol=1e-4)


def test_lazy_hqssl_result_has_a_lazy_uncertainty_layer_with_a_display_range(viewer, make_widget, qtbot):
    viewer.add_image(da.from_array(noisy((48, 48)), chunks=(16, 16)), name="lazy", contrast_limits=(0, 200))
    widget = make_widget(steps=2)
    widget.form.method.value = "hqssl"
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    std = viewer.layers["lazy [uncertainty]"]
    assert isinstance(viewer.layers["lazy [hqssl denoised]"].data, da.Array) and isinstance(std.data, da.Array)
    low, high = std.contrast_limits
    assert low == 0 and high > 0
    low, high = viewer.layers["lazy [hqssl denoised]"].contrast_limits  # from a central block, not (0, 200)
    assert 0 < low < high < 200


def test_multiscale_preview_region_is_in_level_0_pixels():
    layer = Image([np.zeros((2000, 300), np.float32), np.zeros((1000, 150), np.float32)], multiscale=True)
    layer.data_level = 1
    layer.corner_pixels = np.array([[50, 10], [99, 40]])  # the view, in level-1 pixels
    region = preview_region(layer, "YX", world_point=(0.0, 0.0), world_displayed=(0, 1))
    assert region == (slice(100, 200), slice(19, 83))  # level-0 pixels 100-199, and 20-81 widened to 64


def test_a_lazy_stack_with_neighbour_planes_gives_a_lazy_result(viewer, make_widget, qtbot):
    viewer.add_image(da.from_array(noisy((40, 64, 64)), chunks=(1, 64, 64)), name="frames", axis_labels=("t", "y", "x"))
    widget = make_widget(steps=3)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    assert widget.model.spec.context_planes == 2  # chosen from the stack
    result = viewer.layers["frames [n2v denoised]"]
    assert isinstance(result.data, da.Array) and result.data.shape == (40, 64, 64)

"""The widget's controls: layer picker, axes, method-dependent settings, preview regions."""

import numpy as np
import pytest
from napari.layers import Image

from napari_blindspot._widget._jobs import display_range
from napari_blindspot._widget._preview import blank, place, preview_region

from .conftest import noisy


def test_picker_follows_layers_added_removed_and_renamed(viewer, make_widget):
    widget = make_widget()
    picker = widget.form.image
    assert len(picker.choices) == 0 and widget.form.axes.value == ""

    first = viewer.add_image(noisy((32, 32)), name="first")
    assert picker.native.currentText() == "first" and widget.form.axes.value == "YX"
    second = viewer.add_image(noisy((8, 32, 32)), name="second")
    assert [layer.name for layer in picker.choices] == ["first", "second"]
    assert picker.value is first  # adding a layer keeps the choice

    second.name = "renamed"
    assert [layer.name for layer in picker.choices] == ["first", "renamed"] and picker.value is first
    picker.value = second
    assert widget.form.axes.value == "TYX"
    viewer.layers.remove(second)
    assert len(picker.choices) == 1 and picker.value is first
    assert len(widget.controls.apply_picker.choices) == 1


def test_rgb_and_labels_layers_are_left_out_with_a_reason(viewer, make_widget):
    widget = make_widget()
    viewer.add_image(np.zeros((32, 32, 3), np.uint8), name="photo", rgb=True)
    viewer.add_labels(np.zeros((32, 32), np.int32), name="cells")
    assert len(widget.form.image.choices) == 0
    text = widget.form.skipped.value
    assert "'photo' (RGB)" in text and "'cells' (labels)" in text


def test_axes_are_validated_as_you_type(viewer, make_widget, notes):
    viewer.add_image(noisy((8, 32, 32)), name="stack")
    widget = make_widget()
    assert widget.form.axes.value == "TYX" and widget.form.axes.native.styleSheet() == ""

    widget.form.axes.value = "YX"
    assert "border" in widget.form.axes.native.styleSheet()
    assert "do not match" in widget.form.axes.tooltip
    widget.form.axes.value = "QYX"
    assert "unknown letter" in widget.form.axes.tooltip

    widget.controls.train_button.click()  # bad axes: a notification, no training
    assert not widget.busy and widget.controls.train_button.text() == "Train"
    assert notes and notes[0][0] == "error" and "unknown letter" in notes[0][1]

    widget.form.axes.value = "tyx"
    assert widget.form.axes.native.styleSheet() == ""
    assert not widget.form.z_mode.enabled and widget.form.z_row.native.isHidden()  # no Z: no Z row


def test_noise_settings_apply_to_hqssl_only(viewer, make_widget):
    widget = make_widget()
    assert not widget.form.noise.enabled and not widget.form.sigma.enabled
    widget.form.method.value = "hqssl"
    assert widget.form.noise.enabled and widget.form.sigma.enabled
    widget.form.noise.value = "poisson"
    assert not widget.form.sigma.enabled  # sigma is a Gaussian noise level


def test_config_follows_the_controls(viewer, make_widget):
    layer = viewer.add_image(noisy((20, 32, 32)), name="stack", scale=(5.0, 1.0, 1.0))
    widget = make_widget(steps=250)
    widget.form.method.value = "hqssl"
    widget.form.noise.value = "gaussian"
    widget.form.sigma.value = 12.5
    widget.form.seed.value = 7
    assert widget.form.precision in list(widget.form.advanced) and widget.form.precision.label == "Precision"
    widget.form.precision.value = "bfloat16"
    config = widget.form.config("ZYX", layer)
    assert (config.method, config.noise, config.sigma, config.seed) == ("hqssl", "gaussian", 12.5, 7)
    assert config.precision == "bfloat16"
    assert (config.steps, config.time_budget_s) == (250, None)
    assert (config.features, config.patch_size, config.batch_size) == (8, 16, 4)
    assert config.learning_rate is None and config.device == "auto"
    assert not config.until_converged
    widget.form.until.value = True  # "or until it stops improving": the steps become the cap
    config = widget.form.config("ZYX", layer)
    assert config.until_converged and config.steps == 250


def test_z_row_shows_what_auto_decides_from_the_voxel_size_and_passes_the_choice(viewer, make_widget):
    layer = viewer.add_image(noisy((20, 32, 32)), name="stack", scale=(5.0, 1.0, 1.0))
    widget = make_widget()
    assert not widget.form.z_row.native.isHidden() and widget.form.z_mode.value == "auto"
    assert widget.form.z_hint.value == "Auto: Z spacing is 5.0x the pixel size: trained slice by slice in 2D."
    config = widget.form.config("ZYX", layer)
    assert config.three_d is None and config.scale == (5.0, 1.0, 1.0)  # the core decides, as the hint says

    layer.scale = (2.0, 1.0, 1.0)  # the user corrects the voxel size: the decision follows
    widget.form.device.value = "cpu"
    assert "2.0x the pixel size, but 3D training is much slower per voxel on the CPU" in widget.form.z_hint.value
    widget.form.z_mode.value = "2D slices"  # an explicit choice wins
    assert widget.form.config("ZYX", layer).three_d is False
    assert widget.form.z_hint.value.startswith("2D slices, as set. Auto: Z spacing is 2.0x")
    widget.form.z_mode.value = "3D"
    assert widget.form.config("ZYX", layer).three_d is True


def test_preview_region_follows_the_current_step_and_the_field_of_view():
    layer = Image(np.zeros((10, 2000, 300), np.float32))
    region = preview_region(layer, "ZYX", world_point=(4.0, 0, 0), world_displayed=(1, 2))
    assert region == (4, slice(744, 1256), slice(0, 300))  # at most 512 a side, centred
    layer.corner_pixels = np.array([[0, 100, 40], [0, 199, 59]])  # zoomed in on a small part
    region = preview_region(layer, "ZYX", world_point=(7.0, 0, 0), world_displayed=(1, 2))
    assert region == (7, slice(100, 200), slice(18, 82))  # at least 64 a side


def test_place_puts_a_plane_back_on_its_slice():
    data, start = place(np.ones((5, 6)), (3, slice(10, 15), slice(None)))
    assert data.shape == (1, 5, 6) and start == (3, 10, 0)


def test_blank_is_shaped_like_the_preview_of_its_region():
    region = (3, slice(None), slice(10, 15), slice(0, 6))  # Z, C, Y, X
    assert blank(region, (8, 2, 40, 30)).shape == (2, 5, 6)
    data, start = place(blank(region, (8, 2, 40, 30)), region)
    assert data.shape == (1, 2, 5, 6) and start == (3, 0, 10, 0) and not data.any()


def test_display_range_leaves_out_the_extreme_pixels_and_never_collapses():
    image = np.linspace(0.0, 1000.0, 100_001).reshape(1, -1)
    assert display_range(image) == pytest.approx((1.0, 999.0))  # the 0.1 and 99.9 percentiles
    assert display_range(np.full((4, 4), 7.0)) == (7.0, 8.0)  # a flat image still gets a valid range


def test_advanced_sizes_read_auto_until_set_and_reach_the_config_as_whole_numbers(viewer, make_widget):
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    form = make_widget().form
    for field in (form.patch_size, form.batch_size, form.features):
        field.value = 0
        assert field.native.text() == "auto"
    config = form.config("YX", layer)
    assert (config.patch_size, config.batch_size, config.features) == (None, None, None)
    form.patch_size.value, form.batch_size.value, form.features.value = 24, 3, 12
    assert form.patch_size.native.text() == "24"
    config = form.config("YX", layer)
    assert (config.patch_size, config.batch_size, config.features) == (24, 3, 12)
    assert all(type(v) is int for v in (config.patch_size, config.batch_size, config.features))


def test_a_wrong_axes_string_says_why_under_the_field(viewer, make_widget):
    viewer.add_image(noisy((8, 32, 32)), name="stack")
    form = make_widget().form
    form.axes.value = "YX"
    assert not form.axes_hint.native.isHidden() and form.axes_hint.value.startswith("Not these axes:")
    assert "do not match" in form.axes_hint.value
    form.axes.value = "TYX"
    assert "Not these axes" not in form.axes_hint.value


def test_many_channels_are_questioned_under_the_axes(viewer, make_widget):
    viewer.add_image(noisy((10, 32, 32)), name="frames")
    form = make_widget().form
    form.axes.value = "CYX"
    assert not form.axes_hint.native.isHidden() and "10 channels" in form.axes_hint.value and "10 networks" in form.axes_hint.value
    viewer.add_image(noisy((2, 32, 32)), name="two stains")
    form.image.value = viewer.layers["two stains"]
    form.axes.value = "CYX"
    assert "channels (C)" not in form.axes_hint.value  # a few channels are what C is for


def test_after_the_source_is_removed_the_pickers_prefer_a_visible_layer_to_a_hidden_clean_one(viewer, make_widget):
    from napari_blindspot._widget._layers import OURS

    viewer.add_image(np.zeros((32, 32), np.float32), name="noisy [clean]", visible=False)  # as the samples add
    raw = viewer.add_image(noisy((32, 32)), name="noisy")
    result = viewer.add_image(noisy((32, 32)), name="noisy [n2v denoised]", metadata={OURS: {"kind": "result"}})
    widget = make_widget()
    viewer.layers.remove(raw)
    assert widget.controls.apply_picker.value is result

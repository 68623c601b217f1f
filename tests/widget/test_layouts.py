"""The dock widget on stacks of several layouts (a result with channels: one layer per channel), and its choice of one model for all channels
or one per channel. Tiny stacks, two training steps; where HQ-SSL trains, a bright box must come
out where it was (its posterior shows it after two steps, N2V's output does not yet)."""

import numpy as np
import pytest

import napari_blindspot as nb
from napari_blindspot._widget._layers import OURS

from structures import assert_box_in_place, box_mask

from .conftest import noisy, wait_idle

# (axes, shape, method, channels combo)
LAYOUTS = [
    ("YX", (24, 32), "N2V", None),
    ("CYX", (2, 24, 28), "N2V2", "one model per channel"),
    ("ZYX", (3, 24, 24), "HQ-SSL", None),
    ("TCZYX", (2, 2, 3, 24, 24), "HQ-SSL", "one model for all"),
]


@pytest.mark.parametrize("axes, shape, method, channels", LAYOUTS, ids=[a for a, *_ in LAYOUTS])
def test_train_gives_a_result_of_the_source_layout_and_units(viewer, make_widget, qtbot, notes,
                                                             axes, shape, method, channels):
    image = noisy(shape) + 400 * box_mask(axes, shape).astype(np.float32)
    if "C" in axes:  # channel 1 in other units than channel 0
        image[(slice(None),) * axes.index("C") + (1,)] += 1000
    viewer.add_image(image, name="stack")
    widget = make_widget(steps=2)
    widget.form.axes.value = axes
    widget.form.method.native.setCurrentText(method)
    assert widget.form.channels.native.isHidden() == ("C" not in axes)
    if channels:
        widget.form.channels.native.setCurrentText(channels)

    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)  # generous: CI machines may be busy
    assert not [n for n in notes if n[0] == "error"]
    name = f"stack [{widget.model.method} denoised]"
    if "C" in axes:  # one layer per channel, each with its own contrast
        layers = [viewer.layers[f"{name} C{c}"] for c in range(shape[axes.index("C")])]
        assert len({tuple(layer.contrast_limits) for layer in layers}) == len(layers)
        assert all(layer.metadata[OURS]["channel"] == c for c, layer in enumerate(layers))
        result = np.stack([layer.data for layer in layers], axis=axes.index("C"))
    else:
        result = viewer.layers[name].data
    assert result.shape == image.shape and result.dtype == np.float32
    assert widget.model.net.groups == (shape[axes.index("C")] if channels == "one model per channel" else 1)
    if "C" in axes:
        for c in range(shape[axes.index("C")]):
            pick = (slice(None),) * axes.index("C") + (c,)
            assert abs(result[pick].mean() - image[pick].mean()) < 0.5 * image[pick].std()
    if method == "HQ-SSL":
        assert_box_in_place(result, axes, box_mask(axes, shape))


def test_channels_row_shows_for_axes_with_c_and_sets_the_config(viewer, make_widget):
    layer = viewer.add_image(noisy((2, 48, 48)), name="two stains")
    widget = make_widget()
    assert widget.form.axes.value == "CYX" and not widget.form.channels.native.isHidden()
    tip = widget.form.channels.tooltip
    assert "One model for all" in tip and "One model per channel" in tip
    assert widget.form.config("CYX", layer).channels == "independent"  # the default: no crosstalk
    widget.form.channels.native.setCurrentText("one model for all")
    assert widget.form.config("CYX", layer).channels == "joint"

    widget.form.axes.value = "ZYX"  # no C: no row, and the choice does not apply
    assert widget.form.channels.native.isHidden() and not widget.form.channels.enabled
    assert widget.form.config("ZYX", layer).channels == "joint"


def test_loading_a_per_channel_model_shows_its_channel_choice(viewer, make_widget, tmp_path, tiny):
    image = noisy((2, 24, 24))
    run = nb.train(image, nb.TrainConfig(axes="CYX", channels="independent", **{**tiny, "steps": 1}))
    list(run)
    run.model.save(tmp_path / "m")
    widget = make_widget()
    widget.ask_directory = lambda title: str(tmp_path / "m")
    widget.controls.load_button.click()
    assert widget.form.channels.value == "independent"
    assert "one model per channel" in widget.controls.model_label.text()

"""The end of a run costs the UI thread little: the preview layer becomes the result (no layer
removed, none added: napari's removal runs a full garbage collection), HQ-SSL's uncertainty
layer is the one layer added, in a turn of its own; the names and the source stay as promised."""

import numpy as np
import pytest

from napari_blindspot._widget._layers import OURS

from .conftest import noisy, wait_idle


def _watch(viewer) -> list:
    seen = []
    viewer.layers.events.inserted.connect(lambda e: seen.append(("added", e.value.name)))
    viewer.layers.events.removed.connect(lambda e: seen.append(("removed", e.value.name)))
    return seen


@pytest.mark.parametrize("method, added", [("N2V", []), ("HQ-SSL", [("added", "noisy [uncertainty]")])])
def test_the_preview_layer_becomes_the_result_and_only_the_uncertainty_is_added(viewer, make_widget, qtbot,
                                                                                method, added):
    image = noisy((64, 96))
    source = viewer.add_image(image, name="noisy", scale=(0.5, 0.25), translate=(3.0, -2.0))
    original = image.copy()
    widget = make_widget(seconds=60)
    widget.form.method.native.setCurrentText(method)
    viewer.camera.zoom *= 4  # the preview covers a region only: the result must cover the whole image
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=15_000)
    preview = widget.preview.layer
    assert viewer.layers.selection.active is source  # the preview is added without napari's selection events
    seen = _watch(viewer)
    widget.stop()
    wait_idle(qtbot, widget)

    assert seen == added  # no layer removed, the preview not re-added
    result = viewer.layers["noisy [" + method.lower().replace("-", "") + " denoised]"]
    assert result is preview and "noisy [preview]" not in viewer.layers
    assert viewer.layers.selection.active is result and list(viewer.layers.selection) == [result]  # not the hidden uncertainty
    assert result.data.shape == image.shape and tuple(result.translate) == (3.0, -2.0)
    assert tuple(result.scale) == (0.5, 0.25) and result.opacity == 1 and result.visible
    assert result.metadata[OURS]["kind"] == "result" and result.metadata[OURS]["steps"] > 0
    low, high = result.contrast_limits
    assert result.data.min() <= low < high <= result.data.max()
    assert widget.results[0] is result and len(widget.results) == 1 + len(added)
    assert source.data is image and np.array_equal(source.data, original)


def test_without_previews_the_result_is_a_new_layer(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=2)
    widget.preview_every_s = None
    seen = _watch(viewer)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert seen == [("added", "noisy [n2v denoised]")]

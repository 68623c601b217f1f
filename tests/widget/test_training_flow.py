"""The dock widget's main path: Train -> live preview -> result layers, Stop, Train more,
save -> load -> apply. Tiny images and networks: each test runs in a few seconds."""

import numpy as np
from qtpy.QtCore import Qt

from napari_blindspot._widget import _dock

from .conftest import noisy, wait_idle


def _watch_preview_updates(viewer, source_name):
    """Count in-place data updates of the preview layer of `source_name` once it is added (at
    Train, transparent zeros named `<source> [preview…]`; the first update fills it)."""
    updates = []

    def on_inserted(event):
        if event.value.name == f"{source_name} [preview…]":
            event.value.events.data.connect(lambda e: updates.append(event.value.data.copy()))

    viewer.layers.events.inserted.connect(on_inserted)
    return updates


def test_train_shows_live_preview_then_result_and_never_touches_the_source(viewer, make_widget, qtbot):
    image = noisy((32, 48))
    source = viewer.add_image(image, name="noisy", scale=(0.5, 0.25), translate=(3.0, -2.0))
    original = image.copy()
    widget = make_widget(seconds=2)
    updates = _watch_preview_updates(viewer, "noisy")

    widget.controls.train_button.click()
    assert widget.controls.train_button.text() == "Stop"
    preview = viewer.layers["noisy [preview…]"]  # there from the start: transparent until the first preview
    assert preview.opacity == 0 and not preview.data.any() and "noisy [preview]" not in viewer.layers
    assert preview.data.shape == (32, 48) and tuple(preview.translate) == (3.0, -2.0)  # where it will show
    qtbot.waitUntil(lambda: "noisy [preview]" in viewer.layers, timeout=10_000)
    assert viewer.layers["noisy [preview]"] is preview and widget.preview_shown
    assert preview.opacity == 1 and preview.visible and preview.data.shape == (32, 48) and preview.data.any()
    assert tuple(preview.scale) == (0.5, 0.25) and tuple(preview.translate) == (3.0, -2.0)
    qtbot.waitUntil(lambda: len(updates) >= 2, timeout=10_000)  # updated in place, not re-added
    assert viewer.layers["noisy [preview]"] is preview
    wait_idle(qtbot, widget)

    assert "noisy [preview]" not in viewer.layers
    result = viewer.layers["noisy [n2v denoised]"]
    assert result.data.shape == image.shape and result.data.dtype == np.float32
    assert tuple(result.scale) == (0.5, 0.25) and tuple(result.translate) == (3.0, -2.0)
    assert result.data.std() < image.std()
    low, high = result.contrast_limits  # its own range, not the noisy source's (which shows it flat grey)
    assert result.data.min() <= low < high <= result.data.max()
    assert high - low < np.subtract(*source.contrast_limits[::-1])
    assert source.data is image and source.data.tobytes() == original.tobytes()
    assert widget.controls.train_button.text() == "Train" and widget.controls.train_button.isEnabled()
    assert widget.controls.train_more_button.isEnabled() and widget.controls.save_button.isEnabled()
    assert widget.controls.progress_bar.text().startswith("Done")
    assert len(widget.controls.loss_plot.steps) > 0


def test_each_preview_gets_its_own_contrast_until_the_user_sets_one(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 48)), name="noisy")
    widget = make_widget(seconds=60)
    updates = _watch_preview_updates(viewer, "noisy")
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: len(updates) >= 2, timeout=10_000)
    preview = widget.preview.layer
    low, high = preview.contrast_limits
    assert preview.data.min() <= low < high <= preview.data.max()  # fits the latest preview
    preview.contrast_limits = (0.0, 500.0)  # the user's choice
    seen = len(updates)
    qtbot.waitUntil(lambda: len(updates) >= seen + 2, timeout=10_000)
    assert tuple(preview.contrast_limits) == (0.0, 500.0)
    widget.stop()
    wait_idle(qtbot, widget)


def test_stop_ends_training_early_and_still_gives_the_result(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=10_000)

    widget.controls.train_button.click()  # the same button now reads Stop
    wait_idle(qtbot, widget, timeout=30_000)  # generous for a busy machine, far short of the 120 s asked for
    assert "noisy [n2v denoised]" in viewer.layers
    assert widget.controls.train_button.text() == "Train"
    assert 0 < widget.model.spec.history["seconds"] < 60  # trained, then stopped: not run to its budget


def test_double_click_on_train_starts_one_run(viewer, make_widget, qtbot, monkeypatch):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.double_click_s = 0.4
    started = []
    real = _dock.create_worker
    monkeypatch.setattr(_dock, "create_worker", lambda *a, **k: started.append(1) or real(*a, **k))

    qtbot.mouseDClick(widget.controls.train_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(widget.controls.train_button, Qt.MouseButton.LeftButton)
    assert len(started) == 1
    assert widget.busy and widget.controls.train_button.text() == "Stop"
    widget.stop()
    wait_idle(qtbot, widget)


def test_train_more_continues_the_same_model(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=5)
    assert not widget.controls.train_more_button.isEnabled()
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    model = widget.model
    assert model.spec.history["steps"] == 5

    widget.controls.train_more_button.click()
    wait_idle(qtbot, widget)
    assert widget.model is model
    assert model.spec.history["steps"] == 10
    assert widget.controls.loss_plot.steps[-1] == 10  # the plot continues where the first run ended


def test_save_load_apply_gives_the_in_memory_result(viewer, make_widget, qtbot, tmp_path, notes):
    source = viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=5)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    in_memory = viewer.layers["noisy [n2v denoised]"].data

    folder = tmp_path / "model"
    widget.ask_directory = lambda title: str(folder)
    widget.controls.save_button.click()
    assert (folder / "config.json").exists()
    widget.model = None
    widget.controls.load_button.click()
    assert widget.model is not None and "loaded from" in widget.controls.model_label.text()

    widget.controls.apply_picker.value = source
    widget.controls.apply_button.click()
    wait_idle(qtbot, widget)
    applied = [layer for layer in viewer.layers if layer.name.startswith("noisy [n2v denoised]")]
    assert len(applied) == 2
    np.testing.assert_allclose(applied[1].data, in_memory, rtol=0, atol=1e-4)
    assert [kind for kind, _ in notes] == ["info", "info"]  # saved, loaded


def test_3d_stack_previews_the_current_z_slice(viewer, make_widget, qtbot):
    stack = noisy((16, 32, 32))
    viewer.add_image(stack, name="stack", scale=(2.0, 1.0, 1.0))
    widget = make_widget(seconds=120)
    assert widget.form.axes.value == "ZYX"
    hint = widget.form.z_hint.value  # on the CPU a 2x-anisotropic stack trains slice by slice
    assert "trained slice by slice in 2D" in hint and "trained in 3D" not in hint
    viewer.dims.set_current_step(0, 5)

    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=15_000)
    preview = viewer.layers["stack [preview]"]
    assert preview.data.shape == (1, 32, 32)  # one plane, placed on the slice in view
    assert tuple(preview.translate) == (10.0, 0.0, 0.0) and tuple(preview.scale) == (2.0, 1.0, 1.0)

    viewer.dims.set_current_step(0, 11)  # the user moves to another slice: previews follow
    qtbot.waitUntil(lambda: preview.translate[0] == 22.0, timeout=15_000)
    assert preview.data.shape == (1, 32, 32)
    widget.stop()
    wait_idle(qtbot, widget)
    result = viewer.layers["stack [n2v denoised]"].data
    np.testing.assert_allclose(result, widget.model.predict(stack), rtol=0, atol=1e-3)  # every plane denoised
    assert all(np.abs(result[z] - result[11]).max() > 0.01 for z in (0, 5))  # each from its own input


def test_hqssl_gives_a_denoised_and_an_uncertainty_layer(viewer, trained_hqssl):
    image = viewer.layers["noisy"].data
    out, std = trained_hqssl.model.predict(image, return_uncertainty=True)
    np.testing.assert_allclose(viewer.layers["noisy [hqssl denoised]"].data, out, rtol=0, atol=1e-3)
    np.testing.assert_allclose(viewer.layers["noisy [uncertainty]"].data, std, rtol=0, atol=1e-3)
    assert (std > 0).all() and np.isfinite(std).all() and np.abs(out - image).max() > 0.1

"""Whatever goes wrong, the widget says what to do and returns to a usable state."""

import numpy as np
import pytest
import torch
from qtpy.QtCore import QThreadPool

from napari_blindspot.core import training

from .conftest import noisy, wait_idle


class _RunThatRunsOutOfMemory:
    """A stand-in TrainingRun whose first step fails as torch does when memory runs out."""

    def __init__(self, image, config, model=None, target=None):
        self.model, self.config = None, config
        self.device, self.three_d = torch.device("cpu"), False

    def set_preview_region(self, region):
        pass

    def stop(self):
        pass

    def __iter__(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        yield


def _fails_to_start(image, config, model=None, target=None):
    raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.mark.parametrize("broken_train", [_RunThatRunsOutOfMemory, _fails_to_start],
                         ids=["during-training", "at-start"])
def test_an_exception_in_training_becomes_a_notification_and_the_widget_is_idle_again(
        viewer, make_widget, qtbot, monkeypatch, notes, broken_train):
    monkeypatch.setattr(training, "train", broken_train)
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=5)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)

    assert [kind for kind, _ in notes] == ["error"]
    assert "smaller patch size or batch size" in notes[0][1] and "'cpu'" in notes[0][1]
    assert widget.controls.train_button.text() == "Train" and widget.controls.train_button.isEnabled()
    assert [layer.name for layer in viewer.layers] == ["noisy"]


def test_removing_the_source_layer_mid_training_ends_cleanly(viewer, make_widget, qtbot, notes):
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=10_000)

    viewer.layers.remove(layer)
    wait_idle(qtbot, widget, timeout=3000)
    assert len(viewer.layers) == 0  # preview gone, no result for a layer the user removed
    assert notes[-1][0] == "warning" and "was removed" in notes[-1][1]
    assert widget.model is not None and widget.controls.train_button.text() == "Train"


def test_too_small_image_is_refused_with_a_message(viewer, make_widget, qtbot, notes):
    viewer.add_image(noisy((8, 64)), name="strip")
    widget = make_widget(seconds=5)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert notes[0][0] == "error" and "too small" in notes[0][1]


def test_loading_a_folder_that_holds_no_model_is_refused(viewer, make_widget, tmp_path, notes):
    widget = make_widget()
    widget.ask_directory = lambda title: str(tmp_path)
    widget.controls.load_button.click()
    assert widget.model is None
    assert notes[0][0] == "error" and "not a napari-blindspot model" in notes[0][1]


def test_cancelled_file_dialog_does_nothing(viewer, make_widget, notes):
    widget = make_widget()
    widget.ask_directory = lambda title: ""
    widget.controls.load_button.click()
    assert widget.model is None and notes == []


@pytest.mark.parametrize("how", ["close", "dock-x"])
def test_closing_the_widget_stops_training_and_disconnects_from_the_viewer(viewer, make_widget, qtbot, how):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    before = len(viewer.dims.events.current_step.callbacks)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget._res.job.run is not None, timeout=10_000)

    if how == "close":
        widget.close()
    else:  # the dock's close button
        viewer.window.remove_dock_widget(widget)
    assert QThreadPool.globalInstance().waitForDone(3000)
    assert len(viewer.dims.events.current_step.callbacks) == before - 1
    assert not any(getattr(cb, "__self__", None) is widget.form.image
                   for cb in viewer.layers.events.inserted.callbacks)


def test_closing_the_viewer_during_training_does_not_hang(make_napari_viewer, make_widget, viewer, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget._res.job.run is not None, timeout=10_000)
    viewer.close()
    assert QThreadPool.globalInstance().waitForDone(3000)

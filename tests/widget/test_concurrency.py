"""What the user does while training runs: rename the layer, pick another one, run out of memory.
Training goes on with the data it started with, and the widget always comes back to idle."""

import threading

import numpy as np
import torch

from napari_blindspot.core import step as training_step
from napari_blindspot.core import training

from .conftest import noisy, wait_idle


def _names(viewer):
    return [layer.name for layer in viewer.layers]


def test_renaming_the_source_during_training_renames_preview_and_result(viewer, make_widget, qtbot, notes):
    source = viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.preview_every_s = 1.0
    widget.controls.train_button.click()
    source.name = "tissue"  # before the first preview
    assert _names(viewer) == ["tissue", "tissue [preview…]"]
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=10_000)  # shown, and named so
    assert _names(viewer) == ["tissue", "tissue [preview]"]

    source.name = "cells"
    assert _names(viewer) == ["cells", "cells [preview]"]
    assert widget.form.image.native.currentText() == "cells" and widget.form.image.value is source
    widget.controls.train_button.click()  # Stop
    wait_idle(qtbot, widget)

    assert _names(viewer) == ["cells", "cells [n2v denoised]"]
    assert notes == []
    assert widget.controls.train_button.text() == "Train" and widget.controls.progress_bar.text().startswith("Done")


def test_picking_another_layer_during_training_trains_on_the_original_data(viewer, make_widget, qtbot, notes):
    image = noisy((32, 32))
    source = viewer.add_image(image, name="noisy")
    widget = make_widget(steps=60)
    widget.controls.train_button.click()  # the reference: same seed, same steps, left alone
    wait_idle(qtbot, widget, timeout=60_000)
    undisturbed = viewer.layers.pop(-1).data
    stack = noisy((16, 32, 32), seed=1)
    other = viewer.add_image(stack, name="other")
    assert widget.form.image.value is source  # adding a layer keeps the choice

    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.busy and widget._res.job.run is not None, timeout=10_000)
    widget.form.image.value = other
    assert widget.form.axes.value == "TYX"  # the controls follow the new choice ...
    assert widget._res.job.source is source and widget._res.job.axes == "YX"  # ... the job does not
    wait_idle(qtbot, widget, timeout=60_000)

    assert _names(viewer) == ["noisy", "other", "noisy [n2v denoised]"]
    result = viewer.layers["noisy [n2v denoised]"].data
    assert result.shape == image.shape
    np.testing.assert_allclose(result, undisturbed, rtol=0, atol=1e-5)
    assert other.data is stack and source.data is image
    assert notes == [] and widget.form.image.value is other


def test_running_out_of_memory_mid_training_says_what_to_do_and_returns_to_idle(
        viewer, make_widget, qtbot, monkeypatch, notes):
    """torch.OutOfMemoryError is a RuntimeError, which napari's generator workers swallow:
    the widget must still notice it, say what to change, and be usable again."""
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    out_of_memory = threading.Event()
    real_loss = training_step.loss

    def loss_until_memory_runs_out(*args):
        if out_of_memory.is_set():
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total)")
        return real_loss(*args)

    monkeypatch.setattr(training_step, "loss", loss_until_memory_runs_out)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=10_000)
    out_of_memory.set()
    wait_idle(qtbot, widget)

    assert [kind for kind, _ in notes] == ["error"]
    message = notes[0][1]
    assert message.startswith("Out of memory while training")
    assert "smaller patch size or batch size" in message and "'cpu'" in message
    assert _names(viewer) == ["noisy"]  # preview removed, no half-made result
    assert widget.controls.train_button.text() == "Train" and widget.controls.train_button.isEnabled()
    assert widget.settings.isEnabled() and widget.controls.progress_bar.text() == "Ready"

    out_of_memory.clear()  # memory is back: the same widget trains again
    widget.form.unit.value = "steps"
    widget.form.duration.value = 3
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert _names(viewer) == ["noisy", "noisy [n2v denoised]"] and len(notes) == 1


def test_stop_before_the_first_step_gives_no_result_and_says_so(viewer, make_widget, qtbot, monkeypatch, notes):
    """Stop pressed while training is still setting up: the run ends at step 0 with no loss
    (NaN), which the loss plot must take without failing; an untrained network gives no layer
    and is no model to save."""
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    real_setup = training.TrainingRun._validation_set

    def setup_until_stopped(self, *args):
        assert self._stop.wait(60), "Stop was never pressed"
        return real_setup(self, *args)

    monkeypatch.setattr(training.TrainingRun, "_validation_set", setup_until_stopped)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget._res.job.run is not None, timeout=10_000)
    qtbot.wait(100)  # past the double-click guard
    widget.controls.train_button.click()  # Stop
    wait_idle(qtbot, widget)

    assert _names(viewer) == ["noisy"]
    assert [kind for kind, _ in notes] == ["warning"] and "before its first step" in notes[0][1]
    assert widget.model is None and not widget.controls.save_button.isEnabled()
    assert widget.controls.train_button.text() == "Train" and widget.controls.progress_bar.text() == "Ready"


def test_garbage_collection_is_frozen_while_the_dock_is_open_and_thawed_for_napari_s_own(viewer, make_widget, qtbot):
    """Full collections over napari's objects would stall the UI while the dock opens and during
    training; napari's own collection when a layer is removed sees everything, and so does every
    collection once the dock is closed."""
    import gc

    from napari_blindspot._widget import _lifecycle

    viewer.add_image(noisy((32, 32)), name="noisy")
    assert gc.get_freeze_count() == 0
    widget = make_widget(seconds=120)
    assert _lifecycle._holders == 1 and gc.get_freeze_count() > 0
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.busy, timeout=5_000)
    assert _lifecycle._holders == 2
    widget.stop()
    wait_idle(qtbot, widget)
    # a run stopped before its first step removes its preview layer: frozen again in the next turn
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=2_000)
    assert _lifecycle._holders == 1 and gc.get_freeze_count() > 0

    seen = []
    viewer.layers.events.removed.connect(lambda event: seen.append(gc.get_freeze_count()))
    viewer.add_image(noisy((8, 8)), name="spare")
    viewer.layers.remove("spare")
    assert seen == [0]  # napari collects on removal (its canvas's handler): nothing frozen then
    qtbot.waitUntil(lambda: gc.get_freeze_count() > 0, timeout=2_000)  # frozen again in the next turn

    widget.controls.train_button.click()  # a job ended by closing the widget thaws it too
    qtbot.waitUntil(lambda: widget.busy, timeout=5_000)
    widget._res.release()
    assert _lifecycle._holders == 0 and gc.get_freeze_count() == 0


def test_a_dock_closed_before_its_worker_starts_never_starts_it(viewer, make_widget, qtbot):
    """The worker starts a moment after Train (once the window has drawn the preview layer)."""
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=60)
    widget.controls.train_button.click()
    worker, started = widget._res.job.worker, []
    assert worker not in worker._worker_set  # not started yet (superqt's set of started workers)
    worker.start = lambda: started.append(True)
    widget._res.release()
    qtbot.wait(3 * widget.apart_ms)
    assert started == [] and widget._res.job is None
    assert _names(viewer) == ["noisy"]

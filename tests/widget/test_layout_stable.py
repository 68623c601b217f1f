"""Nothing in the dock moves when training starts, runs or ends: the status, the plot and the model
line keep their heights whatever they say."""

from qtpy.QtWidgets import QApplication

from napari_blindspot._widget import _jobs

from .conftest import noisy, wait_idle


def _shown(viewer, make_widget, **kwargs):
    """A dock in a shown window: a hidden one is never laid out again."""
    widget = make_widget(**kwargs)
    viewer.window._qt_window.show()
    return widget


def _where(widget) -> dict:
    for _ in range(3):
        QApplication.processEvents()
    c = widget.controls
    widgets = {"loss plot": c.loss_plot, "model line": c.model_label, "Save model": c.save_button,
               "Apply to layer": c.apply_button, "Save result": c.save_result_button}
    return {name: (w.mapTo(widget, w.rect().topLeft()).y(), w.height()) for name, w in widgets.items()}


def test_the_dock_does_not_move_between_idle_training_and_done(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = _shown(viewer, make_widget, steps=3)
    idle = _where(widget)
    seen = []
    started = widget._on_event

    def on_event(event):
        started(event)
        if isinstance(event, _jobs.Started):
            seen.append(_where(widget))

    widget._on_event = on_event
    widget.controls.train_button.click()
    seen.append(_where(widget))  # "Starting…"
    wait_idle(qtbot, widget)
    seen.append(_where(widget))  # done: the longest status, a new model line
    assert widget.controls.status_label.text()  # the run said something
    assert all(where == idle for where in seen), (idle, seen)


def test_a_status_of_many_lines_keeps_its_height_and_is_whole_in_its_tooltip(viewer, make_widget):
    widget = _shown(viewer, make_widget)
    idle = _where(widget)
    detail = " · ".join(["This result may be worse than the input: train for longer, or Train more."] * 6)
    widget.controls.status("Done", 1, 1, detail=detail)
    widget.controls.model_label.setText("Model: hqssl, axes YX, 682 steps (130 s), poisson-gaussian noise: "
                                        "variance = 1.17 × intensity + 113 (image units)")
    assert _where(widget) == idle
    assert widget.controls.status_label.toolTip() == detail

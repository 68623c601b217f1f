"""napari's title-bar "x" asks before it discards an unsaved model, as closing the dock does; the
question offers Discard or Cancel, Cancel first."""

import re

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QDockWidget, QPushButton

from napari_blindspot._widget import _models

from .conftest import noisy, wait_idle


ASK = _models.confirm  # the real question (the fixtures answer it without showing it)


def _ask(monkeypatch, answer: bool) -> list:
    asked = []
    monkeypatch.setattr(_models, "confirm", lambda parent, question, action="Discard": asked.append(question) or answer)
    return asked


def _dock_of(widget):
    dock = widget.parent()
    while not isinstance(dock, QDockWidget):
        dock = dock.parent()
    return dock


def _click_x(dock) -> None:
    """The close button of napari's own title bar (not Qt's, which napari replaces)."""
    [button] = [b for b in dock.titleBarWidget().findChildren(QPushButton) if b.objectName() == "QTitleBarCloseButton"]
    button.click()




def test_the_x_asks_before_it_discards_an_unsaved_model_and_cancel_keeps_the_dock(viewer, trained, monkeypatch):
    dock = _dock_of(trained)
    asked = _ask(monkeypatch, False)
    _click_x(dock)
    assert len(asked) == 1 and "Close the denoising dock" in asked[0] and "not saved" in asked[0]
    assert trained.parent() is not None and dock.name in viewer.window._wrapped_dock_widgets  # still docked
    assert not trained._res.released

    asked = _ask(monkeypatch, True)
    _click_x(dock)  # Discard
    assert len(asked) == 1 and trained.parent() is None and trained._res.released
    assert dock.name not in viewer.window._wrapped_dock_widgets


def test_the_x_closes_without_asking_when_no_model_would_be_lost(viewer, make_widget, monkeypatch):
    widget = make_widget()
    dock = _dock_of(widget)
    asked = _ask(monkeypatch, False)
    _click_x(dock)
    assert asked == [] and widget.parent() is None and widget._res.released


def test_the_x_still_asks_after_the_dock_was_floated_and_docked_again(viewer, trained, monkeypatch):
    dock = _dock_of(trained)
    dock.setFloating(True)  # napari makes a new title bar each time
    dock.setFloating(False)
    asked = _ask(monkeypatch, False)
    _click_x(dock)
    assert len(asked) == 1 and trained.parent() is not None


def test_the_question_offers_discard_or_cancel_and_cancel_is_the_default(qtbot):
    seen = {}

    def answer():
        box = QApplication.activeModalWidget()
        try:
            seen["buttons"] = sorted(b.text().replace("&", "") for b in box.buttons())
            seen["default"] = box.defaultButton() and box.defaultButton().text().replace("&", "")
        finally:
            box.reject()  # Cancel (Escape)

    QTimer.singleShot(200, answer)
    assert ASK(None, "Close the denoising dock? ...") is False
    assert seen == {"buttons": ["Cancel", "Discard"], "default": "Cancel"}


def _training(viewer, make_widget, qtbot, steps: int):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=300)
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget.busy and widget._res.job.steps >= steps, timeout=60_000)
    return widget


def _steps_in(question: str) -> int:
    return int(re.search(r"(\d+) steps\)", question).group(1))


def test_closing_the_viewer_while_training_asks_and_cancel_keeps_it_training(viewer, make_widget, qtbot, monkeypatch):
    widget = _training(viewer, make_widget, qtbot, steps=3)
    asked = _ask(monkeypatch, False)
    viewer.window._qt_window.close()
    assert len(asked) == 1 and "Close the viewer" in asked[0] and "not saved" in asked[0]
    assert _steps_in(asked[0]) >= 3  # the steps done so far, not the history's 0
    assert widget.busy and not widget._res.released and viewer.window._qt_viewer.canvas is not None
    widget.stop()
    wait_idle(qtbot, widget)


def test_closing_the_dock_while_training_counts_the_steps_done_so_far(viewer, make_widget, qtbot, monkeypatch):
    widget = _training(viewer, make_widget, qtbot, steps=3)
    asked = _ask(monkeypatch, False)
    assert not widget.close() and len(asked) == 1 and _steps_in(asked[0]) >= 3
    widget.stop()
    wait_idle(qtbot, widget)


def test_closing_the_viewer_from_python_asks_nothing(viewer, trained, monkeypatch):
    asked = _ask(monkeypatch, False)
    viewer.close()  # the canvas is closed first: too late to keep the window
    assert asked == []

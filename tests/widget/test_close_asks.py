"""napari's title-bar "x" asks before it discards an unsaved model, as closing the dock does; the
question offers Discard or Cancel, Cancel first."""

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication, QDockWidget, QPushButton

from napari_blindspot._widget import _models


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

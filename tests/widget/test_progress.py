"""The widget's progress bar schedules its repaints instead of painting inside the caller."""

import pytest
from qtpy.QtCore import QEvent, QObject
from qtpy.QtWidgets import QProgressBar

from napari_blindspot._widget._progress import ProgressBar


class _Paints(QObject):
    def __init__(self):
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event):  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@pytest.mark.parametrize("cls, paints_at_once", [(QProgressBar, True), (ProgressBar, False)])
def test_set_value_paints_at_once_only_with_qt_s_own_bar(qtbot, cls, paints_at_once):
    bar = cls()
    qtbot.addWidget(bar)
    bar.setRange(0, 100)
    bar.setTextVisible(True)
    bar.show()
    qtbot.waitExposed(bar)
    qtbot.wait(50)
    paints = _Paints()
    bar.installEventFilter(paints)

    bar.setValue(50)
    assert (paints.count > 0) == paints_at_once
    qtbot.waitUntil(lambda: paints.count > 0, timeout=2000)  # painted by the event loop all the same
    assert bar.value() == 50

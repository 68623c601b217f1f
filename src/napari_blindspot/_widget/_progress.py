"""A progress bar that never repaints in the middle of a handler.

QProgressBar.setValue (and setRange, through reset) call repaint(), which paints at once: in a
napari window that composes the whole window, OpenGL canvas included, before the handler goes on
(under a software OpenGL, handling one progress event with a preview took 49-86 ms of the UI
thread with it and 15-18 ms without; benchmarks/widget_latency.py). With updates
disabled around the call, Qt schedules the repaint instead, and the event loop paints it together
with the turn's other changes.
"""

from __future__ import annotations

from qtpy.QtWidgets import QProgressBar


class ProgressBar(QProgressBar):
    def setValue(self, value: int) -> None:  # noqa: N802 (Qt's name)
        self.setUpdatesEnabled(False)
        try:
            super().setValue(value)
        finally:
            self.setUpdatesEnabled(True)  # ...which schedules an update()

    def setRange(self, minimum: int, maximum: int) -> None:  # noqa: N802 (Qt's name)
        self.setUpdatesEnabled(False)
        try:
            super().setRange(minimum, maximum)
        finally:
            self.setUpdatesEnabled(True)

"""A progress bar that never repaints in the middle of a handler.

QProgressBar.setValue (and setRange, through reset) call repaint(), which paints at once: in a
napari window that composes the whole window, OpenGL canvas included, before the handler goes on
(a few times the handler's own cost: docs/benchmarks.md, "Widget latency"). With updates disabled
around the call, Qt schedules the repaint instead, and the event loop paints it together with the
turn's other changes.
"""

from __future__ import annotations

from qtpy.QtWidgets import QProgressBar


def clock(seconds: float) -> str:
    """"m:ss", or "h:mm:ss" from an hour on."""
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def about(seconds: float | None) -> str:
    """" · about 40 s left" (minutes from 90 s on); "" while unknown."""
    if seconds is None:
        return ""
    return f" · about {round(seconds)} s left" if seconds < 90 else f" · about {round(seconds / 60)} min left"


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

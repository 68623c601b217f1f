"""The live loss plot: training and validation loss against step, drawn with matplotlib.

matplotlib draws on a thread of its own (Agg, into an image); the UI thread only paints the
finished image: a full draw of the axes on the UI thread was the longest stall of napari's
event loop (docs/benchmarks.md, "Figures behind the widget's design choices"). Most draws only
put the two lines back onto the saved axes background; the axes are drawn in full when the data
leave limits that grow with headroom, or the widget resizes.

Only the drawing thread touches the figure, which it also builds (importing matplotlib: 0.8 s
that the dock's opening no longer waits for); the UI thread hands it copies of the data.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from qtpy.QtCore import QSize, Signal
from qtpy.QtGui import QColor, QImage, QPainter
from qtpy.QtWidgets import QSizePolicy, QWidget

REDRAW_EVERY_S = 0.5  # at most this often while training runs
DPI = 100
log = logging.getLogger(__name__)


def _colours(theme) -> tuple[str, str]:
    """(background, foreground) of the plot in napari's theme."""
    bg = theme.foreground.as_hex() if theme is not None else "#2e333e"
    fg = theme.text.as_hex() if theme is not None else "#f0f1f2"
    return bg, fg


class LossPlot(QWidget):
    """Call `add()` for every progress event and `flush()` often; it redraws at most every 0.5 s."""

    _drawn = Signal(object)  # a QImage, from the drawing thread

    def __init__(self, theme=None, parent=None):
        super().__init__(parent)
        self.setMinimumHeight(150)
        self.setMaximumHeight(200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._bg, self._fg = _colours(theme)
        self.steps, self.losses, self.val_steps, self.val_losses = [], [], [], []
        self.image: QImage | None = None  # the last finished drawing
        self.drawn_on: int | None = None  # the thread that drew it (tests check it is not the UI's)
        self._dirty, self._tight_next, self._drawing, self._drawn_at = False, False, False, 0.0
        self._background, self._background_size = None, None  # drawing thread only
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loss-plot")
        self._drawn.connect(self._on_drawn)
        self._executor.submit(self._build)  # before any drawing: one drawing thread, in order

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(340, 170)

    # -- UI thread --------------------------------------------------------------------------

    def clear(self) -> None:
        self.steps, self.losses, self.val_steps, self.val_losses = [], [], [], []
        self._dirty = True
        self.flush(force=True)

    def add(self, step: int, loss: float, val_loss: float | None = None) -> None:
        self.steps.append(step)
        self.losses.append(loss)
        if val_loss is not None:
            self.val_steps.append(step)
            self.val_losses.append(val_loss)
        self._dirty = True

    def flush(self, force: bool = False) -> None:
        """Hand the data to the drawing thread if they changed and the last drawing is old
        enough; `force` (the end of a run) draws now, with limits that fit the data exactly."""
        if force:  # even with no new data: the limits change
            self._dirty = self._tight_next = True
        if not self._dirty or self._drawing or self._closed:
            return  # a drawing in progress calls flush again when it is done
        if not self._tight_next and time.monotonic() - self._drawn_at < REDRAW_EVERY_S:
            return
        ratio = self.devicePixelRatioF()
        size = (max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        data = (list(self.steps), list(self.losses), list(self.val_steps), list(self.val_losses))
        tight, self._tight_next = self._tight_next, False
        self._dirty, self._drawing, self._drawn_at = False, True, time.monotonic()
        self._executor.submit(self._draw, data, size, ratio, tight)

    def _on_drawn(self, image: QImage) -> None:
        self._drawing = False
        if image is not None:
            self.image = image
            self.update()
        self.flush()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._dirty = True
        self.flush(force=True)

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(self._bg))
        if self.image is not None:
            painter.drawImage(0, 0, self.image)
        painter.end()

    def shutdown(self) -> None:
        """Let the drawing thread go (a drawing in progress still finishes)."""
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- drawing thread ---------------------------------------------------------------------

    def _build(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self._figure = Figure(figsize=(3.4, 1.7), dpi=DPI)
        self._canvas = FigureCanvasAgg(self._figure)
        self._figure.subplots_adjust(left=0.17, right=0.97, top=0.86, bottom=0.25)  # fixed: layout engines cost 2x
        self.ax = self._figure.add_subplot()
        self._style()
        # animated: full draws leave the lines out, and each draw puts them onto the saved background
        (self._train,) = self.ax.plot([], [], lw=1.0, color=self._fg, alpha=0.8, label="training", animated=True)
        (self._val,) = self.ax.plot([], [], "o-", ms=3, lw=1.2, color="#f39c3c", label="validation", animated=True)
        self.ax.set_xlabel("step", fontsize=8)
        self.ax.set_ylabel("loss", fontsize=8)
        self.ax.tick_params(labelsize=7)
        self.ax.legend(fontsize=7, frameon=False, loc="lower right", bbox_to_anchor=(1, 1), ncols=2,
                       borderaxespad=0.2)
        self._empty = self.ax.text(0.5, 0.5, "training and validation loss appear here",
                                   ha="center", va="center", fontsize=7, color=self._fg, alpha=0.7,
                                   transform=self.ax.transAxes)
        self.ax.set_xticks([])
        self.ax.set_yticks([])

    def _style(self) -> None:
        self._figure.set_facecolor(self._bg)
        self.ax.set_facecolor(self._bg)
        for spine in self.ax.spines.values():
            spine.set_color(self._fg)
        self.ax.tick_params(colors=self._fg)
        self.ax.xaxis.label.set_color(self._fg)
        self.ax.yaxis.label.set_color(self._fg)

    def _draw(self, data, size: tuple[int, int], ratio: float, tight: bool) -> None:
        image = None
        try:
            image = self._draw_image(data, size, ratio, tight)
        except Exception:  # a drawing that fails must not stop later ones
            log.exception("drawing the loss plot failed")
        try:
            self._drawn.emit(image)
        except RuntimeError:  # the widget is gone
            pass

    def _draw_image(self, data, size: tuple[int, int], ratio: float, tight: bool) -> QImage:
        from matplotlib.ticker import AutoLocator, MaxNLocator

        steps, losses, val_steps, val_losses = data
        self._train.set_data(steps, losses)
        self._val.set_data(val_steps, val_losses)
        limits = self._limits(steps, losses, val_losses, tight)
        if tight or limits is not None or self._background is None or size != self._background_size:
            self._empty.set_visible(not steps)
            if not steps:
                self.ax.set_xticks([])
                self.ax.set_yticks([])
            else:
                self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                self.ax.yaxis.set_major_locator(AutoLocator())
            if limits is not None:
                self.ax.set_xlim(*limits[0])
                self.ax.set_ylim(*limits[1])
            self._figure.set_dpi(DPI * ratio)
            self._figure.set_size_inches(size[0] / (DPI * ratio), size[1] / (DPI * ratio))
            self._canvas.draw()  # the animated lines are left out
            self._background, self._background_size = self._canvas.copy_from_bbox(self.ax.bbox), size
        else:
            self._canvas.restore_region(self._background)
        self.ax.draw_artist(self._train)
        self.ax.draw_artist(self._val)
        pixels = self._canvas.buffer_rgba()
        height, width = pixels.shape[:2]
        image = QImage(bytes(pixels), width, height, 4 * width, QImage.Format.Format_RGBA8888).copy()
        image.setDevicePixelRatio(ratio)
        self.drawn_on = threading.get_ident()
        return image

    def _limits(self, steps, losses, val_losses, tight: bool = False):
        """New (xlim, ylim) when the data no longer fit the current ones (or fit too loosely), else
        None; with `tight`, limits that fit the data without headroom."""
        if not steps:
            return None
        (x0, x1), (y0, y1) = self.ax.get_xlim(), self.ax.get_ylim()
        first, last = steps[0], steps[-1]
        values = np.asarray(losses[len(losses) // 20 :] + val_losses)  # skip the first 5%
        values = values[np.isfinite(values)]  # a run stopped before its first step has no loss (NaN)
        lo, hi = (values.min(), np.percentile(values, 98)) if values.size else (y0, y1)
        pad = 0.1 * (hi - lo) or abs(hi) * 0.05 or 1.0
        if tight:
            return (first, max(last, first + 1)), (lo - pad, hi + pad)
        x_ok = x0 == first and last <= x1
        y_ok = y0 <= lo and hi <= y1 and (hi - lo) >= 0.4 * (y1 - y0)
        if x_ok and y_ok:
            return None
        xlim = (x0, x1) if x_ok else (first, first + max(10, int(1.5 * (last - first)) + 1))
        return xlim, (y0, y1) if y_ok else (lo - pad, hi + pad)

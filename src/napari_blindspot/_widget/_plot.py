"""The live loss plot: training and validation loss against step, drawn with matplotlib."""

from __future__ import annotations

import time

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator, MaxNLocator

REDRAW_EVERY_S = 0.5  # a full redraw costs 30-60 ms of the Qt event loop while training runs; a blit a few


class LossPlot(FigureCanvasQTAgg):
    """Call `add()` for every progress event and `flush()` often; it redraws at most every 0.5 s."""

    def __init__(self, theme=None, parent=None):
        fig = Figure(figsize=(3.4, 1.7), dpi=100)
        fig.subplots_adjust(left=0.17, right=0.97, top=0.86, bottom=0.25)  # fixed: layout engines cost 2x
        super().__init__(fig)
        self.setParent(parent)
        self.setMinimumHeight(150)
        self.setMaximumHeight(200)
        self.ax = fig.add_subplot()
        self._colours(fig, theme)
        # animated: full draws leave the lines out, and flush() blits them onto the saved background
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
        self.steps, self.losses, self.val_steps, self.val_losses = [], [], [], []
        self._dirty, self._drawn_at, self._background = False, 0.0, None
        self.mpl_connect("draw_event", self._on_draw)

    def _colours(self, fig, theme) -> None:
        bg = theme.foreground.as_hex() if theme is not None else "#2e333e"
        self._fg = theme.text.as_hex() if theme is not None else "#f0f1f2"
        fig.set_facecolor(bg)
        self.ax.set_facecolor(bg)
        for spine in self.ax.spines.values():
            spine.set_color(self._fg)
        self.ax.tick_params(colors=self._fg)
        self.ax.xaxis.label.set_color(self._fg)
        self.ax.yaxis.label.set_color(self._fg)

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
        """Redraw if something changed and the last redraw is old enough (or `force`).

        Most redraws only blit the two lines onto the saved axes background (a few ms); the
        axes are drawn in full (~30-60 ms on a busy CPU) only when the data leave the limits,
        which grow with headroom, so that happens a few times per run."""
        now = time.monotonic()
        if not self._dirty or (not force and now - self._drawn_at < REDRAW_EVERY_S):
            return
        self._train.set_data(self.steps, self.losses)
        self._val.set_data(self.val_steps, self.val_losses)
        limits = self._limits(tight=force)  # forced at the end of a run: fit the data exactly
        if force or self._background is None or limits is not None:
            self._empty.set_visible(not self.steps)
            if not self.steps:
                self.ax.set_xticks([])
                self.ax.set_yticks([])
            else:
                self.ax.xaxis.set_major_locator(MaxNLocator(integer=True))
                self.ax.yaxis.set_major_locator(AutoLocator())
            if limits is not None:
                self.ax.set_xlim(*limits[0])
                self.ax.set_ylim(*limits[1])
            self._background = None
            self.draw_idle()  # _on_draw saves the new background and blits the lines
        else:
            self._blit_lines()
        self._dirty, self._drawn_at = False, now

    def _limits(self, tight: bool = False):
        """New (xlim, ylim) when the data no longer fit the current ones (or fit too loosely), else
        None; with `tight`, limits that fit the data without headroom."""
        if not self.steps:
            return None
        (x0, x1), (y0, y1) = self.ax.get_xlim(), self.ax.get_ylim()
        first, last = self.steps[0], self.steps[-1]
        values = np.asarray(self.losses[len(self.losses) // 20 :] + self.val_losses)  # skip the first 5%
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

    def _on_draw(self, _event) -> None:
        """After a full draw (lines excluded: they are animated), keep the background, add the lines."""
        self._background = self.copy_from_bbox(self.ax.bbox)
        self._draw_lines()  # into the buffer that the coming paint shows

    def _blit_lines(self) -> None:
        self.restore_region(self._background)
        self._draw_lines()
        self.blit(self.ax.bbox)

    def _draw_lines(self) -> None:
        self.ax.draw_artist(self._train)
        self.ax.draw_artist(self._val)

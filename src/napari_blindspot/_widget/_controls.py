"""The dock's controls under the settings: Train / Train more, progress and status, loss plot,
the model line, Save / Load model, Apply to layer and Save result.

Every part keeps its height whatever it says (the status `STATUS_LINES` lines high, the rest in
its tooltip), so nothing in the dock moves when training starts or ends."""

from __future__ import annotations

from magicgui.widgets import ComboBox
from napari.utils.theme import get_theme
from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import (QWIDGETSIZE_MAX, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy,
                            QVBoxLayout, QWidget)

from ._form import as_note
from ._plot import LossPlot
from ._progress import ProgressBar

STATUS_LINES = 7  # a doubtful result's status (verdict, how it ended, estimate) in a 340 px wide dock
MODEL_LINES = 2  # HQ-SSL's model line with its learned noise
PLOT_HEIGHT = 170
WINDOW_CHROME = 160  # napari's title, menu and status bars and the dock's title, in pixels
SAVE_RESULT_TIP = ("Save the selected result layer (else the last one), and its uncertainty, as TIFF "
                   "with how it was made (method, steps, noise, estimate) in the file. napari's File > "
                   "Save keeps that only with the 'TIFF with provenance' file type; reopen with "
                   "viewer.open(path, plugin=\"napari-blindspot\") or File > Open (choose Blindspot denoising).")


class _Rows(QScrollArea):
    """As tall as its rows when the dock has the room (napari's dock puts a stretch below), shorter
    with a scroll bar when not."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        rows, hint = self.widget(), self.widget().sizeHint()
        # wrapped hints are as tall as the width they get, which the plain size hint does not know
        height = rows.heightForWidth(self.viewport().width()) if rows.hasHeightForWidth() else -1
        height = max(height, hint.height(), rows.minimumSizeHint().height()) + 2 * self.frameWidth()  # a style's border
        return QSize(hint.width() + self._bar_width(), height)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        """All the rows, unless that is taller than the screen leaves the dock: then it scrolls
        (up and down only: never narrower than the rows)."""
        rows, screen = self.sizeHint().height(), self.screen()
        height = rows if screen is None else min(rows, screen.availableGeometry().height() - WINDOW_CHROME)
        return QSize(self.widget().minimumSizeHint().width() + self._bar_width(), height)

    def _bar_width(self) -> int:
        """The scroll bar's width while it shows (as wide as the rows, and no wider, when not)."""
        bar = self.verticalScrollBar()
        return bar.sizeHint().width() if bar.isVisible() else 0

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt's name)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # a row shown or hidden: the dock lays out again
        return super().eventFilter(watched, event)


def scrolling_layout(widget: QWidget) -> QVBoxLayout:
    """The layout for the dock's rows, in a scroll area: taller than the dock (a short screen, a
    long hint), the rows scroll, and neither grow napari's window past the screen nor lie over
    each other."""
    widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
    outer = widget.layout() or QVBoxLayout(widget)
    outer.setContentsMargins(0, 0, 0, 0)
    scroll = _Rows()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(inner := QWidget())
    outer.addWidget(scroll)
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(6, 6, 6, 6)
    return layout


def _button(text: str, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    return button


def _row(layout, *widgets) -> None:
    """(widget, stretch) pairs side by side."""
    row = QHBoxLayout()
    for widget, stretch in widgets:
        row.addWidget(widget, stretch)
    layout.addLayout(row)


class Controls:
    """Adds its widgets to `layout`; `status()` and `set_state()` say what they show."""

    def __init__(self, layout, parent, theme: str, apply_choices):
        self.train_button = _button("Train", "Train on the chosen image; press again to stop and keep the "
                                    "result so far.")
        self.train_more_button = _button("Train more", "Continue training the current model.")
        _row(layout, (self.train_button, 2), (self.train_more_button, 1))
        self.progress_bar = ProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.progress_bar)
        self.status_label = QLabel()  # the status while the bar is busy, which hides its text
        self.status_label.setWordWrap(True)
        layout.addWidget(_fixed_lines(self.status_label, STATUS_LINES))
        self.loss_plot = LossPlot(get_theme(theme), parent=parent)
        self.loss_plot.setFixedHeight(PLOT_HEIGHT)
        layout.addWidget(self.loss_plot)
        self.model_label = as_note(QLabel())
        layout.addWidget(_fixed_lines(self.model_label, MODEL_LINES))
        self.save_button, self.load_button = _button("Save model"), _button("Load model")
        self.export_button = _button("Export (bioimage.io)", "Write the current model as a bioimage.io "
                                     "model package (.zip), for other tools (needs napari-blindspot[bmz]).")
        _row(layout, (self.save_button, 1), (self.export_button, 1), (self.load_button, 1))
        self.apply_picker = ComboBox(choices=apply_choices, tooltip="The layer to denoise with the current model.")
        self.apply_button = _button("Apply to layer", "Denoise the chosen layer with the current model.")
        _row(layout, (self.apply_picker.native, 1), (self.apply_button, 0))
        self.save_result_button = _button("Save result…", SAVE_RESULT_TIP)
        _row(layout, (self.save_result_button, 1))
        layout.addStretch(1)  # room to spare goes below the rows, not between them
        self.status("Ready", 0, 1)

    def status(self, text: str, value: int | None = None, maximum: int | None = None, minimum: int = 0,
               detail: str = "") -> None:
        """Say `text` in the bar and `detail` (too long for one line) under it; with a range, set
        the bar too ((0, 0): busy)."""
        if maximum is not None:
            self.progress_bar.setRange(minimum, maximum)
        if value is not None:
            self.progress_bar.setValue(value)
        self.progress_bar.setFormat(text)
        busy = self.progress_bar.maximum() == self.progress_bar.minimum() == 0
        shown = [text] if busy else []  # a busy bar shows no text
        self.status_label.setText(" · ".join(shown + ([detail] if detail else [])))
        self.status_label.setToolTip(self.status_label.text())  # whole, should it be cut

    def set_state(self, state: str, has_model: bool) -> None:
        """idle | training (Train reads Stop) | predicting (everything waits)."""
        idle = state == "idle"
        self.train_button.setText("Stop" if state == "training" else "Train")
        self.train_button.setEnabled(state != "predicting")
        self.train_more_button.setEnabled(idle and has_model)
        self.load_button.setEnabled(idle)
        self.apply_picker.native.setEnabled(idle)
        self.save_button.setEnabled(idle and has_model)
        self.export_button.setEnabled(idle and has_model)
        self.apply_button.setEnabled(idle and has_model)
        self.save_result_button.setEnabled(idle)  # any result layer of ours, this run's or reopened


class _Lines(QObject):
    """Keeps a label `lines` lines high in the font it ends up with: napari's style sheet sets
    it once the label is in the window, after the label was made (cut lines, else)."""

    def __init__(self, label: QLabel, lines: int):
        super().__init__(label)
        self.lines = lines
        self.fit(label)
        label.installEventFilter(self)

    def fit(self, label: QLabel) -> None:
        """As high as `lines` lines need, laid out as the label lays out its text (a wrapping label
        adds margins and leading that its font's line spacing does not count)."""
        text = label.text()
        label.setMinimumHeight(0)  # measured without the height it was given before
        label.setMaximumHeight(QWIDGETSIZE_MAX)
        label.setText("\n".join("X" * self.lines))
        height = label.heightForWidth(1000) if label.wordWrap() else label.sizeHint().height()
        label.setText(text)
        label.setFixedHeight(height)

    def eventFilter(self, label, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.Show):
            self.fit(label)
        return False


def _fixed_lines(label: QLabel, lines: int) -> QLabel:
    """`label`, `lines` lines high whatever it says: more is cut, and whole in its tooltip."""
    label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    _Lines(label, lines)
    return label

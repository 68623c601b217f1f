"""The loss plot draws on its own thread and shows the finished image."""

import threading

import numpy as np

from napari_blindspot._widget._plot import LossPlot


def _pixels(image) -> np.ndarray:
    image = image.convertToFormat(image.Format.Format_RGBA8888)
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, : 4 * image.width()].copy()


def test_the_plot_is_drawn_off_the_ui_thread_and_shows_the_data(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(340, 170)
    plot.show()
    qtbot.waitUntil(lambda: plot.image is not None, timeout=5000)  # the empty plot
    empty = _pixels(plot.image)
    assert plot.drawn_on != threading.main_thread().ident

    for step in range(1, 41):
        plot.add(step, 1.0 / step, 1.2 / step if step % 10 == 0 else None)
    plot.flush(force=True)
    qtbot.waitUntil(lambda: not plot._drawing and not plot._dirty, timeout=5000)
    drawn = _pixels(plot.image)
    ratio = plot.devicePixelRatioF()
    assert plot.image.width() == round(plot.width() * ratio) and plot.image.height() == round(plot.height() * ratio)
    assert (drawn != empty).any(axis=-1).mean() > 0.01  # lines, ticks and labels where there were none
    (x0, x1), (y0, y1) = plot.ax.get_xlim(), plot.ax.get_ylim()
    assert (x0, x1) == (1, 40) and y0 < 1.2 / 40 and y1 > 0.1  # fitted to the data at the end

    plot.shutdown()
    plot.add(41, 0.01)
    plot.flush(force=True)  # after shutdown: nothing happens, nothing raises
    assert not plot._drawing


def test_the_end_of_a_run_fits_the_limits_even_while_a_drawing_is_under_way(qtbot):
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(340, 170)
    plot.show()
    qtbot.waitUntil(lambda: plot.image is not None and not plot._drawing, timeout=5000)  # the empty plot
    for step in range(1, 101):
        plot.add(step, 1.0 / step)
    plot._drawn_at = 0.0  # as if the last drawing were old
    plot.flush()  # a drawing with headroom starts...
    assert plot._drawing
    plot.flush(force=True)  # ...and the run ends before it is done
    qtbot.waitUntil(lambda: not plot._drawing and not plot._dirty, timeout=5000)
    assert plot.ax.get_xlim() == (1, 100)
    plot.shutdown()

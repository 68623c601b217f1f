"""napari deletes a removed layer's OpenGL objects outside any paint, in whatever context is
current (another widget's, after its synchronous repaint); while the widget is docked, that is
the canvas's context (see _widget/_gl.py)."""

from qtpy.QtGui import QOffscreenSurface, QOpenGLContext

from napari_blindspot._widget import DenoiseWidget

from .conftest import noisy


def _context_current_when_removed(viewer, qtbot) -> tuple:
    """Remove a layer while another GL context is current (as after a synchronous repaint of
    some other widget); return (the context current once napari has removed it, the canvas's)."""
    layer = viewer.add_image(noisy((32, 32)))
    canvas = viewer.window._qt_viewer.canvas._scene_canvas.native
    qtbot.waitUntil(canvas.isValid, timeout=5000)  # shown and initialised
    other, surface = QOpenGLContext(), QOffscreenSurface()
    surface.create()
    assert other.create() and other.makeCurrent(surface)
    current = []
    viewer.layers.events.removed.connect(lambda event: current.append(QOpenGLContext.currentContext()))
    viewer.layers.remove(layer)
    if QOpenGLContext.currentContext() == other:
        other.doneCurrent()
    return current[0], canvas.context(), other


def test_with_the_widget_layers_are_removed_in_the_canvas_context(make_napari_viewer, qtbot):
    viewer = make_napari_viewer(show=True)
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    qtbot.waitUntil(lambda: widget.opening.done, timeout=10_000)  # its last part connects to the layer list
    current, canvas_context, other = _context_current_when_removed(viewer, qtbot)
    assert current == canvas_context and current != other
    widget._res.release()

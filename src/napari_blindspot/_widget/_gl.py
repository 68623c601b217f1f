"""A workaround for napari deleting a removed layer's OpenGL objects in the wrong context.

When a layer is removed, napari's canvas runs `gc.collect()` and then `context.finish()`
(`VispyCanvas._clean_and_update_scenegraph`), which executes vispy's queued glDelete* calls
at once, outside any paint, in whatever OpenGL context is current. After a synchronous
repaint of any widget (`QProgressBar.setValue` repaints at once) that is Qt's compositing
context, not the canvas's, and Mesa (under Xvfb) segfaulted in the canvas's next glDrawArrays
(docs/reliability.md, "A napari crash the widget works around"). The dock keeps this in place
until its last job has ended, and removes its own layers before it lets go (`_lifecycle.py`).
"""

from __future__ import annotations


def make_canvas_current(viewer) -> None:
    """Make the OpenGL context of `viewer`'s canvas current, so that GL work done outside a
    paint reaches the context its objects belong to. Does nothing without a Qt canvas."""
    try:
        native = viewer.window._qt_viewer.canvas._scene_canvas.native
        native.makeCurrent()  # a no-op until the canvas has been shown and initialised
    except (AttributeError, RuntimeError):  # no window (headless model), or Qt already deleted it
        return

"""Layers > Filter > "Denoise with current model" (the open dock's model on the selected layer),
and the dock opened under the one name napari's Plugins menu gives it."""

from __future__ import annotations

from napari.layers import Image, Layer
from napari.utils.notifications import show_info, show_warning
from napari.viewer import Viewer

PLUGIN, DISPLAY_NAME, DOCK_NAME = "napari-blindspot", "Blindspot denoising", "Self-supervised denoising"  # napari.yaml
DOCK_TITLE = f"{DOCK_NAME} ({DISPLAY_NAME})"  # napari's Plugins menu names (and toggles) the dock so


def find_dock(viewer):
    """The open DenoiseWidget of `viewer`, or None."""
    from ._dock import DenoiseWidget

    window = getattr(viewer, "window", None)
    docks = getattr(window, "dock_widgets", None) or {}
    return next((widget for widget in docks.values() if isinstance(widget, DenoiseWidget)), None)


def open_dock(viewer: Viewer):
    """Show the dock: the one already there, else a new one under the Plugins menu's name (napari's
    `add_plugin_dock_widget` would name it by the package, and the Plugins menu would add a second)."""
    from ._dock import DenoiseWidget

    viewer = getattr(viewer, "__wrapped__", viewer)
    if (widget := find_dock(viewer)) is not None:
        if (dock := viewer.window._wrapped_dock_widgets.get(DOCK_TITLE)) is not None:
            dock.show()
        return widget
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget, name=DOCK_TITLE, area="right")
    return widget


def denoise_with_current_model(viewer: Viewer, layer: Layer) -> None:
    """Apply the dock's model to `layer` (the selected one), or say what is missing."""
    viewer = getattr(viewer, "__wrapped__", viewer)
    layer = getattr(layer, "__wrapped__", layer)
    if not isinstance(layer, Image) or layer.rgb:
        show_warning("Select a grayscale or multichannel image layer to denoise.")
        return
    dock = find_dock(viewer)
    if dock is None or dock.model is None:
        if dock is None:
            open_dock(viewer)
        show_info("No model yet: train or load one in the denoising dock first, then denoise "
                  f"'{layer.name}' with Layers > Filter > Denoise with current model.")
        return
    if dock.busy:
        show_warning("The denoising dock is busy: wait for it, or stop it, then try again.")
        return
    dock.controls.apply_picker.value = layer
    dock.apply_to(layer)

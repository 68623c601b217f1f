"""napari's layer context menu: "Denoise with current model" (the open dock's model on the
selected layer) and "Open the denoising dock"."""

from __future__ import annotations

from napari.layers import Image, Layer
from napari.utils.notifications import show_info, show_warning
from napari.viewer import Viewer

PLUGIN, DOCK_NAME = "napari-blindspot", "Self-supervised denoising"  # as in napari.yaml


def find_dock(viewer):
    """The open DenoiseWidget of `viewer`, or None."""
    from ._dock import DenoiseWidget

    window = getattr(viewer, "window", None)
    docks = getattr(window, "dock_widgets", None) or {}
    return next((widget for widget in docks.values() if isinstance(widget, DenoiseWidget)), None)


def open_dock(viewer: Viewer):
    """Show the dock (added once; napari raises the one already there)."""
    viewer = getattr(viewer, "__wrapped__", viewer)
    return find_dock(viewer) or viewer.window.add_plugin_dock_widget(PLUGIN, DOCK_NAME)[1]


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
                  f"'{layer.name}' from this menu.")
        return
    if dock.busy:
        show_warning("The denoising dock is busy: wait for it, or stop it, then try again.")
        return
    dock.controls.apply_picker.value = layer
    dock.apply_to(layer)

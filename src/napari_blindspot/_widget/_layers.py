"""A combo box of the viewer's image layers that follows layers being added, removed, renamed."""

from __future__ import annotations

from napari.layers import Image, Labels
from qtpy.QtCore import Signal
from qtpy.QtWidgets import QComboBox


def layer_data(layer):
    """The array to train on or predict: level 0 of a multiscale layer, else `layer.data`."""
    return layer.data[0] if layer.multiscale else layer.data


def why_not_usable(layer) -> str | None:
    """None for a grayscale (or multichannel) image layer, else why it cannot be denoised."""
    if isinstance(layer, Labels):
        return "labels"
    if not isinstance(layer, Image):
        return "not an image"
    if layer.rgb:
        return "RGB"
    return None


class LayerPicker(QComboBox):
    """Lists the viewer's usable image layers; `skipped` names RGB and labels layers left out."""

    layer_changed = Signal(object)  # the chosen layer, or None
    skipped_changed = Signal(str)

    def __init__(self, viewer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self._layers: list = []
        self.skipped = ""
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.currentIndexChanged.connect(lambda _: self.layer_changed.emit(self.current_layer()))
        events = viewer.layers.events
        self._connections = [(events.inserted, self._on_inserted), (events.removed, self._on_removed)]
        for emitter, callback in self._connections:
            emitter.connect(callback)
        for layer in viewer.layers:
            layer.events.name.connect(self._refresh)
        self._refresh()

    def current_layer(self):
        index = self.currentIndex()
        return self._layers[index] if 0 <= index < len(self._layers) else None

    def set_current(self, layer) -> None:
        if layer in self._layers:
            self.setCurrentIndex(self._layers.index(layer))

    def disconnect_viewer(self) -> None:
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        for layer in self.viewer.layers:
            layer.events.name.disconnect(self._refresh)
        self._connections = []

    def _on_inserted(self, event) -> None:
        event.value.events.name.connect(self._refresh)
        self._refresh()

    def _on_removed(self, event) -> None:
        event.value.events.name.disconnect(self._refresh)
        self._refresh()

    def _refresh(self, event=None) -> None:
        """Rebuild the items from the viewer's layers, keeping the chosen layer chosen."""
        chosen = self.current_layer()
        usable = [layer for layer in self.viewer.layers if why_not_usable(layer) is None]
        renamed = getattr(event, "source", None) if getattr(event, "type", None) == "name" else None
        if renamed is not None and renamed in usable and usable == self._layers:  # only its text changes
            for index, layer in enumerate(usable):
                if self.itemText(index) != layer.name:
                    self.setItemText(index, layer.name)
            return
        left_out = [f"'{layer.name}' ({why})" for layer in self.viewer.layers
                    if (why := why_not_usable(layer)) in ("RGB", "labels")]
        self.blockSignals(True)
        self.clear()
        self._layers = usable
        self.addItems([layer.name for layer in usable])
        index = usable.index(chosen) if chosen in usable else (len(usable) - 1 if usable else -1)
        self.setCurrentIndex(index)
        self.blockSignals(False)
        if self.current_layer() is not chosen:
            self.layer_changed.emit(self.current_layer())
        skipped = ("Not listed: " + ", ".join(left_out) + ". Only grayscale or multichannel "
                   "images can be denoised.") if left_out else ""
        if skipped != self.skipped:
            self.skipped = skipped
            self.skipped_changed.emit(skipped)

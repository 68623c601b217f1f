"""Which of the viewer's layers the widget offers, and the layer combo boxes that follow them."""

from __future__ import annotations

from contextlib import contextmanager

from napari.layers import Image, Labels

from ..io.provenance import KEY as OURS  # metadata key on the layers the widget makes (preview, results)


def layer_data(layer):
    """The array to train on or predict: level 0 of a multiscale layer, else `layer.data`."""
    return layer.data[0] if layer.multiscale else layer.data


def layer_scale(layer) -> tuple[float, ...]:
    """The layer's voxel spacing per data axis, for the core (napari allows negative scales: flips)."""
    return tuple(abs(float(s)) for s in layer.scale)


@contextmanager
def not_selected(layers):
    """Layers added here are not made the active one, as napari does with each new layer (the
    preview, the hidden uncertainty): the add then skips napari's selection events, about a
    fifth of its time. napari keeps the switch in a private attribute; without it, napari selects."""
    before = getattr(layers, "_activate_on_insert", None)
    if before is not None:
        layers._activate_on_insert = False
    try:
        yield
    finally:
        if before is not None:
            layers._activate_on_insert = before


def why_not_usable(layer) -> str | None:
    """None for a grayscale (or multichannel) image layer, else why it cannot be denoised."""
    if isinstance(layer, Labels):
        return "labels"
    if not isinstance(layer, Image):
        return "not an image"
    if layer.rgb:
        return "RGB"
    return None


def is_ours(layer) -> bool:
    """A preview or result this widget made (a raw image is what one trains on)."""
    return OURS in getattr(layer, "metadata", {})


class LayerChoices:
    """Keeps magicgui layer combo boxes in step with the viewer's layers (added, removed, moved,
    renamed): a combo keeps its layer while it exists, else takes the last raw image in view."""

    EVENTS = ("inserted", "removed", "moved", "reordered", "name")

    def __init__(self, viewer):
        self.viewer = viewer
        self.combos = []
        self._picked = {}  # id(combo) -> the layer this class picked for it (not the user)
        self.on_change = lambda: None  # called after the layers changed
        viewer.layers.events.connect(self._on_layers_event)  # the list's own events and its layers'

    def usable(self, raw_only: bool = False) -> list:
        return [layer for layer in self.viewer.layers
                if why_not_usable(layer) is None and not (raw_only and is_ours(layer))]

    def choices(self, raw_only: bool):
        """A magicgui `choices` callable: (name, layer) pairs."""
        return lambda widget=None: [(layer.name, layer) for layer in self.usable(raw_only)]

    def skipped(self) -> str:
        left_out = [f"'{layer.name}' ({why})" for layer in self.viewer.layers
                    if (why := why_not_usable(layer)) in ("RGB", "labels")]
        return ("Not listed: " + ", ".join(left_out) + ". Only grayscale or multichannel images "
                "can be denoised.") if left_out else ""

    def follow(self, combo) -> None:
        self.combos.append(combo)
        self.refresh(combo, keep=False)  # its first item is no one's choice
        self.on_change()

    def refresh(self, combo, keep: bool = True) -> None:
        chosen = combo.value if keep else None
        with combo.changed.blocked():
            combo.reset_choices()
            layers = list(combo.choices)
            raw = [layer for layer in layers if not is_ours(layer)]
            shown = [layer for layer in raw if layer.visible]  # e.g. not a sample's hidden clean image
            if chosen is self._picked.get(id(combo)) and chosen not in shown and shown:
                chosen = None  # our own pick of a hidden layer (a sample's clean one, added first) gives way
            visible = [layer for layer in layers if layer.visible]  # before a hidden raw one, e.g. '[clean]'
            pick = chosen if chosen in layers else (shown or visible or raw or layers or [None])[-1]
            if pick is not None:
                combo.value = pick
        self._picked[id(combo)] = pick if pick is not chosen else self._picked.get(id(combo))
        if pick is not chosen:
            combo.changed.emit(pick)

    def _on_layers_event(self, event) -> None:
        if event.type in self.EVENTS:
            for combo in self.combos:
                self.refresh(combo)
            self.on_change()

    def disconnect(self) -> None:
        self.viewer.layers.events.disconnect(self._on_layers_event)
        self.combos.clear()

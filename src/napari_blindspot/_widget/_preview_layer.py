"""The `<source> [preview]` layer: added at Train, updated in place, and at the end it becomes the result."""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QTimer

from ._jobs import display_range
from ._layers import OURS, not_selected
from ._preview import MAX_SIDE, MAX_SIDE_3D, VOLUME_3D, blank, place, preview_region

PENDING = " [preview…]"  # the preview layer's name suffix until the first preview


class PreviewLayer:
    """One preview layer of one source at a time, in `viewer`."""

    def __init__(self, viewer):
        self.viewer = viewer
        self.layer = None
        self.source = None
        self.filled = False  # holds a preview (until then: transparent, `[preview…]`)
        self._limits = None  # the contrast limits we last gave it (others are the user's)

    @property
    def shown(self) -> bool:
        """Whether the layer shows a preview yet (and has its final name)."""
        return self.filled and self.layer is not None and not self.layer.name.endswith(PENDING)

    def name(self) -> str:
        return f"{self.source.name} [preview]" if self.filled else self.source.name + PENDING

    def region(self, layer, axes: str, gpu: bool, three_d: bool = False) -> tuple:
        """The part of `layer` to preview for the viewer's current point and field of view (for a
        3D network in the 3D view: a sub-volume around the camera's centre)."""
        dims, device = self.viewer.dims, "gpu" if gpu else "cpu"
        camera = getattr(self.viewer, "scene", self.viewer).camera  # napari >= 0.9: viewer.scene.camera
        volume = VOLUME_3D[device] if three_d and dims.ndisplay == 3 else None
        return preview_region(layer, axes, dims.point, dims.displayed, (MAX_SIDE_3D if three_d else MAX_SIDE)[device],
                              volume, camera.center)

    def add_placeholder(self, source, region: tuple, shape: tuple[int, ...]) -> None:
        """Zeros where the first preview will go, fully transparent: adding a layer and its first
        draw are costly on the UI thread, so they happen now, before the worker competes for the
        CPU, and the first preview is only a data update (docs/benchmarks.md, "Widget latency")."""
        self.remove()
        self.source = source
        self._add(blank(region, shape), region, opacity=0.0, contrast_limits=source.contrast_limits)

    def _add(self, preview, region, **kwargs) -> None:
        data, translate = self._placement(preview, region)
        with not_selected(self.viewer.layers):
            self.layer = self.viewer.add_image(
                data, name=self.name(), scale=self.source.scale, translate=translate, affine=self.source.affine,
                colormap=self.source.colormap, metadata={OURS: {"kind": "preview"}}, **kwargs)
        self._limits = tuple(self.layer.contrast_limits)

    def _placement(self, preview: np.ndarray, region: tuple) -> tuple[np.ndarray, np.ndarray]:
        """The layer's data and translate for the preview of `region` of the source."""
        data, start = place(preview, region)
        return data, np.asarray(self.source.translate) + np.asarray(start) * np.asarray(self.source.scale)

    def show(self, preview: np.ndarray, region: tuple) -> None:
        """Put the preview of `region` where it belongs: a region-sized layer placed by translate."""
        layer = self.layer
        if layer is None or layer not in self.viewer.layers:  # the user removed it: add it again
            self.filled = True
            self._add(preview, region, contrast_limits=display_range(preview))
            return
        data, translate = self._placement(preview, region)
        if not np.array_equal(layer.translate, translate):  # setting it, even unchanged, is not free
            layer.translate = translate
        if tuple(layer.contrast_limits) == self._limits:  # else the user has set them: theirs stay
            layer.contrast_limits = display_range(preview)
            self._limits = tuple(layer.contrast_limits)
        layer.data = data
        if not self.filled:  # the first preview: only now is it `<source> [preview]`
            self.filled = True
            if layer.opacity == 0.0:  # the placeholder's; a user may have changed it meanwhile
                layer.opacity = 1.0
            # renamed in the next turn of the event loop, which redraws the layer list and the
            # pickers for it; this turn already repaints the canvas
            QTimer.singleShot(0, self.rename)

    def rename(self, event=None) -> None:
        if self.layer is not None and self.layer in self.viewer.layers:
            self.layer.name = self.name()

    def forget(self, layer) -> None:
        """`layer` was removed from the viewer (by the user, or by us)."""
        if layer is self.layer:
            self.layer = None

    def take(self):
        """Hand the layer over (to become the result): it is no longer the preview's."""
        layer, self.layer, self.filled = self.layer, None, False
        return layer if layer is not None and layer in self.viewer.layers else None

    def remove(self) -> None:
        layer, self.layer, self.filled = self.layer, None, False
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

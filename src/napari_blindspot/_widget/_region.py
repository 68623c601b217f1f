"""The live preview follows the view: each move through the stack (Z, T), pan, zoom or switch
to napari's 3D view is pushed to the running training as its new preview region (`_preview.py`
says which region), debounced into one push.

Only the region's few numbers cross to the worker: reading the viewer stays on the main thread,
and the denoising of the region happens at the core's next preview.
"""

from __future__ import annotations

from superqt.utils import qdebounced

from ._warm_up import on_gpu


class FollowTheView:
    """Connects the viewer's dims and camera events (through `resources`, which lets go of them)
    to the running job's `set_preview_region`."""

    debounce_ms = 150  # a drag of the Z slider or a zoom sends one region, not dozens

    def __init__(self, viewer, preview, resources, device_choice, parent):
        self.viewer, self.preview, self._res = viewer, preview, resources
        self._device_choice = device_choice  # () -> the form's device, before a run has chosen one
        self._push_soon = qdebounced(self.push, timeout=self.debounce_ms, parent=parent)
        camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9: viewer.scene.camera
        for emitter in (viewer.dims.events.current_step, viewer.dims.events.ndisplay,
                        camera.events.center, camera.events.zoom):
            resources.connect(emitter, self._schedule)

    def region(self, layer, axes: str) -> tuple:
        """The preview region for the viewer now, sized for the run's device and network (3D or not)."""
        job = self._res.job
        run = job.run if job is not None else None
        gpu = run.device.type != "cpu" if run is not None else on_gpu(self._device_choice())
        return self.preview.region(layer, axes, gpu, three_d=run is not None and run.three_d)

    def _schedule(self, event=None) -> None:
        if self._res.job is not None and self._res.job.kind == "train":
            self._push_soon()

    def push(self) -> None:
        job = self._res.job
        if job is not None and job.run is not None and job.source in self.viewer.layers:
            job.run.set_preview_region(self.region(job.source, job.axes))

"""The dock's model buttons: Save model, Load model, Export (bioimage.io) and Apply to layer; and
Save result."""

from __future__ import annotations

from pathlib import Path

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info

from . import _jobs, _models, _save_result
from ._layers import OURS, layer_data
from ._lifecycle import Job, gc_freeze, gc_thaw


class ModelActions:
    """Mixed into DenoiseWidget: what its model buttons do (it provides model, busy, form, ...)."""

    def _connect_buttons(self) -> None:
        c = self.controls
        for button, handler in ((c.save_button, self._on_save), (c.load_button, self._on_load),
                                (c.export_button, self._on_export), (c.apply_button, self._on_apply),
                                (c.save_result_button, self._on_save_result)):
            button.clicked.connect(handler)

    def _may_discard_model(self, doing: str) -> bool:
        job = self._res.job
        steps = self._step_offset + job.steps if job is not None and job.kind == "train" and job.steps else None
        return _models.may_discard(self, self.model, self.model_saved, doing, steps)

    def _unchanged_by_training(self, job) -> None:
        """A Train more that did no step, or kept the weights it started from (none beat them), leaves
        the model saved as it was: losing it loses nothing, so nothing is asked."""
        before, self._before_run = self._before_run, None
        final = job.final
        if before is not None and job.kind == "train" and (not job.steps or (final is not None and final.best_step == 0)):
            self.model_saved, self.model_folder, self._model_origin = before
            if self.model_folder:
                self._remember_folder(self.model_folder)

    def _remember_folder(self, folder: str) -> None:
        """The model now lives in `folder`: the layers it made last say so too."""
        self.model_folder = folder
        for layer in self.results:
            if layer in self.viewer.layers and OURS in layer.metadata:
                layer.metadata[OURS]["model_folder"] = folder

    def _on_save(self) -> None:
        folder = self.ask_directory("Save the model to a folder") if self.model is not None and not self.busy else ""
        if folder and _models.save(self, self.model, folder):
            self.model_saved = True
            self._remember_folder(folder)

    def _on_save_result(self) -> None:
        """Ask where, then write the chosen result and its uncertainty with their record, on a worker."""
        denoised, uncertainty = _save_result.chosen_results(self.viewer, self.results)
        if not denoised and uncertainty is None:
            show_error("No result to save: press Train, or select a result layer of ours.")
            return
        first = denoised[0] if denoised else uncertainty
        name = _save_result.file_stem((first.metadata[OURS].get("name") if denoised else None) or first.name)
        folder = _save_result.last_folder[-1:] or [""]
        path = _save_result.ask_save_path(self, str(Path(folder[0]) / f"{name}.tif"))
        if not path:
            return
        _save_result.last_folder[:] = [str(Path(path).parent)]
        worker = create_worker(_save_result.save_job, _save_result.writes(path, denoised, uncertainty),
                               _start_thread=False)
        worker.returned.connect(lambda message: (show_info if message.startswith("Saved") else show_error)(message))
        self.save_result_worker = worker
        worker.start()

    def _on_load(self) -> None:
        if self.busy or not self._may_discard_model("Load another model"):
            return
        folder = self.ask_directory("Load a model folder")
        model = _models.load(folder, self.form.device.value) if folder else None
        if model is not None:
            self.model, self.model_saved, self._model_origin = model, True, f" (loaded from {folder})"
            self.model_folder, self.results = folder, []
            self.form.show_model(model)
            self._set_state("idle")

    def _on_export(self) -> None:
        """Ask where and for whom, then write the bioimage.io package on a worker thread."""
        model = self.model
        if model is None or self.busy:
            return
        from .. import bmz  # light: a model exists, so torch is loaded; bioimageio is imported by the worker

        if missing := _models.bioimageio_missing():
            show_error(f"Cannot export: {missing}")
            return
        answers = _models.ask_export(self, bmz.DEFAULT_NAME.format(method=model.method.upper()))
        if answers is None:
            return
        path, name, authors, license_ = answers
        sample = layer_data(self.form.image.value) if self.form.image.value is not None else None
        if sample is not None and (len(model.spec.axes) != sample.ndim or self.form.axes_problem(model.spec.axes)):
            sample = None  # the core's synthetic test image instead of one in other axes
        worker = create_worker(_models.export_job, model, path, name, authors, license_, sample,
                               _start_thread=False)
        worker.returned.connect(lambda message: (show_info if message.startswith("Exported") else show_error)(message))
        self.export_worker = worker
        # bioimageio.core's test run calls gc.collect(), a stall over all of napari's objects
        worker.finished.connect(gc_thaw)
        gc_freeze()
        worker.start()

    def _on_apply(self) -> None:
        self.apply_to(self.controls.apply_picker.value)

    def apply_to(self, layer) -> bool:
        """Denoise `layer` with the current model; True when started."""
        model = self.model
        if self.busy or model is None:
            return False
        if layer is None:
            show_error("Choose an image layer to apply the model to.")
            return False
        image, axes, status = layer_data(layer), _models.apply_axes(model, layer, self.form), _jobs.JobStatus()
        worker = create_worker(_jobs.predict_job, model, image, axes, status,
                               lazy=_jobs.wants_lazy_result(image, layer.multiscale), _start_thread=False)
        self._start(Job("apply", worker, status, layer, axes, phase="predict"), "predicting", f"Denoising '{layer.name}'…")
        return True

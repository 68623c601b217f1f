"""The training dock: composes the settings form, buttons, progress and plot, and handles events.

One Train click: `_on_train_clicked` -> worker `_jobs.train_job` -> core `train()` -> `step()` -> loss.
The worker gets plain arrays and one TrainConfig; its events come back here, on the main
thread, where every layer change happens (`_on_event`).
"""

from __future__ import annotations

import time

from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_warning
from qtpy.QtCore import QEvent, QTimer
from qtpy.QtWidgets import QFileDialog, QWidget
from superqt import QCollapsible

from ..core import methods
from . import _jobs
from ._controls import Controls, scrolling_layout
from ._form import SettingsForm
from ._gl import make_canvas_current
from ._layers import LayerChoices, layer_data
from ._model_actions import ModelActions
from ._lifecycle import AskBeforeViewerCloses, Job, Resources, follow_docking, gc_freeze, gc_thaw, DeferredBuild, collect_with_napari
from ._preview_layer import PreviewLayer
from ._progress import about, clock
from ._region import FollowTheView
from ._quality import estimate_text, joined, true_text
from ._results import SAVE_HINT, add_result, add_uncertainty, base_name, describe_model, done_text, select_result, uncertainty_text
from ._verdict import FEW_STEPS, budget_warning, doubt, estimated_budget_warning, how_it_ended


class DenoiseWidget(ModelActions, QWidget):
    """Self-supervised denoising dock: pick a layer, press Train, get a denoised layer."""

    preview_every_s = 2.0  # seconds between live previews (the core stretches it if previews are slow)
    double_click_s = 0.4  # a second click on Train this soon after starting is not a Stop
    few_steps = FEW_STEPS  # a run of fewer steps gives no result to trust (tests lower it)
    worse_below_db = 0.0  # ...nor one whose final estimated gain is below this
    apart_ms = 40  # between the result's layer changes: the window repaints in between

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        # napari hands plugins a public-only proxy; the widget compares layers by identity
        # (`layer is job.source`), which needs the real objects that events carry.
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.model = None  # the current model: trained here, or loaded
        self.model_saved = True  # False for a model trained here and not saved yet
        self._model_origin = ""
        self.model_folder = ""  # where the current model was saved or loaded from
        self.results = []  # the layers the current model made last
        self._step_offset = 0  # steps the model had before this run
        self._before_run = None  # (saved, folder, origin) of the model a Train more continues
        self._pending = None  # (True, or HQ-SSL's uncertainty layer to add): the result's next turn is to come
        self._finish_pending = False  # the job ended before that turn
        self._res = Resources()
        self.preview = PreviewLayer(self.viewer)
        # injectable for tests: (title) -> folder path, "" when cancelled
        self.ask_directory = lambda title: QFileDialog.getExistingDirectory(self, title)
        self.setMinimumWidth(340)  # from the start: the viewer does not jump when the form appears
        self.destroyed.connect(self._res.release)
        self.opening = DeferredBuild(self, self._build)

    def __getattr__(self, name: str):  # a part of the form asked for before it is built (a script): built now
        if name in ("form", "controls", "settings", "advanced", "layers") and "opening" in self.__dict__ and self.opening.now():
            return getattr(self, name)
        raise AttributeError(name)

    # -- layout -----------------------------------------------------------------------------

    def _build(self):
        """The dock's parts, yielding between them (`DeferredBuild` runs one per turn)."""
        layout = scrolling_layout(self)
        self.layers = LayerChoices(self.viewer)
        self.form = SettingsForm(self.layers.choices(raw_only=True))
        self.settings = self.form.basic.native
        layout.addWidget(self.settings)
        yield
        self.advanced = QCollapsible("Advanced")
        self.advanced.setContentsMargins(0, 0, 0, 0)
        self.advanced.addWidget(self.form.advanced.native)
        layout.addWidget(self.advanced)
        yield
        self.controls = Controls(layout, self, self.viewer.theme, self.layers.choices(raw_only=False))
        self._ui_timer = QTimer(self)  # runs while a job runs: plot redraws, prediction progress
        self._ui_timer.setInterval(200)
        yield
        self._connect()
        self._set_state("idle")

    def _connect(self) -> None:
        self.layers.on_change = lambda: self.form.set_skipped(self.layers.skipped())
        self.layers.follow(self.form.image)
        self.layers.follow(self.controls.apply_picker)
        self.layers.follow(self.form.second)
        self.controls.train_button.clicked.connect(self._on_train_clicked)
        self.controls.train_more_button.clicked.connect(self._on_train_more_clicked)
        self._connect_buttons()  # the model buttons and Save result
        self._ui_timer.timeout.connect(self._tick)

        res, viewer = self._res, self.viewer
        res.connect(viewer.layers.events.removing, lambda event: make_canvas_current(viewer),  # see _gl.py
                    until_jobs_end=True)
        res.connect(viewer.layers.events.removing, collect_with_napari)
        res.connect(viewer.layers.events.removed, self._on_layer_removed)
        self.follow = FollowTheView(viewer, self.preview, res, lambda: self.form.device.value, parent=self)
        asker = AskBeforeViewerCloses(viewer, lambda: self._may_discard_model("Close the viewer"))
        # the widget's layers go while the GL workaround still holds
        res.closers += [asker.remove, self.preview.remove, self.layers.disconnect, self.form.disconnect,
                        self.controls.loss_plot.shutdown]

    # -- state ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._res.job is not None

    @property
    def preview_shown(self) -> bool:
        """Whether the `<source> [preview]` layer shows a preview yet (and has that name)."""
        return self.preview.shown

    def _set_state(self, state: str) -> None:
        """idle | training | predicting: settings only change while idle."""
        self.controls.set_state(state, self.model is not None)
        self.settings.setEnabled(state == "idle")
        self.advanced.setEnabled(state == "idle")
        if state == "idle":
            self.controls.model_label.setText(describe_model(self.model, self._model_origin))

    # -- jobs ---------------------------------------------------------------------------------

    def _on_train_clicked(self) -> None:
        job = self._res.job
        if job is None:
            self._start_training(continue_model=False)
        elif job.kind == "train" and time.monotonic() - job.started_at > self.double_click_s:
            self.stop()

    def _on_train_more_clicked(self) -> None:
        if self._res.job is None and self.model is not None:
            self._start_training(continue_model=True)

    def stop(self) -> None:
        """End training now; the model so far still gives the result layer."""
        job = self._res.job
        if job is not None and job.kind == "train" and job.phase == "train":
            job.stop()
            self.controls.train_button.setEnabled(False)
            self.controls.status("Stopping…")

    def _start_training(self, continue_model: bool) -> None:
        layer = self.form.image.value
        if layer is None:
            show_error("Choose an image layer to train on (open an image, or use "
                       "File > Open Sample > Blindspot denoising).")
            return
        image, model = layer_data(layer), self.model if continue_model else None
        try:
            axes, config = self.form.train_config(layer, model, preview_every_s=self.preview_every_s,
                                                  num_threads=_jobs.worker_threads())
            target = self.form.target() if methods.get(config.method).needs_pairs else None
        except (ValueError, TypeError) as err:
            show_error(f"Cannot train: {err}")
            return
        if not continue_model and not self._may_discard_model("Train a new model"):
            return
        status, region = _jobs.JobStatus(), self.follow.region(layer, axes)
        worker = create_worker(_jobs.train_job, image, config, model, region, status, target=target,
                               lazy=_jobs.wants_lazy_result(image, layer.multiscale), _start_thread=False)
        self._step_offset = model.spec.history.get("steps", 0) if model is not None else 0
        if model is None:
            self.controls.loss_plot.clear()
        if self.preview_every_s:
            self.preview.add_placeholder(layer, region, image.shape)
        self._start(Job("train", worker, status, layer, axes), "training", "Starting…")

    def _start(self, job: Job, state: str, text: str) -> None:
        self._res.job = job
        job.worker.yielded.connect(self._on_event)
        job.worker.finished.connect(self._on_finished)
        job.source.events.name.connect(self.preview.rename)
        self._set_state(state)
        self.controls.status(text, 0, 0)
        self._ui_timer.start()
        gc_freeze()
        # after the window has drawn the new preview layer: beside the worker's start it took twice as long
        QTimer.singleShot(self.apart_ms, lambda: self._res.job is job and job.worker.start())

    def _on_event(self, event) -> None:
        job = self._res.job
        if job is None:
            return
        if isinstance(event, _jobs.Started):
            job.run = event.run
            self._before_run = (self.model_saved, self.model_folder, self._model_origin) if event.run.model is self.model else None
            self.follow.push()  # the region for the run's device and network (3D or not)
            self.model, self.model_saved, self.model_folder, self._model_origin = event.run.model, False, "", ""
            what = f"on from {self._step_offset} steps" if self._step_offset else "a new model"
            self.controls.model_label.setText(f"Training {what}: {event.run.config.method}, axes {event.run.config.axes}")
            if job.stop_requested:
                event.run.stop()
        elif isinstance(event, _jobs.StepEstimate):
            if warning := estimated_budget_warning(event.step_s, job, self.few_steps):
                show_warning(warning)
        elif isinstance(event, _jobs.Failed):
            show_error(event.message)
        elif isinstance(event, _jobs.NoSteps):
            show_warning(event.message)
        elif isinstance(event, _jobs.Predicting):
            job.phase = "predict"
            self._set_state("predicting")
            self.controls.status("Denoising the whole image…" if job.kind == "train" else f"Denoising '{job.source.name}'…", 0, 0)
        elif isinstance(event, _jobs.Result):
            job.finished_with_result, job.phase, applied = True, "done", job.kind == "apply"
            verdict = None if applied else doubt(job.final, self._step_offset + job.steps, self.few_steps, self.worse_below_db)
            self.results = add_result(self.viewer, event, job.source, job.axes, self.model_folder,
                                      reuse=self.preview.take(), uncertainty=False,
                                      tag=verdict and verdict[0], applied=applied)
            # the uncertainty layer, then the end of the job, each in a turn of its own, after a repaint
            self._pending = (event.uncertainty is None or
                             (event, job.source, base_name(self.results[0]), job.axes, self.model_folder, applied))
            QTimer.singleShot(self.apart_ms, self._after_result)
            self.model = event.model
            gain = estimate_text(job.gain_db if job.kind == "train" else None)
            if verdict:
                show_warning(verdict[1])
            self.controls.status(done_text(event, job.source.name if applied else "", verdict and verdict[0]), 1, 1,
                                 detail=joined(verdict and verdict[1], how_it_ended(job.final, job.run, self._step_offset), gain,
                                               true_text(self.viewer, job.source, event.denoised), uncertainty_text(event), SAVE_HINT))
        else:
            self._on_progress(event, job)

    def _after_result(self) -> None:
        """HQ-SSL's uncertainty layer, added after the result; then the end of the job, if it has ended."""
        pending, self._pending = self._pending, None
        if isinstance(pending, tuple) and pending[1] in self.viewer.layers and not self._res.released:
            self.results.append(add_uncertainty(self.viewer, *pending))
        if self._finish_pending:
            self._finish_pending = False
            QTimer.singleShot(self.apart_ms, self._on_finished)

    def _on_progress(self, p, job: Job) -> None:
        """Steps count the model's whole history, in the bar as in the plot."""
        step, job.steps = self._step_offset + p.step, p.step
        if p.done:
            job.final = p
        elif warning := budget_warning(p, job, self.few_steps):
            show_warning(warning)
        if p.val_loss is not None:  # a validation: its estimate, or that the gain cannot be told
            job.gain_db = (p.estimated_psnr_gain_db, p.estimated_psnr_gain_db_interval)
        self.controls.loss_plot.add(step, p.loss, p.val_loss)
        if p.preview is not None and not job.status.cancelled.is_set():
            self.preview.show(p.preview, p.preview_region)
        if p.done or job.stop_requested:
            return
        total = self._step_offset + max(1, p.total)
        self.controls.status(f"Training: step {step} of ~{total} · {clock(p.eta_s)} left", step, total,
                             self._step_offset, detail=estimate_text(job.gain_db))

    def _tick(self) -> None:
        self.controls.loss_plot.flush()
        job = self._res.job
        if job is not None and job.phase == "predict" and job.status.tiles_total:
            tiles = job.status.tiles_total
            share = job.status.tiles_done / tiles  # a share: a batch of 3D tiles is long
            self.controls.status(f"Denoising: {100 * share:.0f} % of {tiles} tile{'s' * (tiles != 1)}"
                                 f"{about(job.status.eta_s())}", round(1000 * share), 1000)

    def _on_finished(self) -> None:
        if self._pending is not None:  # the result's next turn first: it ends the job then
            self._finish_pending = True
            return
        job, self._res.job = self._res.job, None
        self._ui_timer.stop()
        if job is None:  # released: the dock is closed, its layers are gone
            return
        self.controls.loss_plot.flush(force=True)
        gc_thaw()
        job.source.events.name.disconnect(self.preview.rename)
        self.preview.remove()
        if job.kind == "train" and self.model is not None and self.model.spec.history.get("steps", 0) == 0:
            self.model = None  # an untrained network is no model
        self._unchanged_by_training(job)
        if not job.finished_with_result:  # failed, cancelled or no steps
            self.controls.status("Ready", 0, 1)
        select_result(self.viewer, self.results if job.finished_with_result else [])
        self._set_state("idle")

    # -- removed layers ---------------------------------------------------------------------------

    def _on_layer_removed(self, event) -> None:
        layer, job = event.value, self._res.job
        self.preview.forget(layer)
        if job is None or layer is not job.source:
            return
        job.stop(cancel=True)
        self.preview.remove()
        if job.kind == "train":
            show_warning(f"Training stopped: the layer '{layer.name}' was removed. The model so far "
                         "is kept: use Save model, or Apply to layer.")
        else:
            show_warning(f"Stopped applying the model: the layer '{layer.name}' was removed.")

    # -- closing ----------------------------------------------------------------------------

    def closeEvent(self, event) -> None:
        if not self._may_discard_model("Close the denoising dock"):
            event.ignore()
            return
        self._res.release()
        super().closeEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ParentChange:
            follow_docking(self, self._res, lambda: self._may_discard_model("Close the denoising dock"))
        return super().event(event)

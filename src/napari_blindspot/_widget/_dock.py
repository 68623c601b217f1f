"""The training dock widget: translates between napari (layers, dims, camera) and the core.

Flow of one training run (see `_jobs.py` for the worker side):

    Train clicked -> read layer.data, build one TrainConfig (main thread)
      -> worker: train_job() iterates the core's TrainingRun and yields its events
      -> main thread, `_on_event`: progress bar, loss plot, preview layer, result layers

Every layer change happens here, on the main thread. The worker gets plain arrays and a
config; the main thread steers it through `run.stop()` and `run.set_preview_region()`.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field, replace

import numpy as np
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error, show_info, show_warning
from napari.utils.theme import get_theme
from qtpy.QtCore import QEvent, Qt, QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from ..core.data import choose_three_d, guess_axes, validate_axes
from ..core.config import NOISE_MODELS, TrainConfig
from . import _jobs
from ._gl import make_canvas_current
from ._layers import LayerPicker, layer_data
from ._plot import LossPlot
from ._preview import MAX_SIDE, blank, place, preview_region
from ._progress import ProgressBar

METHODS = {"N2V": "n2v", "N2V2": "n2v2", "HQ-SSL": "hqssl"}
DEVICES = ("auto", "cpu", "cuda", "mps")
CHANNEL_MODES = {"one model per channel": "independent", "one model for all": "joint"}  # -> TrainConfig.channels
CHANNELS_TIP = (
    "For images with a C axis.\n"
    "One model for all: one network sees every channel and denoises them together, so channels "
    "that show the same structures help each other. Each channel keeps its own normalisation "
    "(and, with HQ-SSL, its own noise level).\n"
    "One model per channel: each channel gets its own full-size network that never sees the "
    "other channels: for unrelated stains, or when one channel's structures must not appear in "
    "another. Slower: with N channels, a step costs about N times as much."
)
PREVIEW_PENDING = " [preview…]"  # the preview layer's name suffix until the first preview
Z_MODES = {"auto": None, "3D": True, "2D slices": False}  # label -> TrainConfig.three_d
ERROR_STYLE = "QLineEdit { border: 1px solid #e0443e; }"


def _clock(seconds: float) -> str:
    seconds = int(round(max(0.0, seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def layer_scale(layer) -> tuple[float, ...]:
    """The layer's voxel spacing per data axis, for the core (napari allows negative scales: flips)."""
    return tuple(abs(float(s)) for s in layer.scale)


def _auto_spin(maximum: int, step: int = 1, tip: str = "") -> QSpinBox:
    """A spin box whose 0 reads "auto" (the core's default for this method and device)."""
    spin = QSpinBox()
    spin.setRange(0, maximum)
    spin.setSingleStep(step)
    spin.setSpecialValueText("auto")
    spin.setToolTip(tip)
    return spin


def _set_row_visible(form: QFormLayout, field: QWidget, visible: bool) -> None:
    if hasattr(form, "setRowVisible"):  # Qt >= 6.4
        form.setRowVisible(field, visible)
    else:
        field.setVisible(visible)
        form.labelForField(field).setVisible(visible)


_jobs_running = 0  # across all dock widgets of the process


def _gc_freeze() -> None:
    """While any job runs, keep the objects that existed before it out of Python's full
    collections: with napari's ~540,000 objects one takes 270-420 ms of the UI thread
    (measured during training, benchmarks/widget_latency.py), and a job's allocations trigger
    them. `_gc_thaw` hands those objects back to the collector when the last job ends."""
    global _jobs_running
    if _jobs_running == 0:
        gc.freeze()
    _jobs_running += 1


def _gc_thaw() -> None:
    global _jobs_running
    _jobs_running = max(0, _jobs_running - 1)
    if _jobs_running == 0:
        gc.unfreeze()


@dataclass
class _Job:
    """The one job (training or applying a model) the widget runs at a time."""

    kind: str  # "train" | "apply"
    worker: object
    status: _jobs.JobStatus
    source: object  # the napari layer it reads
    axes: str
    run: object = None  # the core TrainingRun, once the worker has made it
    phase: str = "train"  # "train" | "predict" | "done" (result shown: the timer leaves the bar alone)
    stop_requested: bool = False
    finished_with_result: bool = False
    started_at: float = field(default_factory=time.monotonic)

    def stop(self, cancel: bool = False) -> None:
        """End training (the result is still computed), or with `cancel` give up entirely."""
        self.stop_requested = True
        if cancel:
            self.status.cancel()
        if self.run is not None:
            self.run.stop()


class _Resources:
    """What must be let go when the widget goes away. Plain Python, so it is still safe to
    call from the widget's `destroyed` signal, after the Qt side is gone."""

    def __init__(self):
        self.connections: list[tuple[object, object]] = []  # (napari emitter, callback)
        self.closers: list = []
        self.job: _Job | None = None

    def connect(self, emitter, callback) -> None:
        emitter.connect(callback)
        self.connections.append((emitter, callback))

    def release(self) -> None:
        if self.job is not None:
            self.job.stop(cancel=True)
            self.job.worker.quit()
            self.job = None  # so _on_finished, if it still comes, leaves the collector alone
            _gc_thaw()
        for emitter, callback in self.connections:
            emitter.disconnect(callback)
        self.connections.clear()
        for close in self.closers:
            close()
        self.closers.clear()


class DenoiseWidget(QWidget):
    """Self-supervised denoising dock: pick a layer, press Train, get a denoised layer."""

    preview_every_s = 2.0  # seconds between live previews (the core stretches it if previews are slow)
    double_click_s = 0.4  # a second click on Train this soon after starting is not a Stop

    def __init__(self, napari_viewer, parent=None):
        super().__init__(parent)
        # napari hands plugins a public-only proxy; the widget compares layers by identity
        # (`layer is job.source`), which needs the real objects that events carry.
        self.viewer = getattr(napari_viewer, "__wrapped__", napari_viewer)
        self.model = None  # the current model: trained here, or loaded
        self._model_origin = ""
        self._preview_layer = None
        self._preview_shown = False  # the preview layer holds a preview (until then: transparent, `[preview…]`)
        self._preview_limits = None  # the contrast limits the widget last gave the preview layer
        self._step_offset = 0
        self._res = _Resources()
        # injectable for tests: (title) -> folder path, "" when cancelled
        self.ask_directory = lambda title: QFileDialog.getExistingDirectory(self, title)
        self._build()
        self._connect()
        _jobs.warm_up_torch()
        self._on_source_changed(self.layer_picker.current_layer())
        self._set_state("idle")

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setMinimumWidth(340)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        self.settings = QWidget()
        form = QFormLayout(self.settings)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layer_picker = LayerPicker(self.viewer)
        self.layer_picker.setToolTip("The noisy image to train on. It is never modified.")
        form.addRow("Image", self.layer_picker)
        self.skipped_label = self._note("")
        form.addRow(self.skipped_label)
        self.axes_edit = QLineEdit()
        self.axes_edit.setPlaceholderText("e.g. YX, ZYX, TYX, CYX")
        form.addRow("Axes", self.axes_edit)
        self.z_mode_combo = QComboBox()
        self.z_mode_combo.addItems(Z_MODES)
        self.z_mode_combo.setToolTip("Z stacks: train with 3D patches, or each Z plane as a 2D image. "
                                     "'auto' follows the voxel size (the layer's scale).")
        self.z_hint = self._note("")
        self.z_box = QWidget()
        z_layout = QVBoxLayout(self.z_box)
        z_layout.setContentsMargins(0, 0, 0, 0)
        z_layout.setSpacing(2)
        z_layout.addWidget(self.z_mode_combo)
        z_layout.addWidget(self.z_hint)
        form.addRow("Z", self.z_box)
        self._form = form
        self.channels_combo = QComboBox()
        for label, mode in CHANNEL_MODES.items():
            self.channels_combo.addItem(label, mode)
        self.channels_combo.setToolTip(CHANNELS_TIP)
        form.addRow("Channels", self.channels_combo)
        self._channels_form = form
        self._show_channel_choice(False)  # until the axes have a C
        self.method_combo = QComboBox()
        for label, method in METHODS.items():
            self.method_combo.addItem(label, method)
        self.method_combo.setToolTip("N2V: Noise2Void. N2V2: without checkerboard artefacts. "
                                     "HQ-SSL: blind-spot network with a noise model, also gives an "
                                     "uncertainty map.")
        form.addRow("Method", self.method_combo)
        self.noise_combo = QComboBox()
        self.noise_combo.addItems(NOISE_MODELS)
        self.noise_combo.setToolTip("HQ-SSL's noise model. Cameras: poisson-gaussian (shot + read noise).")
        self.sigma_spin = QDoubleSpinBox()
        self.sigma_spin.setRange(0, 1e6)
        self.sigma_spin.setDecimals(2)
        self.sigma_spin.setSpecialValueText("auto")
        self.sigma_spin.setToolTip("Known Gaussian noise level σ, in the image's units ('auto': learn it).")
        noise_row = QHBoxLayout()
        noise_row.addWidget(self.noise_combo, 2)
        noise_row.addWidget(QLabel("σ"))
        noise_row.addWidget(self.sigma_spin, 1)
        form.addRow("Noise", noise_row)
        self.duration_spin = QSpinBox()
        self.duration_spin.setRange(1, 10_000_000)
        self.duration_spin.setValue(60)
        self.duration_unit = QComboBox()
        self.duration_unit.addItems(["seconds", "steps"])
        self.duration_unit.setToolTip("Train for a time budget or a number of steps. "
                                      "60 s gives a good result on a 512x512 image on a laptop CPU.")
        duration_row = QHBoxLayout()
        duration_row.addWidget(self.duration_spin, 1)
        duration_row.addWidget(self.duration_unit, 1)
        form.addRow("Train for", duration_row)
        layout.addWidget(self.settings)

        self.advanced = QCollapsible("Advanced")
        self.advanced.setContentsMargins(0, 0, 0, 0)
        advanced = QWidget()
        adv = QFormLayout(advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        self.patch_spin = _auto_spin(1024, 8, "Side of the square training patches, in pixels.")
        adv.addRow("Patch size", self.patch_spin)
        self.batch_spin = _auto_spin(1024, 1, "Patches per training step. Smaller uses less memory.")
        adv.addRow("Batch size", self.batch_spin)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setRange(0, 0.1)
        self.lr_spin.setDecimals(5)
        self.lr_spin.setSingleStep(1e-4)
        self.lr_spin.setSpecialValueText("auto")
        adv.addRow("Learning rate", self.lr_spin)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        adv.addRow("Seed", self.seed_spin)
        self.device_combo = QComboBox()
        self.device_combo.addItems(DEVICES)
        adv.addRow("Device", self.device_combo)
        self.features_spin = _auto_spin(256, 4, "Network width (base number of filters). "
                                                "Wider learns more but trains slower on a CPU.")
        adv.addRow("Network width", self.features_spin)
        self.advanced.addWidget(advanced)
        layout.addWidget(self.advanced)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Train on the chosen image; press again to stop and keep the result so far.")
        self.train_more_button = QPushButton("Train more")
        self.train_more_button.setToolTip("Continue training the current model.")
        buttons.addWidget(self.train_button, 2)
        buttons.addWidget(self.train_more_button, 1)
        layout.addLayout(buttons)
        self.progress_bar = ProgressBar()
        self.progress_bar.setTextVisible(True)
        self.progress_bar.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.progress_bar.setFormat("Ready")
        self.progress_bar.setValue(0)
        layout.addWidget(self.progress_bar)
        self.loss_plot = LossPlot(get_theme(self.viewer.theme), parent=self)
        layout.addWidget(self.loss_plot)

        self.model_label = self._note("")
        layout.addWidget(self.model_label)
        model_row = QHBoxLayout()
        self.save_button = QPushButton("Save model")
        self.load_button = QPushButton("Load model")
        model_row.addWidget(self.save_button)
        model_row.addWidget(self.load_button)
        layout.addLayout(model_row)
        apply_row = QHBoxLayout()
        self.apply_picker = LayerPicker(self.viewer)
        self.apply_button = QPushButton("Apply to layer")
        self.apply_button.setToolTip("Denoise the chosen layer with the current model.")
        apply_row.addWidget(self.apply_picker, 1)
        apply_row.addWidget(self.apply_button)
        layout.addLayout(apply_row)

        self._ui_timer = QTimer(self)  # runs while a job runs: plot redraws, prediction progress
        self._ui_timer.setInterval(200)
        self._region_timer = QTimer(self)  # debounces dims/camera changes into preview regions
        self._region_timer.setSingleShot(True)
        self._region_timer.setInterval(150)

    @staticmethod
    def _note(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        font = label.font()
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        label.setFont(font)
        label.setStyleSheet("color: #a0a4aa;")
        return label

    def _connect(self) -> None:
        self.layer_picker.layer_changed.connect(self._on_source_changed)
        self.layer_picker.skipped_changed.connect(self._on_skipped_changed)
        self._on_skipped_changed(self.layer_picker.skipped)
        self.axes_edit.textChanged.connect(self._on_axes_edited)
        self.z_mode_combo.currentIndexChanged.connect(self._show_z_choice)
        self.device_combo.currentIndexChanged.connect(self._show_z_choice)  # auto's choice depends on it
        self.method_combo.currentIndexChanged.connect(self._update_enabled)
        self.noise_combo.currentIndexChanged.connect(self._update_enabled)
        self.duration_unit.currentIndexChanged.connect(self._on_unit_changed)
        self.train_button.clicked.connect(self._on_train_clicked)
        self.train_more_button.clicked.connect(self._on_train_more_clicked)
        self.save_button.clicked.connect(self._on_save)
        self.load_button.clicked.connect(self._on_load)
        self.apply_button.clicked.connect(self._on_apply)
        self._ui_timer.timeout.connect(self._tick)
        self._region_timer.timeout.connect(self._push_preview_region)

        res, viewer = self._res, self.viewer
        camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9: viewer.scene.camera
        res.connect(viewer.layers.events.removing, lambda event: make_canvas_current(viewer))  # see _gl.py
        res.connect(viewer.layers.events.removed, self._on_layer_removed)
        for emitter in (viewer.dims.events.current_step, viewer.dims.events.ndisplay,
                        camera.events.center, camera.events.zoom):
            res.connect(emitter, self._schedule_preview_region)
        res.closers += [self.layer_picker.disconnect_viewer, self.apply_picker.disconnect_viewer,
                        self._stop_watching_scale, self.loss_plot.shutdown]
        self.destroyed.connect(res.release)

    # -- state ------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._res.job is not None

    @property
    def preview_shown(self) -> bool:
        """Whether the `<source> [preview]` layer shows a preview yet (and has that name)."""
        layer = self._preview_layer
        return self._preview_shown and layer is not None and not layer.name.endswith(PREVIEW_PENDING)

    def _preview_name(self, source) -> str:
        """`<source> [preview]` once it shows a preview; `<source> [preview…]` while it waits."""
        return f"{source.name} [preview]" if self._preview_shown else source.name + PREVIEW_PENDING

    def _set_state(self, state: str) -> None:
        """idle | training (Train reads Stop) | predicting (everything waits)."""
        idle, has_model = state == "idle", self.model is not None
        self.train_button.setText("Stop" if state == "training" else "Train")
        self.train_button.setEnabled(state != "predicting")
        self.train_more_button.setEnabled(idle and has_model)
        for w in (self.settings, self.advanced, self.load_button, self.apply_picker):
            w.setEnabled(idle)
        self.save_button.setEnabled(idle and has_model)
        self.apply_button.setEnabled(idle and has_model)
        if idle:
            self._update_enabled()
            self._show_model()

    def _update_enabled(self) -> None:
        hq = self.method_combo.currentData() == "hqssl"
        self.noise_combo.setEnabled(hq)
        self.sigma_spin.setEnabled(hq and self.noise_combo.currentText() in ("auto", "gaussian"))

    def _show_model(self) -> None:
        m = self.model
        if m is None:
            self.model_label.setText("No model yet: press Train, or Load model.")
            return
        h = m.spec.history
        text = f"Model: {m.method}, axes {m.spec.axes}, {h.get('steps', 0)} steps ({h.get('seconds', 0):.0f} s)"
        if m.spec.network.get("groups", 1) > 1:
            text += ", one model per channel"
        if m.spec.noise_params:
            text += ", noise " + ", ".join(f"{k} {v:.3g}" for k, v in m.spec.noise_params.items()
                                           if isinstance(v, (int, float)))
        self.model_label.setText(text + self._model_origin)

    # -- settings ---------------------------------------------------------------------------

    def _on_skipped_changed(self, text: str) -> None:
        self.skipped_label.setText(text)
        self.skipped_label.setVisible(bool(text))

    def _on_source_changed(self, layer) -> None:
        watched, self._scale_watched = getattr(self, "_scale_watched", None), layer
        if watched is not None:
            watched.events.scale.disconnect(self._show_z_choice)
        if layer is not None:  # a scale set later (e.g. from the console) changes the 2D/3D choice
            layer.events.scale.connect(self._show_z_choice)
        if layer is None:
            self.axes_edit.setText("")
            return
        shape = layer_data(layer).shape
        try:
            axes = guess_axes(shape, tuple(layer.scale))
        except ValueError:
            axes = ""
        if axes == self.axes_edit.text():
            self._on_axes_edited(axes)
        self.axes_edit.setText(axes)

    def _axes_problem(self, text: str) -> str | None:
        layer = self.layer_picker.current_layer()
        if layer is None:
            return None
        try:
            validate_axes(text, layer_data(layer).shape)
        except (ValueError, TypeError) as err:
            return str(err)
        return None

    def _on_axes_edited(self, text: str) -> None:
        problem = self._axes_problem(text)
        self.axes_edit.setStyleSheet(ERROR_STYLE if problem else "")
        self.axes_edit.setToolTip(problem or "Axes of the image: S, T, C, Z, Y, X (last two are usually YX).")
        self._show_channel_choice(problem is None and "C" in text.upper())
        self._show_z_choice()

    def _show_z_choice(self, event=None) -> None:
        """The Z row shows only for axes with Z: the choice, and what 'auto' decides and why."""
        layer, text = self.layer_picker.current_layer(), self.axes_edit.text()
        axes = text.upper().strip()
        has_z = layer is not None and "Z" in axes and self._axes_problem(text) is None
        self.z_mode_combo.setEnabled(has_z)
        _set_row_visible(self._form, self.z_box, has_z)
        if not has_z:
            return
        from ..core.device import choose_device

        try:
            gpu = choose_device(self.device_combo.currentText()).type != "cpu"
        except ValueError:  # e.g. "cuda" picked on a machine without one: Train will say so
            gpu = False
        _, reason = choose_three_d(axes, layer_data(layer).shape, layer_scale(layer), gpu=gpu)
        chosen = Z_MODES[self.z_mode_combo.currentText()]
        prefix = "" if chosen is None else f"{'3D' if chosen else '2D slices'}, as set. "
        self.z_hint.setText(f"{prefix}Auto: {reason}.")

    def _show_channel_choice(self, has_c: bool) -> None:
        """The Channels row (one model for all channels, or one per channel) shows only for axes with C."""
        self.channels_combo.setEnabled(has_c)
        if hasattr(self._channels_form, "setRowVisible"):  # Qt >= 6.4
            self._channels_form.setRowVisible(self.channels_combo, has_c)
        else:
            self.channels_combo.setVisible(has_c)
            self._channels_form.labelForField(self.channels_combo).setVisible(has_c)

    def _on_unit_changed(self) -> None:
        self.duration_spin.setValue(60 if self.duration_unit.currentText() == "seconds" else 1000)

    def _config(self, axes: str, layer) -> TrainConfig:
        """One TrainConfig from the controls (raises ValueError with a message for the user)."""
        method = self.method_combo.currentData()
        hq = method == "hqssl"
        noise = self.noise_combo.currentText() if hq else "auto"
        sigma = (self.sigma_spin.value() or None) if hq and noise in ("auto", "gaussian") else None
        three_d = Z_MODES[self.z_mode_combo.currentText()] if "Z" in axes else None  # None: the core decides
        seconds = self.duration_unit.currentText() == "seconds"
        value = self.duration_spin.value()
        return TrainConfig(
            method=method, axes=axes, time_budget_s=float(value) if seconds else None,
            steps=None if seconds else value, seed=self.seed_spin.value(),
            device=self.device_combo.currentText(), noise=noise, sigma=sigma,
            patch_size=self.patch_spin.value() or None, batch_size=self.batch_spin.value() or None,
            learning_rate=self.lr_spin.value() or None, features=self.features_spin.value() or None,
            channels=self.channels_combo.currentData() if "C" in axes else "joint",
            three_d=three_d, scale=layer_scale(layer), preview_every_s=self.preview_every_s,
            num_threads=_jobs.worker_threads(),
        )

    # -- training ---------------------------------------------------------------------------

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
            self.train_button.setEnabled(False)
            self.progress_bar.setFormat("Stopping…")

    def _start_training(self, continue_model: bool) -> None:
        layer = self.layer_picker.current_layer()
        if layer is None:
            show_error("Choose an image layer to train on (open an image, or use "
                       "File > Open Sample > Blindspot denoising).")
            return
        image = layer_data(layer)
        model = self.model if continue_model else None
        try:
            axes = validate_axes(self.axes_edit.text(), image.shape)
            config = self._config(axes, layer)
            if model is not None:  # continue as the model was trained: same method, same 2D/3D
                config = replace(config, method=model.method, three_d=None)
        except (ValueError, TypeError) as err:
            show_error(f"Cannot train: {err}")
            return
        status = _jobs.JobStatus()
        region = self._preview_region(layer, axes)
        worker = create_worker(_jobs.train_job, image, config, model, region, status,
                               lazy=_jobs.wants_lazy_result(image, layer.multiscale), _start_thread=False)
        self._step_offset = model.spec.history.get("steps", 0) if model is not None else 0
        if model is None:
            self.loss_plot.clear()
        if self.preview_every_s:
            self._add_preview_placeholder(layer, region, image.shape)
        self._start(_Job("train", worker, status, layer, axes), "training")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat("Starting…")

    def _start(self, job: _Job, state: str) -> None:
        self._res.job = job
        job.worker.yielded.connect(self._on_event)
        job.worker.finished.connect(self._on_finished)
        job.source.events.name.connect(self._on_source_renamed)
        self._set_state(state)
        self._ui_timer.start()
        _gc_freeze()
        job.worker.start()

    def _on_event(self, event) -> None:
        job = self._res.job
        if job is None:
            return
        if isinstance(event, _jobs.Started):
            job.run = event.run
            self.model = event.run.model
            if self.model is not None:
                steps = self.model.spec.history.get("steps", 0)
                self.model_label.setText(f"Training {f'on from {steps} steps' if steps else 'a new model'}: "
                                         f"{self.model.method}, axes {event.run.config.axes}")
            if job.stop_requested:
                event.run.stop()
        elif isinstance(event, _jobs.Failed):
            show_error(event.message)
        elif isinstance(event, _jobs.Predicting):
            job.phase = "predict"
            self._set_state("predicting")
            self.progress_bar.setRange(0, 0)
            self.progress_bar.setFormat("Denoising the whole image…")
        elif isinstance(event, _jobs.Result):
            job.finished_with_result, job.phase = True, "done"
            self._add_result(event, job.source)
        else:
            self._on_progress(event, job)

    def _on_progress(self, p, job: _Job) -> None:
        self.loss_plot.add(self._step_offset + p.step, p.loss, p.val_loss)
        if p.preview is not None and not job.status.cancelled.is_set():
            self._show_preview(p.preview, p.preview_region, job.source)
        if p.done or job.stop_requested:
            return
        self.progress_bar.setRange(0, max(1, p.total))
        self.progress_bar.setValue(p.step)
        self.progress_bar.setFormat(f"Training: step {p.step} of ~{p.total} · {_clock(p.eta_s)} left")

    def _tick(self) -> None:
        self.loss_plot.flush()
        job = self._res.job
        if job is not None and job.phase == "predict" and job.status.tiles_total:
            self.progress_bar.setRange(0, job.status.tiles_total)
            self.progress_bar.setValue(job.status.tiles_done)
            self.progress_bar.setFormat(f"Denoising: tile {job.status.tiles_done} of {job.status.tiles_total}")

    def _on_finished(self) -> None:
        job, self._res.job = self._res.job, None
        self._ui_timer.stop()
        self.loss_plot.flush(force=True)
        if job is not None:
            _gc_thaw()
            job.source.events.name.disconnect(self._on_source_renamed)
        self._remove_preview()
        if job is not None and not job.finished_with_result:  # failed or cancelled
            self.progress_bar.setRange(0, 1)
            self.progress_bar.setValue(0)
            self.progress_bar.setFormat("Ready")
        self._set_state("idle")

    # -- preview ----------------------------------------------------------------------------

    def _preview_region(self, layer, axes: str) -> tuple:
        dims, job = self.viewer.dims, self._res.job
        on_gpu = job is not None and job.run is not None and job.run.device.type != "cpu"
        if job is None:
            from ..core.device import choose_device

            try:
                on_gpu = choose_device(self.device_combo.currentText()).type != "cpu"
            except ValueError:
                on_gpu = False
        return preview_region(layer, axes, dims.point, dims.displayed, MAX_SIDE["gpu" if on_gpu else "cpu"])

    def _schedule_preview_region(self, event=None) -> None:
        job = self._res.job
        if job is not None and job.kind == "train":
            self._region_timer.start()

    def _push_preview_region(self) -> None:
        job = self._res.job
        if job is not None and job.run is not None and job.source in self.viewer.layers:
            job.run.set_preview_region(self._preview_region(job.source, job.axes))

    def _add_preview_placeholder(self, source, region: tuple, shape: tuple[int, ...]) -> None:
        """Add the preview layer before training starts: zeros where the first preview will go,
        fully transparent. napari's add_image takes 90-250 ms of the UI thread (layer controls,
        vispy visual) and the first draw of a layer compiles its shaders; done here, before the
        worker competes for the CPU, they leave the first preview only a data update
        (benchmarks/widget_latency.py)."""
        self._remove_preview()
        data, translate = self._placement(blank(region, shape), region, source)
        self._preview_layer = self.viewer.add_image(
            data, name=self._preview_name(source), opacity=0.0, scale=source.scale, translate=translate,
            affine=source.affine, colormap=source.colormap, contrast_limits=source.contrast_limits)
        self._preview_limits = tuple(self._preview_layer.contrast_limits)

    @staticmethod
    def _placement(preview: np.ndarray, region: tuple, source) -> tuple[np.ndarray, np.ndarray]:
        """The preview layer's data and translate for the preview of `region` of `source`."""
        data, start = place(preview, region)
        return data, np.asarray(source.translate) + np.asarray(start) * np.asarray(source.scale)

    def _show_preview(self, preview: np.ndarray, region: tuple, source) -> None:
        """Put the preview of `region` where it belongs: a region-sized layer placed by translate."""
        data, translate = self._placement(preview, region, source)
        layer = self._preview_layer
        if layer is None or layer not in self.viewer.layers:  # the user removed it: add it again
            self._preview_shown = True
            self._preview_layer = self.viewer.add_image(
                data, name=self._preview_name(source), scale=source.scale, translate=translate,
                affine=source.affine, colormap=source.colormap, contrast_limits=_jobs.display_range(preview))
            self._preview_limits = tuple(self._preview_layer.contrast_limits)
            return
        if not np.array_equal(layer.translate, translate):  # setting it, even unchanged, costs ~20 ms
            layer.translate = translate
        if tuple(layer.contrast_limits) == self._preview_limits:  # else the user has set them: theirs stay
            layer.contrast_limits = _jobs.display_range(preview)
            self._preview_limits = tuple(layer.contrast_limits)
        layer.data = data
        if not self._preview_shown:  # the first preview: only now is it `<source> [preview]`
            self._preview_shown = True
            if layer.opacity == 0.0:  # the placeholder's; a user may have changed it meanwhile
                layer.opacity = 1.0
            # renamed in the next turn of the event loop: the layer list and both layer pickers
            # redraw for it, and this turn already repaints the canvas and the layer list
            QTimer.singleShot(0, self._name_preview)

    def _name_preview(self) -> None:
        job, layer = self._res.job, self._preview_layer
        if job is not None and layer is not None and layer in self.viewer.layers:
            layer.name = self._preview_name(job.source)

    def _remove_preview(self) -> None:
        layer, self._preview_layer, self._preview_shown = self._preview_layer, None, False
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.remove(layer)

    def _on_source_renamed(self, event=None) -> None:
        job = self._res.job
        if job is not None and self._preview_layer is not None:
            self._preview_layer.name = self._preview_name(job.source)

    # -- results, layers removed --------------------------------------------------------------

    def _add_result(self, result: _jobs.Result, source) -> None:
        placement = dict(scale=source.scale, translate=source.translate, rotate=source.rotate,
                         shear=source.shear, affine=source.affine)
        self._remove_preview()
        self.viewer.add_image(result.denoised, name=f"{source.name} [{result.method} denoised]",
                              colormap=source.colormap, contrast_limits=result.limits, **placement)
        if result.uncertainty is not None:
            self.viewer.add_image(result.uncertainty, name=f"{source.name} [uncertainty]", colormap="magma",
                                  visible=False, contrast_limits=result.uncertainty_limits, **placement)
        self.model = result.model
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        lazy = " (denoised as you view it)" if result.lazy else ""
        self.progress_bar.setFormat(f"Done: {result.method}, {result.steps} steps in {result.seconds:.0f} s"
                                    + lazy)

    def _on_layer_removed(self, event) -> None:
        layer = event.value
        if layer is self._preview_layer:
            self._preview_layer = None
        job = self._res.job
        if job is None or layer is not job.source:
            return
        job.stop(cancel=True)
        self._remove_preview()
        if job.kind == "train":
            show_warning(f"Training stopped: the layer '{layer.name}' was removed. The model so far "
                         "is kept: use Save model, or Apply to layer.")
        else:
            show_warning(f"Stopped applying the model: the layer '{layer.name}' was removed.")

    # -- models -----------------------------------------------------------------------------

    def _on_save(self) -> None:
        if self.model is None or self.busy:
            return
        folder = self.ask_directory("Save the model to a folder")
        if not folder:
            return
        try:
            self.model.save(folder)
        except Exception as err:  # noqa: BLE001 - any failure is reported, nothing is left half-done
            show_error(f"Could not save the model: {err}")
            return
        show_info(f"Model saved to {folder}")

    def _on_load(self) -> None:
        if self.busy:
            return
        folder = self.ask_directory("Load a model folder")
        if not folder:
            return
        from ..core.model import load_model

        try:
            model = load_model(folder, device=self.device_combo.currentText())
        except Exception as err:  # noqa: BLE001
            show_error(f"Could not load the model: {err}")
            return
        self.model = model
        self._model_origin = f" (loaded from {folder})"
        index = self.method_combo.findData(model.method)
        self.method_combo.setCurrentIndex(index)
        independent = model.spec.network.get("groups", 1) > 1
        self.channels_combo.setCurrentIndex(self.channels_combo.findData("independent" if independent else "joint"))
        self._set_state("idle")
        show_info(f"Loaded a {model.method} model for axes {model.spec.axes}")

    def _on_apply(self) -> None:
        layer, model = self.apply_picker.current_layer(), self.model
        if self.busy or model is None:
            return
        if layer is None:
            show_error("Choose an image layer to apply the model to.")
            return
        image = layer_data(layer)
        if layer is self.layer_picker.current_layer() and self._axes_problem(self.axes_edit.text()) is None:
            axes = self.axes_edit.text().upper().strip()
        elif len(model.spec.axes) == image.ndim:
            axes = model.spec.axes
        else:
            axes = guess_axes(image.shape, layer_scale(layer)) if 2 <= image.ndim <= 6 else ""
        status = _jobs.JobStatus()
        worker = create_worker(_jobs.predict_job, model, image, axes, status,
                               lazy=_jobs.wants_lazy_result(image, layer.multiscale), _start_thread=False)
        self._start(_Job("apply", worker, status, layer, axes, phase="predict"), "predicting")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setFormat(f"Denoising '{layer.name}'…")

    # -- cleanup ----------------------------------------------------------------------------

    def _stop_watching_scale(self) -> None:
        layer, self._scale_watched = getattr(self, "_scale_watched", None), None
        if layer is not None:
            layer.events.scale.disconnect(self._show_z_choice)

    def closeEvent(self, event) -> None:
        self._res.release()
        super().closeEvent(event)

    def event(self, event) -> bool:
        # napari's "x" on a dock unparents the widget (remove_dock_widget): treat it as closing
        if event.type() == QEvent.Type.ParentChange:
            if self.parent() is not None:
                self._docked = True
            elif getattr(self, "_docked", False):
                self._res.release()
        return super().event(event)

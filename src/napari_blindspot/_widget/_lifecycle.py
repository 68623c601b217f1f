"""The one job a dock runs at a time, and what must be let go when the dock goes away."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field

from qtpy.QtCore import QEvent, QObject, QTimer
from qtpy.QtWidgets import QLabel, QVBoxLayout

from . import _jobs, _warm_up

_holders = 0  # open docks and running jobs, across all dock widgets of the process


def gc_freeze() -> None:
    """Keep every object that exists now out of Python's full collections, while a dock is open
    and while a job runs: with napari's many objects one full collection stalls the UI thread
    for 100-400 ms, and the warm-up's imports, the form's build and a job's allocations trigger
    them (docs/benchmarks.md, "Widget latency"). Freezing again adds the objects made since."""
    global _holders
    gc.freeze()
    _holders += 1


def gc_thaw() -> None:
    """Hand the frozen objects back to the collector when the last dock and job are done."""
    global _holders
    _holders = max(0, _holders - 1)
    if _holders == 0:
        gc.unfreeze()


def collect_with_napari(event=None) -> None:
    """Before a layer is removed: napari then runs a full `gc.collect()` to free the layer's
    OpenGL objects and memory, which must see every object; frozen again in the next turn."""
    if _holders:
        gc.unfreeze()
        QTimer.singleShot(0, lambda: _holders and gc.freeze())


LOADING = "Loading the denoising methods…"  # the dock's one line while torch loads
WARM_UP_AFTER_MS = 250


class DeferredBuild:
    """Start the background warm-up (`_warm_up.warm_up_torch`) and build the dock, one part per turn
    of the event loop: `build()` is a generator that yields between parts. Built once the
    warm-up has loaded torch and the methods, with `LOADING` shown until then (the form names
    the methods, and their modules import torch: on the UI thread that held napari for seconds;
    in one turn, the parts and their first layout held it for 170-390 ms: docs/benchmarks.md,
    "Widget latency"). A script that asks for a part sooner gets it built at once (`now`)."""

    def __init__(self, widget, build):
        self.done, self._parts = False, build()
        self._layout = QVBoxLayout(widget)
        self._layout.addWidget(label := QLabel(LOADING))
        self._label, self._timer = label, QTimer(widget)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._next_part)
        self._timer.start()
        # in a fresh process after the dock's first paint, which mapping torch's libraries stalled
        QTimer.singleShot(0 if _warm_up.torch_loaded.is_set() else WARM_UP_AFTER_MS, _warm_up.warm_up_torch)

    def _next_part(self) -> None:
        if not _warm_up.torch_loaded.is_set():
            return
        self._timer.setInterval(0)  # the next part in the next turn
        self._drop_label()
        if next(self._parts, StopIteration) is StopIteration:
            self._timer.stop()
            self.done = True

    def now(self) -> bool:
        """Build what is left, unless built already (then False); sooner than the warm-up, this
        thread imports."""
        if self.done:
            return False
        self.done = True  # a part that asks for the form (through __getattr__) finds it on its way
        self._timer.stop()
        self._drop_label()
        for _ in self._parts:
            pass
        return True

    def _drop_label(self) -> None:
        if self._label is not None:
            self._layout.removeWidget(self._label)
            self._label.hide()  # deleted by the event loop, which a script's processEvents() never runs
            self._label.deleteLater()
            self._label = None


def ask_before_the_x(widget, may_close) -> None:
    """Make napari's title-bar "x" of the dock holding `widget` ask first, as closing does: the
    button calls its dock's `destroyOnClose()` (napari 0.9), looked up on each click, so the
    dock's own one answers. A napari without it keeps its "x" (closing then releases, unasked)."""
    dock = widget.parent()
    while dock is not None and not hasattr(dock, "destroyOnClose"):
        dock = dock.parent()
    destroy = getattr(dock, "destroyOnClose", None)
    if not callable(destroy) or getattr(destroy, "asks", False):
        return

    def destroy_on_close():
        if may_close():
            destroy()

    destroy_on_close.asks = True
    dock.destroyOnClose = destroy_on_close


def follow_docking(widget, resources: "Resources", may_close) -> None:
    """On a parent change: once docked, napari's "x" asks first; unparented after being docked
    (napari's `remove_dock_widget`), the widget is closed and lets go."""
    if widget.parent() is not None:
        resources.docked = True
        ask_before_the_x(widget, may_close)
    elif resources.docked:
        resources.release()


class AskBeforeViewerCloses(QObject):
    """On the viewer's main window: closing it (its "x", File > Close Window, Quit) asks first,
    as closing the dock does; `viewer.close()` from Python has closed the canvas already: too late."""

    def __init__(self, viewer, may_close):
        super().__init__()
        self.window, self.canvas, self.may_close = viewer.window._qt_window, viewer.window._qt_viewer, may_close
        self.window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Close and not self.canvas.isHidden() and not self.may_close():
            event.ignore()
            return True  # napari's own closeEvent never sees it: the window stays
        return False

    def remove(self) -> None:
        try:
            self.window.removeEventFilter(self)
        except RuntimeError:  # the window is gone already
            pass


@dataclass
class Job:
    """A training run or a model being applied."""

    kind: str  # "train" | "apply"
    worker: object
    status: _jobs.JobStatus
    source: object  # the napari layer it reads
    axes: str
    run: object = None  # the core TrainingRun, once the worker has made it
    phase: str = "train"  # "train" | "predict" | "done" (result shown: the timer leaves the bar alone)
    stop_requested: bool = False
    finished_with_result: bool = False
    gain_db: tuple | None = None  # the latest held-out estimate of the PSNR gain: (gain or None, interval or None)
    steps: int = 0  # steps this run has done so far
    final: object = None  # the run's last Progress event (done=True): the kept weights' estimate
    first_step_s: float = 0.0  # for the budget warning (_verdict.budget_warning), said once
    budget_said: bool = False
    started_at: float = field(default_factory=time.monotonic)

    def stop(self, cancel: bool = False) -> None:
        """End training (the result is still computed), or with `cancel` give up entirely."""
        self.stop_requested = True
        if cancel:
            self.status.cancel()
        if self.run is not None:
            self.run.stop()


class Resources:
    """What must be let go when the widget goes away, napari's objects kept out of full
    collections meanwhile (`gc_freeze`). Plain Python, so it is still safe to call from the
    widget's `destroyed` signal, after the Qt side is gone.

    `until_jobs_end` connections (the GL-context workaround) stay until the last job's worker
    has finished: a closed dock's job still removes layers and the canvas still redraws them."""

    def __init__(self):
        self.connections: list[tuple[object, object]] = []  # (napari emitter, callback)
        self.until_jobs_end: list[tuple[object, object]] = []
        self.closers: list = [gc_thaw]  # called first, while every connection still holds
        self.job: Job | None = None
        self.released = False
        self.docked = False  # has been in a dock: losing the parent then means napari's "x"
        gc_freeze()  # for as long as the dock is open

    def connect(self, emitter, callback, until_jobs_end: bool = False) -> None:
        emitter.connect(callback)
        (self.until_jobs_end if until_jobs_end else self.connections).append((emitter, callback))

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        for close in self.closers:
            close()
        self.closers.clear()
        job, self.job = self.job, None  # so the dock's own finished handler does nothing more
        if job is not None:
            job.stop(cancel=True)
            job.worker.quit()
            gc_thaw()
        _disconnect(self.connections)
        try:
            if job is not None and job.worker.is_running:
                job.worker.finished.connect(lambda: _disconnect(self.until_jobs_end))
                return
        except RuntimeError:  # the worker's Qt signals are gone already (the viewer closed)
            pass
        _disconnect(self.until_jobs_end)


def _disconnect(connections: list) -> None:
    for emitter, callback in connections:
        emitter.disconnect(callback)
    connections.clear()

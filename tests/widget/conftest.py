"""Fixtures for the dock widget tests: a viewer with a tiny noisy image, the widget docked with
settings small enough that a training run takes a fraction of a second per step."""

import math

import numpy as np
import pytest
from qtpy.QtCore import QThreadPool

from napari_blindspot._widget import DenoiseWidget, _dock, _model_actions, _warm_up, _models


def noisy(shape, seed=0):
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    clean = 100 + 40 * np.sin(grids[-1] / 4.0) * np.cos(grids[-2] / 5.0)
    return (clean + rng.normal(0, 15, shape)).astype(np.float32)


@pytest.fixture(autouse=True, scope="session")
def torch_loaded():
    """torch and the methods loaded, as a while after napari opens a dock: docks build at once."""
    _warm_up.warm_up_torch()
    assert _warm_up.torch_loaded.wait(120)


@pytest.fixture
def notes(monkeypatch):
    """Notifications the widget shows, as (kind, message) pairs."""
    shown = []
    for module in (_dock, _models, _model_actions):
        for kind in ("error", "warning", "info"):
            if hasattr(module, f"show_{kind}"):
                monkeypatch.setattr(module, f"show_{kind}", lambda msg, kind=kind: shown.append((kind, msg)))
    return shown


@pytest.fixture(autouse=True)
def answer_yes(monkeypatch):
    """Questions (train over an unsaved model, replace a saved one) are answered yes, not shown."""
    monkeypatch.setattr(_models, "confirm", lambda parent, question, action="Discard": True)


@pytest.fixture
def viewer(make_napari_viewer):
    return make_napari_viewer()


@pytest.fixture
def make_widget(viewer, qtbot):
    """Dock a widget with tiny training settings: features 8, patches 16, batches 4."""
    made = []

    def make(seconds=None, steps=None):
        widget = DenoiseWidget(viewer)
        viewer.window.add_dock_widget(widget)
        widget.preview_every_s = 0.05
        widget.double_click_s = 0.05
        widget.few_steps, widget.worse_below_db = 0, -math.inf  # tiny runs: judged only where a test asks
        widget.form.features.value = 8
        widget.form.patch_size.value = 16
        widget.form.batch_size.value = 4
        if steps is not None:
            widget.form.unit.value = "steps"
            widget.form.duration.value = steps
        else:
            widget.form.duration.value = seconds or 60
        made.append(widget)
        return widget

    yield make
    for widget in made:
        widget._res.release()
    assert QThreadPool.globalInstance().waitForDone(10_000), "a worker thread is still running"


def wait_idle(qtbot, widget, timeout=15_000):
    qtbot.waitUntil(lambda: not widget.busy, timeout=timeout)


def _trained(viewer, make_widget, qtbot, method: str):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=3)
    widget.form.method.value = method
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    assert widget.model is not None and not widget.model_saved
    return widget


@pytest.fixture
def trained(viewer, make_widget, qtbot):
    """A dock that has trained N2V three steps on a 32x32 layer "noisy" and not saved its model."""
    return _trained(viewer, make_widget, qtbot, "n2v")


@pytest.fixture
def trained_hqssl(viewer, make_widget, qtbot):
    """The same with HQ-SSL (so also an uncertainty layer)."""
    return _trained(viewer, make_widget, qtbot, "hqssl")

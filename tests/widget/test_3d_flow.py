"""A 3D network in the dock: its preview follows Z and napari's 3D view, and denoising the whole
volume says how far it is and how long is left."""

import time

from napari_blindspot._widget._preview import VOLUME_3D
from napari_blindspot.core.model import Model

from .conftest import noisy, wait_idle


def _training_in_3d(viewer, make_widget, qtbot, **kwargs):
    viewer.add_image(noisy((24, 64, 64)), name="stack", axis_labels=("z", "y", "x"))
    widget = make_widget(**kwargs)
    widget.form.device.value = "cpu"
    widget.form.z_mode.value = "3D"
    widget.form.patch_size.value = 16
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: widget._res.job.run is not None, timeout=30_000)
    assert widget._res.job.run.three_d
    return widget


def test_the_preview_region_of_a_3d_network_follows_z_and_is_a_bounded_volume_in_the_3d_view(
        viewer, make_widget, qtbot):
    widget = _training_in_3d(viewer, make_widget, qtbot, seconds=60)
    run, pushed = widget._res.job.run, []
    real = run.set_preview_region
    run.set_preview_region = lambda region: pushed.append(region) or real(region)

    viewer.dims.set_current_step(0, 5)
    qtbot.waitUntil(lambda: bool(pushed) and pushed[-1][0] == 5, timeout=5_000)  # the plane the user looks at
    viewer.dims.set_current_step(0, 17)
    qtbot.waitUntil(lambda: pushed[-1][0] == 17, timeout=5_000)

    viewer.dims.ndisplay = 3
    qtbot.waitUntil(lambda: isinstance(pushed[-1][0], slice), timeout=5_000)
    depth, side = VOLUME_3D["cpu"]
    z, y, x = (len(range(*s.indices(n))) for s, n in zip(pushed[-1], (24, 64, 64)))
    assert z == min(depth, 24) and y <= side and x <= side  # a sub-volume, bounded, Z included
    viewer.dims.ndisplay = 2
    qtbot.waitUntil(lambda: isinstance(pushed[-1][0], int), timeout=5_000)  # a plane again
    widget.stop()
    wait_idle(qtbot, widget, timeout=60_000)


def test_denoising_a_volume_with_a_3d_network_says_how_far_it_is_and_how_long_is_left(
        viewer, make_widget, qtbot, monkeypatch):
    real_view = Model._denoise_view

    def slow_view(self, z):  # each test-time view of the volume takes a moment, as on a CPU
        time.sleep(0.15)
        return real_view(self, z)

    monkeypatch.setattr(Model, "_denoise_view", slow_view)
    widget = _training_in_3d(viewer, make_widget, qtbot, steps=2)
    said = []
    real_status = widget.controls.status
    monkeypatch.setattr(widget.controls, "status", lambda text, *a, **k: said.append(text) or real_status(text, *a, **k))
    wait_idle(qtbot, widget, timeout=60_000)
    counting = [text for text in said if text.startswith("Denoising: ")]
    assert any("% of 1 tile ·" in text and "about" in text and " s left" in text for text in counting), said
    assert len(set(counting)) >= 2  # it moves on the way, not only at the end


def test_a_budget_too_short_for_a_3d_network_is_said_before_its_first_step(viewer, make_widget, qtbot, notes,
                                                                          monkeypatch):
    viewer.add_image(noisy((24, 64, 64)), name="stack", axis_labels=("z", "y", "x"))
    widget = make_widget(seconds=2)
    widget.few_steps = 10**6  # whatever a step costs here, the budget is too short for it
    widget.form.device.value, widget.form.z_mode.value = "cpu", "3D"
    real = widget._on_progress
    monkeypatch.setattr(widget, "_on_progress", lambda p, job: notes.append(("step", p.step)) or real(p, job))
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    said = [i for i, (kind, text) in enumerate(notes) if kind == "warning" and "A step will take about" in str(text)]
    steps = [i for i, (kind, _) in enumerate(notes) if kind == "step"]
    assert said and steps and said[0] < steps[0], notes  # said at Train, before the first step
    assert "2D slices" in notes[said[0]][1] and "budget allows" in notes[said[0]][1]
    assert not [text for kind, text in notes if kind == "warning" and "A step took" in str(text)]  # said once

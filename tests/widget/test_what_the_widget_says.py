"""What the widget shows and asks: status beside the busy bar, raw layers first, questions before
a model is lost, results named by steps, HQ-SSL's noise in the image's units."""

import re

import numpy as np
import pytest

from napari_blindspot._widget import _models
from napari_blindspot._widget._layers import OURS
from napari_blindspot._widget._results import describe_noise

from .conftest import noisy, wait_idle


def test_the_status_shows_beside_the_bar_while_the_bar_is_busy(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=120)
    widget.controls.train_button.click()
    bar = widget.controls.progress_bar
    assert bar.maximum() == 0 and widget.controls.status_label.text() == "Starting…"  # busy bar: no text of its own
    qtbot.waitUntil(lambda: widget.preview_shown, timeout=10_000)
    assert bar.maximum() > 0 and bar.text().startswith("Training: step")  # the bar says it: no second copy
    assert not widget.controls.status_label.text().startswith("Training")
    widget.stop()
    assert bar.text() == "Stopping…"
    said, status = [], widget.controls.status

    def status_and_label(*args, **kwargs):
        status(*args, **kwargs)
        said.append(widget.controls.status_label.text())

    widget.controls.status = status_and_label
    wait_idle(qtbot, widget)
    assert "Denoising the whole image…" in said  # busy again while the whole image is denoised
    assert bar.text().startswith("Done") and not widget.controls.status_label.text().startswith("Done")


def test_a_fresh_dock_trains_on_a_raw_layer_and_applies_to_one(viewer, make_widget):
    viewer.add_image(np.zeros((32, 32), np.float32), name="noisy [clean]", visible=False)  # as the samples add
    raw = viewer.add_image(noisy((32, 32)), name="noisy")
    ours = viewer.add_image(noisy((32, 32)), name="noisy [n2v denoised]", metadata={OURS: {"kind": "result"}})
    viewer.add_image(np.zeros((32, 32), np.float32), name="mask", visible=False)
    widget = make_widget()
    assert widget.form.image.value is raw and ours not in widget.form.image.choices
    picker = widget.controls.apply_picker
    assert picker.value is raw and ours in picker.choices  # a result may still be denoised again, if asked
    viewer.layers.remove(raw)  # only hidden ones are left to train on: the last
    assert widget.form.image.value is viewer.layers["mask"]


def _ask(monkeypatch, answer: bool) -> list:
    asked = []
    monkeypatch.setattr(_models, "confirm", lambda parent, question, action="Discard": asked.append(question) or answer)
    return asked


def test_train_asks_before_it_replaces_an_unsaved_model(viewer, make_widget, qtbot, monkeypatch):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=2)
    asked = _ask(monkeypatch, False)
    widget.controls.train_button.click()  # no model yet: nothing to ask
    wait_idle(qtbot, widget)
    model = widget.model
    assert asked == []

    widget.controls.train_button.click()  # "no": the model stays, nothing starts
    assert len(asked) == 1 and "not saved" in asked[0] and not widget.busy and widget.model is model
    widget.controls.train_more_button.click()  # continuing loses nothing: no question
    assert len(asked) == 1 and widget.busy
    wait_idle(qtbot, widget)


def test_save_asks_before_it_replaces_a_saved_model_and_then_train_asks_nothing(
        viewer, make_widget, qtbot, monkeypatch, tmp_path, notes):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=2)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    folder = tmp_path / "model"
    widget.ask_directory = lambda title: str(folder)
    asked = _ask(monkeypatch, False)
    widget.controls.save_button.click()  # a new folder: no question
    assert asked == [] and (folder / "config.json").exists() and widget.model_saved
    before = (folder / "config.json").read_bytes()

    widget.controls.train_more_button.click()
    wait_idle(qtbot, widget)
    widget.controls.save_button.click()  # "no": the saved model stays as it was
    assert len(asked) == 1 and "Replace the model" in asked[0]
    assert (folder / "config.json").read_bytes() == before and not widget.model_saved
    asked = _ask(monkeypatch, True)
    widget.controls.save_button.click()
    assert len(asked) == 1 and (folder / "config.json").read_bytes() != before and widget.model_saved
    widget.controls.train_button.click()  # saved: a new model replaces it without a question
    assert len(asked) == 1 and widget.busy
    widget.stop()
    wait_idle(qtbot, widget)


def test_closing_the_dock_asks_before_it_discards_an_unsaved_model(viewer, make_widget, qtbot, monkeypatch):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=2)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    asked = _ask(monkeypatch, False)
    assert not widget.close() and len(asked) == 1  # "no": the dock stays open
    asked = _ask(monkeypatch, True)
    assert widget.close() and len(asked) == 1


def test_train_more_counts_steps_one_way_and_names_results_by_steps(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=5)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    values = []
    widget.controls.progress_bar.valueChanged.connect(values.append)
    widget.controls.train_more_button.click()
    wait_idle(qtbot, widget)

    counted = [v for v in values if v > 1]  # the bar's steps, leaving out resets and the final 1 of 1
    assert counted and min(counted) > 5 and max(counted) <= 10  # the model's steps, as in the plot
    assert widget.controls.loss_plot.steps[-1] == 10
    assert [layer.name for layer in viewer.layers] == ["noisy", "noisy [n2v denoised]", "noisy [n2v denoised] 10 steps"]
    assert widget.controls.progress_bar.text().startswith("Done: n2v, 10 steps")
    assert viewer.layers[-1].metadata[OURS]["steps"] == 10


def test_learned_noise_reads_in_the_image_units():
    assert describe_noise({"kind": "gaussian", "learned": True, "sigma": [14.93]}) == \
        "gaussian noise σ 14.9 (image units)"
    text = describe_noise({"kind": "poisson-gaussian", "gain": [0.81, 1.2], "offset": [12.0, -3.0],
                           "read_sigma": [3.46, None]})
    assert text == ("poisson-gaussian noise: variance = 0.81 × intensity + 12 / 1.2 × intensity - 3, "
                    "read σ 3.46 / ? (image units)")  # a variance line: its intercept is no camera offset
    assert describe_noise({"kind": "poisson", "gain": [1.17]}) == "poisson noise: variance = 1.17 × intensity (image units)"
    assert describe_noise(None) == "" and describe_noise({"kind": "gaussian", "sigma": None}) == ""


def test_the_hqssl_model_line_shows_the_learned_sigma(viewer, trained_hqssl):
    widget = trained_hqssl
    text = widget.controls.model_label.text()
    noise = widget.model.spec.noise_params
    assert text.endswith("(image units)")
    assert f", {noise['kind']} noise" in text
    patterns = {"sigma": r"(?<!read )σ (-?[0-9.e+-]+)", "gain": r"variance = (-?[0-9.e+-]+) ×",
                "offset": r"× intensity ([+-] [0-9.e+-]+)", "read_sigma": r"read σ (-?[0-9.e+-]+)"}
    shown = {key: float(re.search(patterns[key], text).group(1).replace(" ", ""))
             for key in patterns if (noise.get(key) or [None])[0] is not None}
    assert shown  # at least one learned parameter, each read back to three digits
    for key, value in shown.items():
        assert np.isfinite(value) and value == pytest.approx(noise[key][0], rel=5e-3, abs=1e-9)
    std = viewer.layers["noisy [uncertainty]"]
    assert "typical error" in std.metadata[OURS]["means"] and "held-out" in std.metadata[OURS]["means"]
    assert std.metadata[OURS]["units"] == "σ, in the image's intensity units"
    assert "uncertainty layer: σ, in the image's intensity units" in widget.controls.status_label.text()


def test_the_status_and_model_lines_are_as_many_lines_high_as_they_show_in_napari_s_font(viewer, make_widget, qtbot):
    """napari's style sheet gives them their font once docked; their height follows it (cut lines, else)."""
    from napari_blindspot._widget._controls import MODEL_LINES, STATUS_LINES

    widget = make_widget()
    qtbot.wait(50)
    for label, lines in ((widget.controls.model_label, MODEL_LINES), (widget.controls.status_label, STATUS_LINES)):
        assert label.height() >= lines * label.fontMetrics().lineSpacing()


def test_the_rows_scroll_when_the_screen_leaves_the_dock_too_little(viewer, make_widget, qtbot, monkeypatch):
    """Taller than the screen allows, the dock scrolls instead of growing napari's window past it."""
    from qtpy.QtWidgets import QScrollArea

    from napari_blindspot._widget import _controls

    widget = make_widget()
    qtbot.wait(50)
    scroll = widget.findChild(QScrollArea)
    rows = scroll.widget().minimumSizeHint().height()
    assert scroll.sizeHint().height() >= rows and scroll.minimumSizeHint().height() >= rows  # room: all of them
    screen = scroll.screen().availableGeometry().height()
    monkeypatch.setattr(_controls, "WINDOW_CHROME", screen - 300)  # a screen that leaves the dock 300 px
    assert scroll.minimumSizeHint().height() == 300 < rows

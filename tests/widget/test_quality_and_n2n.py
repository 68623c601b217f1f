"""What the dock says about quality (held-out estimate, true gain against a `[clean]` layer),
N2N from a second recording, and what a result layer records about how it was made."""

import re

import numpy as np
import pytest

from napari_blindspot._widget import _dock, _models
from napari_blindspot._widget._layers import OURS

from .conftest import wait_idle


def pair(shape=(32, 32)):
    """A clean image and two independent noisy recordings of it."""
    rng = np.random.default_rng(0)
    y, x = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    clean = (100 + 40 * np.sin(x / 4.0) * np.cos(y / 5.0)).astype(np.float32)
    return clean, *(clean + rng.normal(0, 15, (2, *shape)).astype(np.float32))


def record_status(widget):
    said = []
    real = widget.controls.status
    widget.controls.status = lambda text, *a, **k: said.append(text + " · " + k.get("detail", "")) or real(text, *a, **k)
    return said


def test_status_shows_the_estimated_gain_while_training_and_the_true_gain_at_the_end(viewer, make_widget, qtbot):
    clean, first, _ = pair()
    viewer.add_image(clean, name="noisy [clean]", visible=False)
    viewer.add_image(first, name="noisy")
    widget = make_widget(steps=30)
    said = record_status(widget)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    training = [text for text in said if text.startswith("Training: step")]
    shown = re.compile(r"estimated PSNR gain over the input, [+-]\d+\.\d dB \([+-]\d+\.\d to [+-]\d+\.\d\)"
                       r"|the PSNR gain over the input cannot be told yet")
    assert any(shown.search(text) for text in training), training[-3:]
    assert widget.controls.progress_bar.text().startswith("Done")
    final = widget.controls.status_label.text()  # under the bar, where a long line wraps
    assert shown.search(final), final
    assert "true PSNR gain " in final and "(against 'noisy [clean]')" in final
    result = viewer.layers["noisy [n2v denoised]"].data
    from napari_blindspot.metrics import true_psnr
    gain = true_psnr(result, clean) - true_psnr(first, clean)
    assert f"true PSNR gain {gain:+.1f} dB" in final


def test_without_a_clean_layer_no_true_gain_is_claimed(viewer, make_widget, qtbot):
    viewer.add_image(pair()[1], name="noisy")
    widget = make_widget(steps=5)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert "true PSNR" not in widget.controls.progress_bar.text() + widget.controls.status_label.text()


def test_n2n_shows_its_fields_only_for_n2n(viewer, make_widget):
    _, first, second = pair()
    viewer.add_image(first, name="field (1)")
    viewer.add_image(second, name="field (2)")
    form = make_widget(steps=5).form
    assert "N2N" in [form.method.native.itemText(i) for i in range(form.method.native.count())]
    assert form.second.label == "Second recording" and form.repeats.text == "frames are repeats"
    def shown(widget):
        return not widget.native.isHidden()

    assert not shown(form.second) and not shown(form.repeats)
    form.method.value = "n2n"
    assert shown(form.second) and shown(form.repeats)
    assert form.second.value is not form.image.value  # the other recording is proposed
    form.repeats.value = True
    assert not shown(form.second) and shown(form.repeats)
    assert form.config("YX", form.image.value).frames_are_repeats
    form.method.value = "n2v"
    assert not shown(form.second) and not shown(form.repeats)


def test_n2n_trains_on_the_second_recording(viewer, make_widget, qtbot, monkeypatch):
    _, first, second = pair()
    one, two = viewer.add_image(first, name="field (1)"), viewer.add_image(second, name="field (2)")
    widget = make_widget(steps=5)
    widget.form.image.value, widget.form.method.value = one, "n2n"
    widget.form.second.value = two
    passed = []
    real = _dock._jobs.train_job
    monkeypatch.setattr(_dock._jobs, "train_job", lambda *a, **k: passed.append(k["target"]) or (yield from real(*a, **k)))
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert passed[0] is second
    assert "field (1) [n2n denoised]" in viewer.layers


def test_n2n_with_recordings_of_other_shapes_says_so(viewer, make_widget, qtbot, notes):
    _, first, _ = pair()
    one = viewer.add_image(first, name="a")
    two = viewer.add_image(pair((32, 40))[1], name="b")
    widget = make_widget(steps=5)
    widget.form.image.value, widget.form.method.value = one, "n2n"
    widget.form.second.value = two
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    errors = [msg for kind, msg in notes if kind == "error"]
    assert errors and "second recording has shape (32, 40)" in errors[0]
    assert "a [n2n denoised]" not in viewer.layers


def test_the_result_layer_records_how_it_was_made(viewer, make_widget, qtbot, tmp_path):
    viewer.add_image(pair()[1], name="noisy")
    widget = make_widget(steps=20)
    widget.form.method.value = "hqssl"
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    layer = viewer.layers["noisy [hqssl denoised]"]
    made = layer.metadata[OURS]
    assert made["method"] == "hqssl" and made["axes"] == "YX" and made["steps"] == 20 and made["seconds"] > 0
    assert made["noise"]["kind"] and made["source"] == "noisy" and made["model_folder"] is None
    history = widget.model.spec.history
    assert made["best_step"] == history["best_step"] is not None
    assert made["estimated_psnr_gain_db"] == history["estimated_psnr_gain_db"]
    assert made["estimated_psnr_gain_db_interval"] == history["estimated_psnr_gain_db_interval"] is not None
    widget.ask_directory = lambda title: str(tmp_path / "model")
    widget.controls.save_button.click()
    assert layer.metadata[OURS]["model_folder"] == str(tmp_path / "model")
    # napari's own TIFF writer keeps only the pixels; ours keeps the record, the scale and the units
    path = str(tmp_path / "result.tif")
    layer.scale, layer.units = (0.5, 0.25), ("micrometer", "micrometer")
    assert layer.save(path, plugin="napari-blindspot") == [path]
    [reopened] = viewer.open(path, plugin="napari-blindspot")
    assert reopened.metadata[OURS] == layer.metadata[OURS] and reopened.metadata[OURS]["method"] == "hqssl"
    assert np.array_equal(reopened.data, layer.data) and reopened.data.dtype == layer.data.dtype
    assert tuple(reopened.scale) == (0.5, 0.25) and [str(u) for u in reopened.units] == ["micrometer"] * 2
    assert widget.form.image.value is not reopened  # a result is not offered for training


def test_a_foreign_tiff_still_opens_with_our_reader(viewer, tmp_path):
    import tifffile

    data = np.arange(12 * 10, dtype=np.uint16).reshape(12, 10)
    tifffile.imwrite(tmp_path / "foreign.tif", data)
    [layer] = viewer.open(str(tmp_path / "foreign.tif"), plugin="napari-blindspot")
    assert np.array_equal(layer.data, data) and OURS not in layer.metadata and layer.name == "foreign"


def test_removing_every_layer_with_n2n_chosen_is_no_error(viewer, make_widget):
    _, first, second = pair()
    viewer.add_image(first, name="field (1)")
    viewer.add_image(second, name="field (2)")
    widget = make_widget(steps=5)
    widget.form.method.value = "n2n"
    viewer.layers.clear()  # e.g. closing the viewer: the pickers empty, nothing to propose
    assert widget.form.image.value is None and widget.form.second.value is None


def test_the_status_gives_the_estimate_with_its_interval_or_says_it_cannot_be_told():
    from napari_blindspot._widget._quality import estimate_text

    assert estimate_text((9.53, (8.71, 10.32))) == "estimated PSNR gain over the input, +9.5 dB (+8.7 to +10.3)"
    assert estimate_text((None, (5.0, 9.2))) == "the PSNR gain over the input cannot be told yet (+5.0 to +9.2 dB)"
    assert estimate_text((None, None)) == "the PSNR gain over the input cannot be told yet"
    assert estimate_text(None) == ""

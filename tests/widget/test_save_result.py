"""Save result…: the result (and HQ-SSL's uncertainty) as TIFF with how it was made, reopened with
our reader; nothing we did not write is replaced; napari's own paths to our writer and reader."""

import numpy as np
import tifffile

from napari_blindspot._widget import _save_result
from napari_blindspot._widget._layers import OURS
from napari_blindspot.io.provenance import KEY, read_tiff_metadata

from .conftest import noisy, wait_idle


SUGGESTED = []


def _save(widget, qtbot, notes, path) -> str:
    """Click Save result… answering `path`; the message it shows (once the worker is done)."""
    shown, ask = len(notes), _save_result.ask_save_path
    _save_result.ask_save_path = lambda parent, suggested: SUGGESTED.append(suggested) or str(path)
    try:
        widget.controls.save_result_button.click()
        qtbot.waitUntil(lambda: len(notes) > shown, timeout=10_000)
    finally:
        _save_result.ask_save_path = ask
    return notes[-1][1]


def test_save_result_writes_the_result_and_its_uncertainty_with_how_they_were_made(
        trained_hqssl, viewer, qtbot, notes, tmp_path):
    result, uncertainty = trained_hqssl.results
    message = _save(trained_hqssl, qtbot, notes, tmp_path / "out.tif")
    assert SUGGESTED[-1].endswith("noisy-hqssl-denoised.tif")  # the result's, though its uncertainty is selected
    assert message.startswith("Saved out.tif and out-uncertainty.tif") and 'plugin="napari-blindspot"' in message
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), result.data)
    assert np.array_equal(tifffile.imread(tmp_path / "out-uncertainty.tif"), uncertainty.data)
    assert read_tiff_metadata(tmp_path / "out.tif")[KEY] == result.metadata[OURS]
    assert read_tiff_metadata(tmp_path / "out-uncertainty.tif")[KEY]["kind"] == "uncertainty"


def test_a_saved_result_reopens_with_its_record_through_our_reader(trained, viewer, qtbot, notes, tmp_path):
    result = trained.results[0]
    result.scale = (0.5, 0.25)
    _save(trained, qtbot, notes, tmp_path / "out.tif")
    [again] = viewer.open(tmp_path / "out.tif", plugin="napari-blindspot")
    assert again.metadata[OURS] == result.metadata[OURS] and tuple(again.scale) == (0.5, 0.25)
    assert "Save result" in again.metadata[OURS]["saving"]  # the record says where it is kept


def test_save_result_replaces_only_a_file_of_ours(trained_hqssl, qtbot, notes, tmp_path):
    theirs = tmp_path / "out-uncertainty.tif"
    tifffile.imwrite(theirs, np.zeros((4, 4), np.uint8))
    before = theirs.read_bytes()
    message = _save(trained_hqssl, qtbot, notes, tmp_path / "out.tif")
    assert notes[-1][0] == "error" and "not ours to replace" in message
    assert theirs.read_bytes() == before and not (tmp_path / "out.tif").exists()  # checked before any write
    theirs.unlink()
    assert _save(trained_hqssl, qtbot, notes, tmp_path / "out.tif").startswith("Saved")
    assert _save(trained_hqssl, qtbot, notes, tmp_path / "out.tif").startswith("Saved")  # ours: replaced


def test_save_result_saves_the_selected_result(viewer, make_widget, qtbot, notes, tmp_path):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=2)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    first = widget.results[0]
    widget.controls.train_more_button.click()
    wait_idle(qtbot, widget)
    viewer.layers.selection.active = first
    _save(widget, qtbot, notes, tmp_path / "first.tif")
    assert read_tiff_metadata(tmp_path / "first.tif")[KEY]["steps"] == 2


def test_a_result_split_by_channel_is_saved_as_one_stack(viewer, make_widget, qtbot, notes, tmp_path):
    viewer.add_image(np.stack([noisy((32, 32), seed=1), 3 * noisy((32, 32), seed=2)]), name="two")
    widget = make_widget(steps=2)
    widget.form.axes.value = "CYX"
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    assert len(widget.results) == 2
    _save(widget, qtbot, notes, tmp_path / "two.tif")
    saved = tifffile.imread(tmp_path / "two.tif")
    assert np.array_equal(saved, np.stack([layer.data for layer in widget.results]))
    assert "channel" not in read_tiff_metadata(tmp_path / "two.tif")[KEY]


def test_with_no_result_save_result_says_what_to_do(viewer, make_widget, notes):
    viewer.add_image(noisy((32, 32)), name="noisy")
    make_widget().controls.save_result_button.click()
    assert notes == [("error", "No result to save: press Train, or select a result layer of ours.")]


def test_napari_offers_our_writer_by_name_and_in_file_save(trained, viewer, tmp_path):
    """What the docs tell a user who saves through napari: `plugin="napari-blindspot"`, or the file
    type 'TIFF with provenance' in File > Save Selected Layers."""
    from napari.plugins import _npe2

    result = trained.results[0]
    viewer.layers.selection = {result}
    viewer.layers.save(str(tmp_path / "napari.tif"), selected=True, plugin="napari-blindspot")
    assert read_tiff_metadata(tmp_path / "napari.tif")[KEY] == result.metadata[OURS]
    filters, _ = _npe2.file_extensions_string_for_layers([result])
    assert "TIFF with provenance" in filters


def test_a_lazy_result_is_computed_on_the_worker_as_it_is_saved(viewer, make_widget, qtbot, notes, tmp_path):
    import dask.array as da

    stack = noisy((4, 32, 32))
    viewer.add_image(da.from_array(stack, chunks=(1, 32, 32)), name="lazy")
    widget = make_widget(steps=2)
    widget.form.context_planes.value = 0
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    [result] = widget.results
    assert isinstance(result.data, da.Array)
    assert _save(widget, qtbot, notes, tmp_path / "lazy.tif").startswith("Saved")
    np.testing.assert_allclose(tifffile.imread(tmp_path / "lazy.tif"), result.data.compute(), atol=1e-5)

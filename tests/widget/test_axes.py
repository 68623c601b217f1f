"""The axes the widget starts from: what the layer says (axis labels, metadata), else a guess
that takes an unknown axis as frames, never as Z, and says so beside the Axes box."""

import pytest

from napari_blindspot import _sample_data
from napari_blindspot._widget import _models

from .conftest import noisy


def test_a_time_lapse_without_axis_information_is_taken_as_frames_and_the_widget_says_so(viewer, make_widget):
    viewer.add_image(noisy((10, 32, 32)), name="time-lapse")
    widget = make_widget()
    assert widget.form.axes.value == "TYX"
    hint = widget.form.axes_hint
    assert not hint.native.isHidden() and "frames (T)" in hint.value and "type ZYX" in hint.value
    assert widget.form.z_row.native.isHidden()  # no Z: not trained as a volume
    widget.form.axes.value = "ZYX"  # the user says it is a volume: the guess's hint goes
    assert hint.native.isHidden() and not widget.form.z_row.native.isHidden()


@pytest.mark.parametrize("labels, axes", [(("t", "y", "x"), "TYX"), (("z", "y", "x"), "ZYX"), (("c", "y", "x"), "CYX")])
def test_meaningful_napari_axis_labels_decide_the_axes(viewer, make_widget, labels, axes):
    viewer.add_image(noisy((6, 32, 32)), name="labelled", axis_labels=labels)
    widget = make_widget()
    assert widget.form.axes.value == axes and "axis labels" in widget.form.axes_hint.value


def test_axes_in_the_layer_metadata_decide_the_axes(viewer, make_widget):
    viewer.add_image(noisy((6, 32, 32)), name="read", metadata={"axes": "ZYX"})
    widget = make_widget()
    assert widget.form.axes.value == "ZYX" and "metadata" in widget.form.axes_hint.value


def test_a_z_spacing_in_the_scale_makes_a_volume(viewer, make_widget):
    viewer.add_image(noisy((10, 32, 32)), name="stack", scale=(2.0, 1.0, 1.0))
    widget = make_widget()
    assert widget.form.axes.value == "ZYX" and "scale" in widget.form.axes_hint.value


def test_the_3d_sample_is_still_a_volume(viewer, make_widget):
    for data, meta, _ in _sample_data.fluorescence_3d():
        viewer.add_image(data, **meta)
    widget = make_widget()
    assert widget.form.image.value.name == "fluorescence 3D"
    assert widget.form.axes.value == "ZYX" and "axis labels" in widget.form.axes_hint.value


def test_apply_takes_a_layers_own_axes_over_the_models(viewer, make_widget):
    class Spec:
        axes = "ZYX"

    class Model:
        spec = Spec()

    widget = make_widget()
    frames = viewer.add_image(noisy((6, 32, 32)), name="frames", axis_labels=("t", "y", "x"))
    unknown = viewer.add_image(noisy((6, 32, 32)), name="unknown")
    widget.form.image.value = unknown
    other = viewer.add_image(noisy((6, 32, 32)), name="other")
    assert _models.apply_axes(Model(), frames, widget.form) == "TYX"  # the layer says so
    assert _models.apply_axes(Model(), other, widget.form) == "ZYX"  # nothing said: the model's


def test_a_sample_opened_into_an_empty_viewer_trains_on_its_noisy_layer_not_the_hidden_clean_one(viewer, make_widget):
    widget = make_widget()
    for data, meta, _ in _sample_data.fluorescence_3d():  # the clean layer comes first, hidden
        viewer.add_image(data, **meta)
    assert widget.form.image.value.name == "fluorescence 3D" and widget.form.axes.value == "ZYX"
    assert widget.controls.apply_picker.value.name == "fluorescence 3D"
    widget.form.image.value = viewer.layers["fluorescence 3D [clean]"]  # a user's own choice stays
    viewer.add_image(noisy((32, 32)), name="another")
    assert widget.form.image.value.name == "fluorescence 3D [clean]"


def test_the_axes_line_says_which_neighbour_planes_a_stack_gets(viewer, make_widget):
    viewer.add_image(noisy((10, 32, 32)), name="time-lapse")
    form = make_widget().form
    assert not form.planes_hint.native.isHidden() and "T: 2 planes on each side" in form.planes_hint.value
    form.context_planes.value = 0
    assert "off, as set" in form.planes_hint.value
    viewer.add_image(noisy((32, 32)), name="plane")
    form.image.value = viewer.layers["plane"]
    assert form.planes_hint.native.isHidden()  # a 2D image: nothing to choose

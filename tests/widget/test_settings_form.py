"""The form offers every setting the table gives it, and its values reach the config."""

from napari_blindspot._widget._form import CUSTOM_FIELDS
from napari_blindspot.core.config import OPTIONS

from .conftest import noisy


def test_the_form_has_a_field_for_every_setting_the_table_gives_it(viewer, make_widget):
    form = make_widget().form
    for name, option in OPTIONS.items():
        if option.widget == "advanced":
            assert getattr(form, name).label == option.label and getattr(form, name) in form.advanced
        elif option.widget == "custom":
            assert hasattr(form, CUSTOM_FIELDS[name]), name
    assert set(CUSTOM_FIELDS) == {n for n, o in OPTIONS.items() if o.widget == "custom"}


def test_advanced_values_reach_the_config_and_auto_means_the_default(viewer, make_widget):
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    form = make_widget().form
    form.context_planes.value, form.precision.value, form.depth.value = 0, "float32", 2
    form.learning_rate.value, form.num_threads.value = 0.001, 1
    _, config = form.train_config(layer)
    assert (config.context_planes, config.precision, config.depth, config.learning_rate, config.num_threads,
            config.features, config.patch_size) == (0, "float32", 2, 0.001, 1, 8, 16)
    form.context_planes.value = form.context_planes.min  # reads "auto"
    form.num_threads.value = form.num_threads.min
    _, config = form.train_config(layer, num_threads=3)
    assert config.context_planes is None and config.num_threads == 3  # auto: the dock's own thread count
    assert form.context_planes.native.text() == "auto"

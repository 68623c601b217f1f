"""Layers > Filter > "Denoise with current model" applies the dock's model to the selected layer,
or says to train or load one first; the dock it opens is the one the Plugins menu opens."""

import npe2
import numpy as np

from napari_blindspot._widget import _menu

from .conftest import noisy, wait_idle


def test_the_command_is_in_a_menu_napari_shows_plugins_for_image_layers():
    from napari._app_model.constants._menus import is_menu_contributable

    manifest = npe2.PluginManifest.from_distribution("napari-blindspot")
    menus = manifest.contributions.menus
    assert set(menus) == {"napari/layers/filter"} and all(is_menu_contributable(m) for m in menus)
    items = {item.command: item for item in menus["napari/layers/filter"]}
    titles = {c.id: c.title for c in manifest.contributions.commands}
    assert titles["napari-blindspot.denoise_with_current_model"] == "Denoise with current model"
    assert "active_layer_type == 'image'" in items["napari-blindspot.denoise_with_current_model"].when


def test_napari_lists_the_command_under_layers_filter(viewer):
    from app_model.types import MenuItem
    from napari._app_model import get_app_model

    items = get_app_model().menus.get_menu("napari/layers/filter")
    commands = [item.command.id for item in items if isinstance(item, MenuItem)]
    assert "napari-blindspot.denoise_with_current_model" in commands


def test_the_menu_and_the_plugins_menu_open_one_dock_under_one_name(viewer, monkeypatch):
    from napari._app_model import get_app_model

    monkeypatch.setattr(_menu, "show_info", lambda message: None)
    manifest = npe2.PluginManifest.from_distribution("napari-blindspot")
    [widget] = manifest.contributions.widgets
    assert _menu.DOCK_TITLE == f"{widget.display_name} ({manifest.display_name})"  # as the Plugins menu names it
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    _menu.denoise_with_current_model(viewer, layer)
    get_app_model().commands.execute_command(widget.command).result()  # Plugins > ...: toggles that dock
    docks = [name for name in viewer.window._wrapped_dock_widgets if "denoising" in name.lower()]
    assert docks == [_menu.DOCK_TITLE]
    _menu.find_dock(viewer)._res.release()


def test_denoise_with_current_model_applies_the_docks_model_to_the_selected_layer(viewer, make_widget, qtbot):
    viewer.add_image(noisy((32, 32)), name="noisy")
    other = viewer.add_image(noisy((32, 32), seed=1), name="other")
    widget = make_widget(steps=3)
    widget.form.image.value = viewer.layers["noisy"]  # trained on the other layer than the menu's
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert _menu.find_dock(viewer) is widget and "other [n2v denoised]" not in viewer.layers
    _menu.denoise_with_current_model(viewer, other)
    assert widget.busy
    wait_idle(qtbot, widget)
    result = viewer.layers["other [n2v denoised]"].data
    np.testing.assert_allclose(result, widget.model.predict(other.data), rtol=0, atol=1e-4)  # that layer's
    assert np.abs(result - widget.model.predict(viewer.layers["noisy"].data)).max() > 0.1  # not the other's


def test_without_a_model_the_menu_says_to_train_or_load_one(viewer, make_widget, monkeypatch):
    said = []
    monkeypatch.setattr(_menu, "show_info", said.append)
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=3)
    _menu.denoise_with_current_model(viewer, layer)
    assert not widget.busy and "train or load one" in said[0] and "Layers > Filter" in said[0]
    assert "this menu" not in said[0]


def test_without_a_dock_the_menu_opens_it(viewer, monkeypatch):
    said = []
    monkeypatch.setattr(_menu, "show_info", said.append)
    layer = viewer.add_image(noisy((32, 32)), name="noisy")
    _menu.denoise_with_current_model(viewer, layer)
    dock = _menu.find_dock(viewer)
    assert dock is not None and dock.model is None and "train or load one" in said[0]
    assert _menu.open_dock(viewer) is dock  # once only
    dock._res.release()


def test_napari_runs_the_menu_command_with_the_viewer_and_the_active_layer(viewer, monkeypatch):
    from napari._app_model import get_app_model

    said = []
    monkeypatch.setattr(_menu, "show_info", said.append)
    viewer.add_image(noisy((32, 32)), name="noisy")
    get_app_model().commands.execute_command("napari-blindspot.denoise_with_current_model").result()
    assert "'noisy'" in said[0] and _menu.find_dock(viewer) is not None
    _menu.find_dock(viewer)._res.release()

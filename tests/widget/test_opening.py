"""Opening the dock holds napari's UI only briefly: the widget's modules import neither torch nor
matplotlib, and until torch and the methods are loaded (in the background) the dock shows one line."""

import os
import subprocess
import sys
import threading

from napari_blindspot._widget import DenoiseWidget, _lifecycle, _warm_up


def test_importing_the_widget_loads_neither_torch_nor_matplotlib():
    code = ("import sys, napari_blindspot._widget._menu, napari_blindspot._widget; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'bioimageio.core') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_dock_shows_a_line_until_torch_is_loaded_then_its_form(viewer, qtbot, monkeypatch):
    loaded = threading.Event()
    monkeypatch.setattr(_warm_up, "torch_loaded", loaded)  # as in a fresh process: not loaded yet
    monkeypatch.setattr(_warm_up, "warm_up_torch", lambda: None)
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    texts = [label.text() for label in widget.findChildren(_lifecycle.QLabel)]
    assert texts == [_lifecycle.LOADING] and not widget.opening.done
    loaded.set()
    qtbot.waitUntil(lambda: widget.opening.done, timeout=5_000)
    assert widget.controls.train_button.text() == "Train" and widget.controls.train_button.isEnabled()
    qtbot.waitUntil(lambda: _lifecycle.LOADING not in [label.text() for label in widget.findChildren(_lifecycle.QLabel)])
    widget._res.release()


def test_a_script_that_asks_for_the_form_sooner_gets_it_built_at_once(viewer, monkeypatch):
    monkeypatch.setattr(_warm_up, "torch_loaded", threading.Event())
    monkeypatch.setattr(_warm_up, "warm_up_torch", lambda: None)
    widget = DenoiseWidget(viewer)
    assert widget.form.method.value == "n2v" and widget.opening.done
    assert not any(label.isVisibleTo(widget) for label in widget.findChildren(_lifecycle.QLabel)
                   if label.text() == _lifecycle.LOADING)
    widget._res.release()


def test_the_dock_is_built_one_part_per_turn_of_the_event_loop(viewer, monkeypatch):
    """Built in one turn, the parts and their first layout held napari's UI for 170-390 ms."""
    loaded = threading.Event()
    monkeypatch.setattr(_warm_up, "torch_loaded", loaded)
    monkeypatch.setattr(_warm_up, "warm_up_torch", lambda: None)
    widget = DenoiseWidget(viewer)
    widget.opening._timer.stop()  # the test turns the event loop's wheel itself
    widget.opening._next_part()
    assert "settings" not in widget.__dict__  # not before torch is loaded
    loaded.set()
    built = []
    for _ in range(3):
        widget.opening._next_part()
        built.append([name for name in ("settings", "advanced", "controls") if name in widget.__dict__])
    assert built == [["settings"], ["settings", "advanced"], ["settings", "advanced", "controls"]]
    assert not widget.opening.done and widget.controls.model_label.text() == ""  # not yet connected
    widget.opening._next_part()  # the last part connects the buttons and shows the idle state
    assert widget.opening.done and widget.controls.train_button.isEnabled()
    assert widget.controls.model_label.text() != ""
    widget._res.release()

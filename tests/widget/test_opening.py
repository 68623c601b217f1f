"""Opening the dock holds napari's UI only briefly: the widget's modules import neither torch nor
matplotlib, and until torch and the methods are loaded (in the background) the dock shows one line."""

import os
import subprocess
import sys
import threading

from napari_blindspot._widget import DenoiseWidget, _jobs, _lifecycle


def test_importing_the_widget_loads_neither_torch_nor_matplotlib():
    code = ("import sys, napari_blindspot._widget._menu, napari_blindspot._widget; "
            "print(sorted(m for m in ('torch', 'matplotlib', 'bioimageio.core') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_dock_shows_a_line_until_torch_is_loaded_then_its_form(viewer, qtbot, monkeypatch):
    loaded = threading.Event()
    monkeypatch.setattr(_jobs, "torch_loaded", loaded)  # as in a fresh process: not loaded yet
    monkeypatch.setattr(_jobs, "warm_up_torch", lambda: None)
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
    monkeypatch.setattr(_jobs, "torch_loaded", threading.Event())
    monkeypatch.setattr(_jobs, "warm_up_torch", lambda: None)
    widget = DenoiseWidget(viewer)
    assert widget.form.method.value == "n2v" and widget.opening.done
    widget._res.release()

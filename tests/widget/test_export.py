"""Export (bioimage.io): the questions asked (answers kept for the session), the export run off
the main thread, and what is said on success, failure and without the bmz extra."""

import sys

import pytest

from napari_blindspot import bmz
from napari_blindspot._widget import _models





@pytest.fixture
def answers(monkeypatch, tmp_path):
    """The dialogs answered: the path, then name / authors / license as typed; questions recorded."""
    asked = []
    monkeypatch.setattr(_models, "_export_answers", {})
    monkeypatch.setattr(_models, "ask_export_path", lambda parent, suggested: asked.append(suggested) or str(tmp_path / "out"))
    typed = {"Model name:": None, "Authors (comma separated):": "Ada Lovelace, Alan Turing", "License (SPDX identifier):": None}
    monkeypatch.setattr(_models, "ask_text", lambda parent, question, default: asked.append(default) or typed[question] or default)
    return asked


def test_export_asks_then_writes_the_package_off_the_main_thread(trained, answers, monkeypatch, qtbot, notes, tmp_path):
    assert trained.controls.export_button.text() == "Export (bioimage.io)" and trained.controls.export_button.isEnabled()
    calls = []
    monkeypatch.setattr(bmz, "export_model", lambda model, path, **kw: calls.append((model, path, kw)) or path)
    trained.controls.export_button.click()
    qtbot.waitUntil(lambda: bool(notes), timeout=10_000)
    model, path, kw = calls[0]
    assert model is trained.model and path == str(tmp_path / "out.zip")
    assert kw["name"] == bmz.DEFAULT_NAME.format(method="N2V") and kw["authors"] == ["Ada Lovelace", "Alan Turing"]
    assert kw["license"] == "CC-BY-4.0" and kw["sample"].shape == (32, 32)
    assert notes == [("info", f"Exported the model for bioimage.io to {tmp_path / 'out.zip'}")]

    trained.controls.export_button.click()  # the answers are remembered for the session
    qtbot.waitUntil(lambda: len(notes) == 2, timeout=10_000)
    assert answers[-4:] == [str(tmp_path / "out.zip"), kw["name"], "Ada Lovelace, Alan Turing", "CC-BY-4.0"]


def test_export_imports_bioimageio_off_the_main_thread(trained, answers, monkeypatch, qtbot, notes):
    """Importing bioimageio.core takes seconds: the UI thread only asks whether it is installed."""
    import builtins
    import threading

    imported_on, real_import = [], builtins.__import__

    def recording_import(name, *args, **kwargs):
        if name.startswith(("bioimageio.core", "bioimageio.spec")):
            imported_on.append(threading.current_thread() is threading.main_thread())
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", recording_import)
    monkeypatch.setattr(bmz, "export_model", lambda model, path, **kw: path)
    trained.controls.export_button.click()
    qtbot.waitUntil(lambda: bool(notes), timeout=10_000)
    assert notes[0][0] == "info" and imported_on and not any(imported_on)


def test_export_runs_with_the_viewers_objects_kept_out_of_full_collections(trained, answers, monkeypatch, qtbot, notes):
    """bioimageio.core's test run calls gc.collect(): over all of napari's objects it stalls the UI."""
    import gc

    from napari_blindspot._widget import _lifecycle

    frozen = []
    monkeypatch.setattr(bmz, "export_model", lambda model, path, **kw: frozen.append(gc.get_freeze_count()) or path)
    trained.controls.export_button.click()
    qtbot.waitUntil(lambda: bool(notes) and not trained.export_worker.is_running, timeout=10_000)
    qtbot.waitUntil(lambda: _lifecycle._holders == 1, timeout=5_000)  # handed back to the dock's hold once it is done
    assert frozen[0] > 0


def test_a_failed_export_says_why(trained, answers, monkeypatch, qtbot, notes):
    def fail(*a, **k):
        raise ValueError("the package description is not valid: license: unknown")

    monkeypatch.setattr(bmz, "export_model", fail)
    trained.controls.export_button.click()
    qtbot.waitUntil(lambda: bool(notes), timeout=10_000)
    assert notes == [("error", "Could not export the model: the package description is not valid: license: unknown")]


def test_without_the_bmz_extra_export_says_what_to_install(trained, answers, monkeypatch, notes):
    for name in ("bioimageio", "bioimageio.core", "bioimageio.spec"):  # None: `import` raises ImportError
        monkeypatch.setitem(sys.modules, name, None)
    trained.controls.export_button.click()
    assert len(notes) == 1 and notes[0][0] == "error"
    assert "pip install 'napari-blindspot[bmz]'" in notes[0][1]
    assert answers == []  # nothing asked first


def test_export_waits_for_a_model(viewer, make_widget):
    assert not make_widget(steps=3).controls.export_button.isEnabled()


def test_a_question_shows_its_default_answer_whole(qtbot):
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication, QLineEdit

    default, seen = "napari-blindspot N2N denoiser of the nuclei stack", []

    def look_and_accept():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, look_and_accept)
            return
        edit = dialog.findChild(QLineEdit)
        seen.append(edit.width() > edit.fontMetrics().horizontalAdvance(default))
        dialog.accept()

    QTimer.singleShot(20, look_and_accept)
    assert _models.ask_text(None, "Model name:", default) == default
    assert seen == [True]

"""Saving, loading and applying models: the questions asked and the messages shown."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from ._axes import known_axes, layer_axes
from ._layers import layer_data


def confirm(parent, question: str, action: str = "Discard") -> bool:
    """Ask before anything is lost: `action` (what is done to it, e.g. "Discard") or Cancel, the
    default; True for `action` (tests replace this function)."""
    box = QMessageBox(QMessageBox.Icon.Question, "napari-blindspot", question, parent=parent)
    chosen = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))
    box.exec()
    return box.clickedButton() is chosen


def may_discard(parent, model, saved: bool, doing: str, steps: int | None = None) -> bool:
    """True when there is no unsaved model, or the user agrees to lose it (of `steps` steps, when
    training counts them still: its history has them only at the end)."""
    if model is None or saved:
        return True
    steps = model.spec.history.get("steps", 0) if steps is None else steps
    return confirm(parent, f"{doing}? The current model ({model.method}, {steps} steps) is not saved and will be lost.")


def save(parent, model, folder: str) -> bool:
    """Save `model` to `folder`, asking before it replaces a model there; True when saved."""
    replacing = (Path(folder) / "config.json").exists()
    if replacing and not confirm(parent, f"Replace the model saved in {folder}?", "Replace"):
        return False
    try:
        model.save(folder, overwrite=replacing)
    except Exception as err:  # noqa: BLE001 - any failure is reported, nothing is left half-done
        show_error(f"Could not save the model: {err}")
        return False
    show_info(f"Model saved to {folder}")
    return True


def load(folder: str, device: str):
    """The model in `folder`, or None (and a message saying why)."""
    from ..core.model import load_model

    try:
        model = load_model(folder, device=device)
    except Exception as err:  # noqa: BLE001
        show_error(f"Could not load the model: {err}")
        return None
    show_info(f"Loaded a {model.method} model for axes {model.spec.axes}")
    return model


def apply_axes(model, layer, form) -> str:
    """The axes to apply `model` to `layer` with: the form's (for its own image), what the layer
    says (axis labels, metadata), the model's (same number of axes), else a guess."""
    image = layer_data(layer)
    if layer is form.image.value and form.axes_problem(form.axes.value) is None:
        return form.axes.value.upper().strip()
    if known := known_axes(layer):
        return known[0]
    if len(model.spec.axes) == image.ndim:
        return model.spec.axes
    return layer_axes(layer)[0]


_export_answers: dict = {}  # the author, license (and last folder) asked for, kept for the session


def ask_export_path(parent, suggested: str) -> str:
    """The .zip to write (tests replace this function); "" when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, "Export the model for bioimage.io", suggested, "bioimage.io model (*.zip)")
    return path


def ask_text(parent, question: str, default: str) -> str | None:
    """One answer (tests replace this function); None when cancelled."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Export (bioimage.io)")
    dialog.setLabelText(question)
    dialog.setTextValue(default)
    width = dialog.fontMetrics().horizontalAdvance(default) + 80
    dialog.resize(max(420, min(width, 800)), dialog.sizeHint().height())  # the default answer shown whole
    ok = dialog.exec_()
    text = dialog.textValue()
    dialog.deleteLater()
    return text.strip() if ok else None


def ask_export(parent, default_name: str) -> tuple[str, str, list[str], str] | None:
    """(zip path, name, authors, license) for an export, or None when any question is cancelled."""
    path = ask_export_path(parent, _export_answers.get("path", "denoiser.zip"))
    if not path:
        return None
    path = path if path.lower().endswith(".zip") else f"{path}.zip"
    answers = [path]
    for key, question, default in (("name", "Model name:", default_name),
                                   ("authors", "Authors (comma separated):", "napari-blindspot user"),
                                   ("license", "License (SPDX identifier):", "CC-BY-4.0")):
        answer = ask_text(parent, question, _export_answers.get(key, default))
        if not answer:
            return None
        answers.append(answer)
    _export_answers.update(zip(("path", "name", "authors", "license"), answers))
    path, name, authors, license_ = answers
    return path, name, [a.strip() for a in authors.split(",") if a.strip()], license_


def bioimageio_missing() -> str:
    """Why export cannot run here ("" when it can), found without importing bioimageio: its import
    takes seconds, which the export worker spends instead (docs/benchmarks.md, "Widget latency")."""
    from .. import bmz

    try:
        found = all(importlib.util.find_spec(name) is not None for name in ("bioimageio.spec", "bioimageio.core"))
    except (ImportError, ValueError):  # a parent package missing, or a stub in sys.modules
        found = False
    return "" if found else f"bioimage.io export needs bioimageio.spec and bioimageio.core: {bmz.INSTALL_HINT}"


def export_job(model, path: str, name: str, authors: list[str], license_: str, sample) -> str:
    """Runs on a worker thread: the message to show, "Exported ..." on success."""
    from .. import bmz

    try:
        bmz.require_bioimageio()  # here, not on the UI thread: importing bioimageio.core takes seconds
        written = bmz.export_model(model, path, name=name, authors=authors, license=license_,
                                   sample=sample, overwrite=True)
    except Exception as err:  # noqa: BLE001 - shown as a notification, not raised in a thread
        return f"Could not export the model: {err}"
    return f"Exported the model for bioimage.io to {written}"

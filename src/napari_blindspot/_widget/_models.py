"""Saving, loading and applying models: the questions asked and the messages shown."""

from __future__ import annotations

from pathlib import Path

from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QMessageBox

from ..core.data import guess_axes
from ._layers import layer_data, layer_scale


def confirm(parent, question: str) -> bool:
    """Ask before anything is lost (tests replace this function)."""
    answer = QMessageBox.question(parent, "napari-blindspot", question)
    return answer == QMessageBox.StandardButton.Yes


def may_discard(parent, model, saved: bool, doing: str) -> bool:
    """True when there is no unsaved model, or the user agrees to lose it."""
    if model is None or saved:
        return True
    return confirm(parent, f"{doing}? The current model ({model.method}, {model.spec.history.get('steps', 0)} "
                           "steps) is not saved and will be lost.")


def save(parent, model, folder: str) -> bool:
    """Save `model` to `folder`, asking before it replaces a model there; True when saved."""
    replacing = (Path(folder) / "config.json").exists()
    if replacing and not confirm(parent, f"Replace the model saved in {folder}?"):
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
    """The axes to apply `model` to `layer` with: the form's (for its own image), the model's
    (same number of axes), else a guess."""
    image = layer_data(layer)
    if layer is form.image.value and form.axes_problem(form.axes.value) is None:
        return form.axes.value.upper().strip()
    if len(model.spec.axes) == image.ndim:
        return model.spec.axes
    return guess_axes(image.shape, layer_scale(layer)) if 2 <= image.ndim <= 6 else ""

"""Save result…: a result layer (and its uncertainty) as TIFFs that keep how they were made.

napari's File > Save and ``viewer.layers.save(path)`` take napari's own TIFF writer first, which
drops a layer's metadata: this button writes with ours (`io.napari_tiff.save_result`), on a
worker thread (a lazy result is computed as it is written), and replaces only files of ours.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from qtpy.QtWidgets import QFileDialog

from ._layers import OURS

last_folder: list[str] = []  # where the last result was saved, for the next suggestion


def ask_save_path(parent, suggested: str) -> str:
    """The .tif to write (tests replace this function); "" when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save the result with how it was made", suggested,
                                          "TIFF with provenance (*.tif *.tiff)")
    return path


def _ours(layer, kind: str | None = None) -> dict | None:
    made = layer.metadata.get(OURS) if isinstance(layer.metadata, dict) else None
    return made if isinstance(made, dict) and (kind is None or made.get("kind") == kind) else None


def chosen_results(viewer, recent: list) -> tuple[list, object | None]:
    """(the denoised layers to save, one or one per channel; its uncertainty layer or None): those
    of the selected layer when it is one of ours (a result or its uncertainty), else the dock's last."""
    active = viewer.layers.selection.active
    if active is not None and _ours(active, "uncertainty"):  # HQ-SSL's runs end with it selected
        name = active.name.replace("[uncertainty", f"[{_ours(active).get('method')} denoised", 1)
    elif active is not None and _ours(active, "result"):
        name = _ours(active)["name"]
    else:
        name = next((_ours(layer)["name"] for layer in recent if layer in viewer.layers and _ours(layer, "result")), "")
    denoised = [layer for layer in viewer.layers if (_ours(layer, "result") or {}).get("name") == name] if name else []
    if not denoised:
        return [], active if active is not None and _ours(active, "uncertainty") else None
    twin = name.replace(f"[{_ours(denoised[0]).get('method')} denoised", "[uncertainty", 1)  # as `add_uncertainty` names it
    uncertainty = next((layer for layer in viewer.layers if layer.name == twin and _ours(layer, "uncertainty")), None)
    return sorted(denoised, key=lambda layer: _ours(layer).get("channel") or 0), uncertainty


def file_stem(name: str) -> str:
    """A layer's name as a file name: `noisy [n2v denoised] worse?` -> `noisy-n2v-denoised-worse`."""
    return re.sub(r"[^\w.-]+", "-", name).strip("-.") or "result"


def writes(path: str, denoised: list, uncertainty) -> list[tuple[str, object, dict]]:
    """(path, data, napari layer state) for each file: the result at `path`, its uncertainty beside it."""
    path = path if Path(path).suffix.lower() in (".tif", ".tiff") else f"{path}.tif"
    out = []
    if denoised:
        out.append((path, *_channels_as_one(denoised)))
    if uncertainty is not None:
        twin = path if not denoised else str(Path(path).with_name(f"{Path(path).stem}-uncertainty{Path(path).suffix}"))
        out.append((twin, uncertainty.data, uncertainty.as_layer_data_tuple()[1]))
    return out


def _channels_as_one(layers: list) -> tuple[object, dict]:
    """One layer's (data, state); a result split by channel is stacked back along its C axis,
    as it was in the source (the data stay lazy until written)."""
    state = layers[0].as_layer_data_tuple()[1]
    if len(layers) == 1:
        return layers[0].data, state
    made = {k: v for k, v in _ours(layers[0]).items() if k != "channel"}
    c = made["axes"].upper().index("C")
    state = {**state, "metadata": {**state["metadata"], OURS: made},
             "scale": np.insert(np.asarray(state["scale"], float), c, 1.0),
             "translate": np.insert(np.asarray(state["translate"], float), c, 0.0), "units": None, "axis_labels": None}
    return _Stacked([layer.data for layer in layers], c), state


class _Stacked:
    """Channel layers' data, stacked only when the writer reads it (on the worker thread)."""

    def __init__(self, parts: list, axis: int):
        self.parts, self.axis = parts, axis

    def __array__(self, dtype=None, copy=None):
        stacked = np.stack([np.asarray(part) for part in self.parts], axis=self.axis)
        return stacked if dtype is None else stacked.astype(dtype)


def save_job(files: list[tuple[str, object, dict]]) -> str:
    """Runs on a worker thread: check every file first, then write each; the message to show."""
    from ..io.napari_tiff import check_ours, save_result

    try:
        for path, _, _ in files:
            check_ours(path)
        for path, data, state in files:
            save_result(path, data, state)
    except Exception as err:  # noqa: BLE001 - shown as a notification, not raised in a thread
        return f"Could not save the result: {err}"
    names = " and ".join(Path(path).name for path, _, _ in files)
    return (f"Saved {names} with how it was made: reopen with File > Open (choose Blindspot denoising) "
            "or viewer.open(path, plugin=\"napari-blindspot\")")

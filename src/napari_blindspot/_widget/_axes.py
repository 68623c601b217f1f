"""A layer's axes: what the layer says (axis labels, metadata), else a guess that says what it assumed."""

from __future__ import annotations

from ..core.data import axes_from_names, guess_axes, validate_axes
from ._layers import OURS, layer_data, layer_scale

# what a guess from the shape assumed, and how to correct it
GUESS_HINTS = {
    "TYX": "Guessed: the first axis is taken as frames (T), each denoised as a 2D image. "
           "For a volume, type ZYX.",
    "CYX": "Guessed: the first axis is taken as channels (C). Type TYX for frames, ZYX for a volume.",
    "ZYX": "Guessed from the layer's scale (a Z step): a volume. Type TYX for frames.",
    "TZYX": "Guessed: frames (T) of Z stacks. Type e.g. CZYX or ZCYX if that is wrong.",
    "CZYX": "Guessed: channels (C) of Z stacks. Type e.g. TZYX or ZCYX if that is wrong.",
}


def _known(axes, shape) -> str | None:
    try:
        return validate_axes(axes, shape) if isinstance(axes, str) and axes else None
    except ValueError:
        return None


def known_axes(layer) -> tuple[str, str] | None:
    """(axes, where they come from) when `layer` says them: its napari axis labels ("t", "z",
    ...), else the axes in its metadata (ours, or a reader's "axes"); None when it does not."""
    shape = layer_data(layer).shape
    if axes := _known(axes_from_names(layer.axis_labels), shape):
        return axes, f"From the layer's axis labels ({', '.join(layer.axis_labels)})."
    metadata = getattr(layer, "metadata", {}) or {}
    for axes in (metadata.get("axes"), (metadata.get(OURS) or {}).get("axes")):
        if axes := _known(axes, shape):
            return axes, "From the layer's metadata."
    return None


def layer_axes(layer) -> tuple[str, str]:
    """(axes, hint): what the layer says, else a guess from its shape and scale with a hint that
    says what the guess assumed ("" and "" for an image of no supported dimension)."""
    if known := known_axes(layer):
        return known
    shape = layer_data(layer).shape
    if not 2 <= len(shape) <= 6:
        return "", ""
    axes = guess_axes(shape, layer_scale(layer))
    return axes, GUESS_HINTS.get(axes, "")

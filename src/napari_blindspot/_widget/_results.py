"""The result layers of a job, and the one line that describes the current model."""

from __future__ import annotations

import numpy as np

from ..io.provenance import record
from ._jobs import Result, display_range
from ._layers import OURS, not_selected

UNCERTAINTY_NOTE = "the typical error of each denoised pixel (calibrated on held-out pixels), in the image's units"
UNCERTAINTY_UNITS = "σ, in the image's intensity units"  # what one of its values is
SAVING_NOTE = ("this record is kept in a TIFF by the dock's Save result…, or by File > Save Selected Layers… "
               "with the file type 'TIFF with provenance' (napari's default TIFF writer drops it); reopen "
               "with File > Open, choosing Blindspot denoising, or viewer.open(path, plugin='napari-blindspot')")
SAVE_HINT = "Save result… keeps how it was made (napari's default File > Save drops it)"  # the status after a run
NOISE_NAMES = {"sigma": "σ", "gain": "gain", "offset": "offset", "read_sigma": "read σ"}


def result_name(viewer, source, method: str, steps: int, tag: str = "") -> str:
    """`<source> [<method> denoised]`, then a short `tag` (`worse?`) and, when that name is taken
    (Train more), the step count: short, as napari's layer list elides long names in the middle."""
    name = f"{source.name} [{method} denoised]" + (f" {tag}" if tag else "")
    return name if name not in viewer.layers else f"{name} {steps} steps"


def provenance(result: Result, source, axes: str, model_folder: str = "", applied: bool = False) -> dict:
    """How a result was made, kept in its layer's metadata (and in a TIFF saved with our writer).
    A model `applied` to another layer has no estimate for it (the model's is of its training image)."""
    made = record(result.model, axes, source.name, model_folder or None, steps=result.steps,
                  seconds=result.seconds, method=result.method) | {"saving": SAVING_NOTE}
    return {**made, "estimated_psnr_gain_db": None, "applied": True} if applied else made


def add_result(viewer, result: Result, source, axes: str = "", model_folder: str = "", reuse=None,
               uncertainty: bool = True, tag: str = "", applied: bool = False) -> list:
    """The denoised layer where `source` lies, made from `reuse` (the preview layer) when given,
    and HQ-SSL's uncertainty layer (unless `uncertainty` is False); return them. Reusing the
    preview spares the UI thread napari's removal of one layer (a full `gc.collect()`) and the
    adding of another (docs/benchmarks.md, "The end of a run"). `tag` says why not to trust it."""
    name = result_name(viewer, source, result.method, result.steps, tag)
    metadata = {OURS: {"kind": "result", "name": name, **provenance(result, source, axes, model_folder, applied)}}
    if "C" in axes.upper() and not result.lazy:
        if reuse is not None and reuse in viewer.layers:
            viewer.layers.remove(reuse)
        denoised = _add_channels(viewer, result, source, axes.upper().index("C"), name, metadata)
    elif reuse is not None and reuse in viewer.layers:
        reuse.translate = source.translate  # the preview was placed on its region
        for key in ("rotate", "shear", "axis_labels"):  # the preview was made without them
            if not np.array_equal(getattr(reuse, key), getattr(source, key)):
                setattr(reuse, key, getattr(source, key))
        reuse.data = result.denoised
        reuse.contrast_limits = result.limits or reuse.contrast_limits
        reuse.metadata, reuse.opacity, reuse.visible, reuse.name = metadata, 1.0, True, name
        denoised = reuse
    else:
        denoised = viewer.add_image(result.denoised, name=name, colormap=source.colormap,
                                    contrast_limits=result.limits, metadata=metadata, **_placement(source))
    denoised = denoised if isinstance(denoised, list) else [denoised]
    if result.uncertainty is None or not uncertainty:
        return denoised
    return denoised + [add_uncertainty(viewer, result, source, name, axes, model_folder, applied)]


def select_result(viewer, results: list) -> None:
    """Make the denoised layer the active one, as napari does with a new layer: the preview it
    was made from was added unselected (the hidden uncertainty layer is, too)."""
    shown = [layer for layer in results if layer in viewer.layers and layer.visible]
    if shown and viewer.layers.selection.active not in shown:
        viewer.layers.selection.active = shown[0]


def _add_channels(viewer, result: Result, source, c: int, name: str, metadata: dict) -> list:
    """One layer per channel (napari's `channel_axis`), each with its own contrast: one range for
    all would show a dim channel black and a bright one washed out."""
    data = result.denoised
    count = data.shape[c]
    keep = [i for i in range(source.ndim) if i != c]
    return viewer.add_image(
        data, channel_axis=c, name=[f"{name} C{i}" for i in range(count)],
        contrast_limits=[display_range(np.take(data, i, axis=c)) for i in range(count)],
        metadata=[{OURS: {**metadata[OURS], "channel": i}} for i in range(count)],
        scale=[source.scale[i] for i in keep], translate=[source.translate[i] for i in keep],
        axis_labels=[source.axis_labels[i] for i in keep])


def base_name(layer) -> str:
    """A result's name without its channel: `<source> [<method> denoised]`."""
    return (layer.metadata.get(OURS) or {}).get("name", layer.name)


def _placement(source) -> dict:
    return dict(scale=source.scale, translate=source.translate, rotate=source.rotate, shear=source.shear,
                affine=source.affine, axis_labels=source.axis_labels)


def add_uncertainty(viewer, result: Result, source, name: str, axes: str = "", model_folder: str = "",
                    applied: bool = False):
    """HQ-SSL's `<source> [uncertainty]` layer, hidden, beside the denoised layer `name`."""
    made = provenance(result, source, axes, model_folder, applied)
    with not_selected(viewer.layers):
        return viewer.add_image(
            result.uncertainty, name=name.replace(f"[{result.method} denoised", "[uncertainty"),
            colormap="magma", visible=False, contrast_limits=result.uncertainty_limits,
            metadata={OURS: {"kind": "uncertainty", "units": UNCERTAINTY_UNITS, "means": UNCERTAINTY_NOTE, **made}},
            **_placement(source))


def uncertainty_text(result: Result) -> str:
    """What the uncertainty layer's values are, for the status line (a layer has no units of its own)."""
    return "" if result.uncertainty is None else f"uncertainty layer: {UNCERTAINTY_UNITS}, per pixel"


def done_text(result: Result, applied_to: str = "", tag: str = "") -> str:
    """The status after a run ("Done: n2v, 682 steps in 130 s"), or after applying the model to `applied_to`."""
    lazy = " (denoised as you view it)" if result.lazy else ""
    if applied_to:
        return f"Done: denoised '{applied_to}' with the {result.method} model ({result.steps} steps){lazy}"
    return f"Done: {result.method}, {result.steps} steps in {result.seconds:.0f} s{lazy}" + (f": {tag}" if tag else "")


def _values(values) -> str:
    values = values if isinstance(values, (list, tuple)) else [values]
    return " / ".join("?" if v is None else f"{v:.3g}" for v in values)  # one per channel


def _variance_line(gain, offset) -> str:
    """The noise variance as a line in the intensity: its intercept is no camera offset."""
    if gain is None:
        return "?"
    return f"{gain:.3g} × intensity" + ("" if offset is None else f" {'-' if offset < 0 else '+'} {abs(offset):.3g}")


def describe_noise(params: dict | None) -> str:
    """HQ-SSL's learned noise in the image's units, e.g. "gaussian noise σ 14.9" or
    "poisson-gaussian noise: variance = 1.17 × intensity - 113"."""
    if not params:
        return ""
    if gains := params.get("gain"):
        gains = gains if isinstance(gains, (list, tuple)) else [gains]
        offsets = params.get("offset") or [None] * len(gains)
        offsets = offsets if isinstance(offsets, (list, tuple)) else [offsets]
        text = f"{params.get('kind', 'noise')} noise: variance = " + " / ".join(map(_variance_line, gains, offsets))
        read = params.get("read_sigma") or []
        return text + (f", read σ {_values(read)}" if any(r is not None for r in read) else "") + " (image units)"
    shown = [f"{NOISE_NAMES.get(k, k)} {_values(v)}" for k, v in params.items()
             if k not in ("kind", "learned") and v is not None and v != [None]]
    return f"{params.get('kind', 'noise')} noise " + ", ".join(shown) + " (image units)" if shown else ""


def describe_model(model, origin: str = "") -> str:
    if model is None:
        return "No model yet: press Train, or Load model."
    h = model.spec.history
    text = f"Model: {model.method}, axes {model.spec.axes}, {h.get('steps', 0)} steps ({h.get('seconds', 0):.0f} s)"
    if model.spec.network.get("groups", 1) > 1:
        text += ", one model per channel"
    noise = describe_noise(model.spec.noise_params)
    return text + (f", {noise}" if noise else "") + origin

"""How a result was made, and how that record travels inside a TIFF.

A result carries a small JSON record (method, axes, steps, seconds, the learned noise, the
held-out estimate, its source, the model folder). In a TIFF it is the JSON that tifffile writes
as the ImageDescription of "shaped" files (``{"shape": [...], "napari_blindspot": {...}}``),
readable with ``tifffile.TiffFile(path).shaped_metadata``. Reading it back is ``json.loads`` of
a size-checked string and nothing more: no code from a file is ever run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

KEY = "napari_blindspot"  # the record's key in a layer's metadata and in the TIFF's JSON
NAPARI = "napari"  # the layer's placement (scale, translate, units, axis labels) in the TIFF's JSON
MAX_DESCRIPTION = 1_000_000  # characters: a provenance record is a few hundred; more is not ours
_AXES = set("TCZYX")  # our letters that mean the same to tifffile (its S is "samples": RGB)


def record(model, axes: str, source: str, model_folder=None, steps=None, seconds=None, method=None) -> dict:
    """The provenance of a result of `model` on `source` (a layer name or a file)."""
    history = model.spec.history
    seconds = history.get("seconds") if seconds is None else seconds
    return {"method": method or model.method, "axes": axes, "steps": history.get("steps") if steps is None else steps,
            "seconds": None if seconds is None else round(float(seconds), 1), "noise": model.spec.noise_params,
            "best_step": history.get("best_step"), "estimated_psnr_gain_db": history.get("estimated_psnr_gain_db"),
            "estimated_psnr_gain_db_interval": history.get("estimated_psnr_gain_db_interval"),
            "source": str(source), "model_folder": str(model_folder) if model_folder else None,
            "uncertainty": uncertainty(model)}


def uncertainty(model) -> dict | None:
    """What an uncertainty map of `model` is (core/calibration.py); None for a method without one."""
    if not model.algorithm.has_uncertainty:
        return None
    note = model.spec.history.get("uncertainty_note")
    if model.spec.uncertainty_scale is None:
        note = "a model saved before the calibration: the posterior std as it is"
    return {"means": UNCERTAINTY_MEANS, "scale": list(model.uncertainty_scale), "note": note}


UNCERTAINTY_MEANS = ("the typical error of each denoised pixel, in the image's units: the error std of the "
                     "posterior mean with the data's noise level, times `scale` from the held-out pixels")


def tiff_metadata(ndim: int, provenance: dict | None = None, metadata: dict | None = None,
                  placement: dict | None = None) -> dict:
    """The `metadata=` dict for tifffile: our record, the rest of a layer's metadata that is JSON,
    the layer's placement, and the axes when tifffile reads them the same way."""
    out = {}
    extra = {k: v for k, v in (metadata or {}).items() if k != KEY and _is_json(v)}
    if extra:
        out["metadata"] = extra
    if provenance:
        out[KEY] = provenance
        axes = provenance.get("axes") or ""
        if len(axes) == ndim and set(axes) <= _AXES and len(set(axes)) == ndim:
            out["axes"] = axes
    kept = {k: _plain(v) for k, v in (placement or {}).items() if v is not None}
    kept = {k: v for k, v in kept.items() if _is_json(v)}
    if kept:
        out[NAPARI] = kept
    return out


def read_tiff_metadata(path) -> dict:
    """The JSON record of a TIFF we (or tifffile) wrote, else {}. Never raises for a foreign file."""
    import tifffile

    try:
        with tifffile.TiffFile(Path(path)) as tif:
            text = tif.pages[0].description if tif.pages else ""
    except Exception:  # noqa: BLE001 - not a TIFF we can read: no record
        return {}
    if not text or len(text) > MAX_DESCRIPTION or not text.lstrip().startswith("{"):
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    except RecursionError:
        _ignored("JSON nested too deeply to read")
        return {}
    return data if isinstance(data, dict) else {}


def layer_kwargs(found: dict, ndim: int) -> dict:
    """napari layer keywords from a TIFF's record: `metadata` (with ours), and the placement if
    it fits the image (one finite value per axis); anything else in the file is left out."""
    kwargs = {}
    metadata = dict(found.get("metadata") or {}) if isinstance(found.get("metadata"), dict) else {}
    if isinstance(found.get(KEY), dict):
        metadata[KEY] = found[KEY]
    if metadata:
        kwargs["metadata"] = metadata
    placement = found.get(NAPARI) if isinstance(found.get(NAPARI), dict) else {}
    for name in ("scale", "translate"):
        values = placement.get(name)
        if _numbers(values, ndim) and (name != "scale" or _usable_scale(values)) and all(abs(v) <= MAX_PLACE
                                                                                         for v in values):
            kwargs[name] = tuple(float(v) for v in values)
        elif values is not None:
            _ignored(f"its {name} {str(values)[:80]}")
    for name in ("units", "axis_labels"):
        values = placement.get(name)
        if isinstance(values, list) and len(values) == ndim and all(isinstance(v, str) for v in values):
            kwargs[name] = tuple(values)
    return kwargs


MAX_PLACE = 1e9  # |scale|, |translate| and scale ratios beyond this make napari's transforms singular


def _usable_scale(values) -> bool:
    sizes = [abs(v) for v in values]
    return min(sizes) >= 1 / MAX_PLACE and max(sizes) <= MAX_PLACE and max(sizes) / min(sizes) <= MAX_PLACE


def _ignored(what: str) -> None:
    import warnings

    from .readers import MetadataWarning

    warnings.warn(f"the TIFF's description gives {what}, which cannot place the image: ignored (plain pixels)",
                  MetadataWarning, stacklevel=3)


def _numbers(values, n: int) -> bool:
    return (isinstance(values, list) and len(values) == n and
            all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values))


def _plain(value):
    """numpy arrays and tuples as lists, units (pint) as their names."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, dict)) or value is None else str(value)


def _is_json(value) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True

"""`--report RUN.json`: the run's summary as JSON (DESIGN.md, command-line contract), written
atomically and only where no input, output or model lives."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPORT_FORMAT = "napari-blindspot-report"


def check(path, overwrite: bool) -> None:
    """A report goes into an existing folder and replaces only an earlier report of ours, with --overwrite."""
    from ..io.paths import read_json

    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write --report {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"cannot write --report {path}: folder {parent} is not writable")
    if not path.exists() and not path.is_symlink():
        return
    try:
        ours = read_json(path, what=f"--report {path}").get("format") == REPORT_FORMAT
    except (ValueError, AttributeError):
        ours = False
    if not ours:
        raise ValueError(f"--report {path} exists and is not a report of ours: choose a new name")
    if not overwrite:
        raise ValueError(f"--report {path} exists: add --overwrite to replace it, or choose a new name")


def write(path, run, final) -> None:
    """The run's summary as JSON, written atomically (docs: command-line contract)."""
    from ..io.provenance import uncertainty

    report = {"format": REPORT_FORMAT, "method": run.config.method, "axes": run.config.axes, "steps": final.step,
              "seconds": round(final.elapsed_s, 2), "best_step": final.best_step, "heldout_loss": final.val_loss,
              "estimated_psnr_gain_db": final.estimated_psnr_gain_db, "noise": final.noise_params,
              "estimated_psnr_gain_db_interval": None if final.estimated_psnr_gain_db_interval is None
              else list(final.estimated_psnr_gain_db_interval),
              "uncertainty": uncertainty(run.model), "settings": _settings(run)}
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _settings(run) -> dict:
    """What the run trained with, so that runs compare as training pixels per second."""
    network = run.model.spec.network
    return {"patch": list(run.settings.patch), "batch": run.settings.batch, "precision": run.model.precision.name,
            "features": network.get("features"), "decoder_features": network.get("decoder_features"),
            "depth": network.get("depth"), "context_planes": run.model.spec.context_planes}

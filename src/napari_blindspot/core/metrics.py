"""Quality against a known ground truth (a simulated sample's `[clean]` layer)."""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np


def true_psnr(result, clean) -> float:
    """PSNR in dB of `result` against `clean`, with the clean image's range as the peak:
    10 log10((max - min)^2 / MSE). A camera's offset does not inflate it."""
    result, clean = np.asarray(result, np.float64), np.asarray(clean, np.float64)
    if result.shape != clean.shape:
        raise ValueError(f"result of shape {result.shape} and clean image of shape {clean.shape} differ: "
                         "compare a result with the clean version of its own source")
    mse = np.mean((result - clean) ** 2)
    peak = clean.max() - clean.min()
    return float("inf") if mse == 0 else float(10 * np.log10(peak ** 2 / mse))


def clean_layer_name(source: str, names: Iterable[str]) -> str | None:
    """The name of the ground truth of layer `source` among `names`: `<source> [clean]`, or for
    one of several recordings `<name> (1)`, `<name> (2)`, ... the shared `<name> [clean]`."""
    names = set(names)
    for base in (source, re.sub(r" \(\d+\)$", "", source)):
        if f"{base} [clean]" in names:
            return f"{base} [clean]"
    return None

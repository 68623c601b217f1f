"""What the status line says about quality: the held-out estimate, and the true gain when a
`<source> [clean]` layer (a simulated sample's ground truth) is open."""

from __future__ import annotations

import numpy as np

from .. import metrics
from ._layers import layer_data


def estimate_text(estimate: tuple | None) -> str:
    """"+9.5 dB (8.7 to 10.3)" from (gain, interval); a gain of None cannot be told (core/heldout.py)."""
    if estimate is None:
        return ""
    gain, interval = estimate
    if gain is None:
        return ("the PSNR gain over the input cannot be told yet" if interval is None else
                f"the PSNR gain over the input cannot be told yet ({interval[0]:+.1f} to {interval[1]:+.1f} dB)")
    return f"estimated PSNR gain over the input, {gain:+.1f} dB ({interval[0]:+.1f} to {interval[1]:+.1f})"


def true_gain_db(viewer, source, denoised) -> tuple[float, str] | None:
    """(true PSNR gain of `denoised` over `source`, clean layer's name), or None without a clean
    layer of the same shape (a lazy result is not read whole for it)."""
    name = metrics.clean_layer_name(source.name, [layer.name for layer in viewer.layers])
    if name is None or not isinstance(denoised, np.ndarray):
        return None
    clean, noisy = layer_data(viewer.layers[name]), layer_data(source)
    if not isinstance(clean, np.ndarray) or clean.shape != denoised.shape or noisy.shape != denoised.shape:
        return None
    return metrics.true_psnr(denoised, clean) - metrics.true_psnr(noisy, clean), name


def true_text(viewer, source, denoised) -> str:
    found = true_gain_db(viewer, source, denoised)
    return "" if found is None else f"true PSNR gain {found[0]:+.1f} dB (against '{found[1]}')"


def joined(*parts: str) -> str:
    return " · ".join(part for part in parts if part)

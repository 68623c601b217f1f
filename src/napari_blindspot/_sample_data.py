"""File > Open Sample: simulated fluorescence fields (see `simulate.py`), each opened with its
noise-free ground truth as a layer `<name> [clean]`, hidden, to compare a result against."""

from __future__ import annotations

import numpy as np

from .simulate import simulate_fluorescence

SPACING_3D = (2.0, 1.0, 1.0)  # Z steps of two pixel sizes, as in a typical confocal stack


def _layers(name: str, noisy: list[np.ndarray], clean: np.ndarray, names: list[str], **kwargs):
    """The clean layer first (hidden), then the recordings, so the last, selected one is noisy."""
    contrast = (float(np.percentile(clean, 0.1)), float(np.percentile(clean, 99.9)))
    look = {"colormap": "gray", "contrast_limits": contrast, **kwargs}
    return [(clean, {"name": f"{name} [clean]", "visible": False, **look}, "image")] + [
        (image, {"name": label, **look}, "image") for image, label in zip(noisy, names)]


def fluorescence_2d():
    """Nuclei in a 512x512 widefield image, about 10 photons per nucleus pixel."""
    noisy, clean = simulate_fluorescence((512, 512), seed=0)
    return _layers("fluorescence", [noisy], clean, ["fluorescence"])


def fluorescence_3d():
    """A 48-plane stack of nuclei (Z step twice the pixel size)."""
    noisy, clean = simulate_fluorescence((48, 192, 192), seed=1, spacing=SPACING_3D)
    return _layers("fluorescence 3D", [noisy], clean, ["fluorescence 3D"], scale=SPACING_3D,
                   axis_labels=("z", "y", "x"))  # so the widget knows it is a volume, not frames


def fluorescence_pair():
    """Two recordings of one field (independent noise, same nuclei), for Noise2Noise."""
    noisy, clean = simulate_fluorescence((512, 512), seed=2, recordings=2)
    name = "fluorescence pair"
    return _layers(name, list(noisy), clean, [f"{name} (1)", f"{name} (2)"])

"""How well N2V's noise level is estimated from the data (`heldout.estimate_noise_variance`).

    .venv/bin/python benchmarks/noise_level.py

Prints the estimated Gaussian sigma next to the true one on scikit-image's images.
"""

import numpy as np
from skimage import data

from napari_blindspot.core.heldout import estimate_noise_variance

for name in ("camera", "moon", "brick", "coins"):
    clean = getattr(data, name)().astype(np.float32)
    estimates = []
    for sigma in (10, 25, 50):
        noisy = clean + np.random.default_rng(0).normal(0, sigma, clean.shape)
        estimates.append(f"{sigma}: {np.sqrt(estimate_noise_variance(noisy[None, None])[0]):.2f}")
    print(f"{name:8s}", "  ".join(estimates))

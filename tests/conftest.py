import numpy as np
import pytest


@pytest.fixture
def noisy_image():
    """A small, seeded noisy 2D image (smooth structure + Gaussian noise) and its clean version."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    clean = (100 + 60 * np.sin(x / 6.0) * np.cos(y / 9.0)).astype(np.float32)
    noisy = clean + rng.normal(0, 20, clean.shape).astype(np.float32)
    return clean, noisy


TINY = dict(features=8, patch_size=16, batch_size=4, preview_every_s=None, time_budget_s=None)

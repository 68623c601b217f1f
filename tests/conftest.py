from types import MappingProxyType

import numpy as np
import pytest


class CountingArray:
    """An array-like (for `da.from_array`) that counts how many elements were read from it."""

    def __init__(self, array, chunks):
        self.array, self.shape, self.dtype, self.ndim = array, array.shape, array.dtype, array.ndim
        self.chunks, self.read = chunks, 0

    def __getitem__(self, index):
        out = self.array[index]
        self.read += out.size
        return out


@pytest.fixture
def counting_array():
    """The CountingArray class: wrap an array to count the elements lazy code reads."""
    return CountingArray


@pytest.fixture
def noisy_image():
    """A small, seeded noisy 2D image (smooth structure + Gaussian noise) and its clean version."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:64]
    clean = (100 + 60 * np.sin(x / 6.0) * np.cos(y / 9.0)).astype(np.float32)
    noisy = clean + rng.normal(0, 20, clean.shape).astype(np.float32)
    return clean, noisy


@pytest.fixture(scope="session")
def tiny():
    """Training settings small enough for a unit test: two steps of a narrow network on small
    patches, no previews, on the CPU (cuDNN's kernels are not deterministic). Read-only: override
    with `{**tiny, "steps": 3}`."""
    return MappingProxyType(dict(steps=2, time_budget_s=None, features=8, patch_size=16, batch_size=2,
                                 preview_every_s=None, device="cpu"))

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


@pytest.fixture
def fake_clock(monkeypatch):
    """Training's clock, advanced only by `clock.now += s` and by `clock.step_s` (0.125 s) per training step."""
    from types import SimpleNamespace

    from napari_blindspot.core import schedule, training

    clock = SimpleNamespace(now=0.0, steps=0, step_s=0.125)
    for module in (training, schedule):
        monkeypatch.setattr(module, "time", SimpleNamespace(perf_counter=lambda: clock.now))
    real_step = training.step

    def step(*args, **kwargs):
        clock.steps += 1
        assert clock.steps < 200, "the run did not stop"
        clock.now += clock.step_s
        return real_step(*args, **kwargs)

    monkeypatch.setattr(training, "step", step)
    return clock

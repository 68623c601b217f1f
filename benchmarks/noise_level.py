"""How well the noise level is measured from the data (`core.noise_level.estimate_noise_level`).

    PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/noise_level.py

Synthetic noise of known level on smooth and textured clean images (scikit-image's and the
package's simulated fluorescence), Gaussian, Poisson and Poisson-Gaussian, at a low and a high
intensity range. Prints, per case, the estimated mean noise variance over the true one (1.000:
exact) and the estimate's stated relative standard error; the last line the median and worst
absolute error and how often the truth lies within 2 stated standard errors. With an older
source on PYTHONPATH (one without core/noise_level.py) it measures that version's
`heldout.estimate_noise_variance` (removed since) instead, with no stated error (printed as 0).
"""

import numpy as np
from skimage import data

try:
    from napari_blindspot.core.noise_level import estimate_noise_level
except ImportError:  # before the noise-level function: the wavelet estimate of the mean variance
    from types import SimpleNamespace

    from napari_blindspot.core.heldout import estimate_noise_variance

    def estimate_noise_level(z, signal_dependent=True):
        mean = estimate_noise_variance(z)
        return SimpleNamespace(variance=lambda y: mean, rel_stderr=[0.0])
from napari_blindspot.simulate import simulate_fluorescence


SHORT = {"gaussian": "G", "poisson": "P", "poisson-gaussian": "PG"}


def images():
    yield "camera", data.camera()
    yield "moon", data.moon()
    yield "brick", data.brick()
    yield "astronaut", data.astronaut()[..., 1]
    yield "retina", data.retina()[..., 1]
    yield "coins", data.coins()
    yield "fluorescence", simulate_fluorescence(shape=(512, 512), seed=0)[1]


def noisy(clean, model, peak, rng):
    """(noisy, true per-pixel variance) of `clean` scaled to [0.1 peak, peak]."""
    x = 0.1 * peak + 0.9 * peak * (clean - clean.min()) / max(np.ptp(clean), 1e-12)
    if model == "gaussian":
        var = np.full_like(x, (0.1 * peak) ** 2)
        return x + rng.normal(0, np.sqrt(var)), var
    if model == "poisson":
        return rng.poisson(x).astype(np.float64), x
    var = x + (0.05 * peak) ** 2
    return rng.poisson(x) + rng.normal(0, 0.05 * peak, x.shape), var


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    errors, covered = [], []
    for name, clean in images():
        clean = np.asarray(clean, np.float64)
        row = []
        for model in ("gaussian", "poisson", "poisson-gaussian"):
            for peak in (30.0, 1000.0):
                y, var = noisy(clean, model, peak, rng)
                level = estimate_noise_level(y[None, None], signal_dependent=model != "gaussian")
                ratio = float(level.variance(y[None, None]).mean() / var.mean())
                errors.append(abs(ratio - 1))
                covered.append(abs(ratio - 1) <= 2 * level.rel_stderr[0])
                row.append(f"{SHORT[model]}{peak:<5.0f}{ratio:.3f}±{level.rel_stderr[0]:.3f}")
        print(f"{name:13s}", "  ".join(row))
    print(f"median |error| {np.median(errors):.3f}, worst {max(errors):.3f}, "
          f"truth within 2 stated stderr: {np.mean(covered):.0%}")

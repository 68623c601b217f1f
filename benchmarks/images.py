"""Benchmark cases: clean 512x512 grayscale images from scikit-image's bundled data, with
seeded synthetic noise, so that every denoiser is scored against the same ground truth.

    from images import cases, psnr
    for case in cases(): print(case.name, psnr(case.clean, case.noisy, case.data_range))

Only images that ship inside scikit-image are used (cells3d, human_mitosis are downloaded at
run time and cannot be here). All arrays are float32; noisy images are never clipped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage import data
from skimage.color import rgb2gray

SIDE = 512


@dataclass(frozen=True)
class Case:
    name: str
    clean: np.ndarray  # float32 (512, 512)
    noisy: np.ndarray  # float32 (512, 512), not clipped
    noise: str  # human-readable description
    params: dict  # true noise parameters: sigma, or gain and read_sigma (same units as images)
    data_range: float  # for PSNR
    axes: str = "YX"


def psnr(clean: np.ndarray, estimate: np.ndarray, data_range: float) -> float:
    """10 log10(range^2 / MSE), in float64; the estimate is not clipped."""
    mse = np.mean((clean.astype(np.float64) - estimate.astype(np.float64)) ** 2)
    return float(10 * np.log10(data_range**2 / mse))


def _center_crop(image: np.ndarray) -> np.ndarray:
    y, x = (image.shape[0] - SIDE) // 2, (image.shape[1] - SIDE) // 2
    return image[y : y + SIDE, x : x + SIDE]


def _gray255(rgb: np.ndarray) -> np.ndarray:
    return rgb2gray(rgb) * 255  # luminance, 0..255


def _gaussian(name: str, clean: np.ndarray, sigma: float, seed: int) -> Case:
    clean = clean.astype(np.float32)
    noisy = clean + np.random.default_rng(seed).normal(0, sigma, clean.shape).astype(np.float32)
    return Case(name, clean, noisy, f"Gaussian sigma={sigma} (0..255 scale)", {"sigma": sigma}, 255.0)


def _poisson_gaussian(name: str, image: np.ndarray, peak: float, gain: float, read_sigma: float, seed: int) -> Case:
    """noisy = gain * Poisson(electrons) + N(0, read_sigma^2), electrons = image scaled to `peak`;
    clean = gain * electrons, so Var[noisy | clean] = gain * clean + read_sigma^2."""
    rng = np.random.default_rng(seed)
    electrons = image.astype(np.float64) / image.max() * peak
    noisy = gain * rng.poisson(electrons) + rng.normal(0, read_sigma, image.shape)
    clean = (gain * electrons).astype(np.float32)
    kind = "Poisson" if not read_sigma else "Poisson-Gaussian"
    noise = f"{kind} peak={peak} e-, gain={gain}, read_sigma={read_sigma}"
    params = {"peak": peak, "gain": gain, "read_sigma": read_sigma}
    return Case(name, clean, noisy.astype(np.float32), noise, params, float(clean.max() - clean.min()))


def cases(names: list[str] | None = None, draw: int = 0) -> list[Case]:
    """All benchmark cases in a fixed order, or those named (ValueError lists the valid names).
    `draw` > 0: another, independent noise draw of the same clean images (N2N's second recording)."""
    s = 100 * draw
    makers = {
        "moon_g25": lambda: _gaussian("moon_g25", data.moon(), 25.0, seed=1 + s),
        "camera_g25": lambda: _gaussian("camera_g25", data.camera(), 25.0, seed=2 + s),
        "brick_g25": lambda: _gaussian("brick_g25", data.brick(), 25.0, seed=3 + s),
        # brightfield immunohistochemistry (512x512 RGB -> gray), photon-limited: peak 30 photons
        "ihc_poisson30": lambda: _poisson_gaussian("ihc_poisson30", _gray255(data.immunohistochemistry()), 30.0, 1.0, 0.0, seed=4 + s),
        # held out, a different kind: Hubble deep field (872x1000 RGB JPEG -> gray, centre crop
        # 512x512), bright sources on a dark background like fluorescence; sensor-like noise
        "hubble_pg": lambda: _poisson_gaussian("hubble_pg", _center_crop(_gray255(data.hubble_deep_field())), 30.0, 2.0, 3.0, seed=5 + s),
    }
    unknown = set(names or []) - set(makers)
    if unknown:
        raise ValueError(f"unknown case(s) {sorted(unknown)}: choose from {', '.join(makers)}")
    return [make() for name, make in makers.items() if names is None or name in names]


STACK_CASE = "retina_pan16_g25"


def stack_case(frames: int = 16, side: int = 256, step: int = 6, sigma: float = 25.0, seed: int = 6) -> Case:
    """A slowly moving real scene: `frames` crops of the retina fundus image (green channel,
    where its vessels show, stretched to 10..245), each `step` pixels further down and right,
    Gaussian noise; axes TYX."""
    green = data.retina()[..., 1].astype(np.float32)
    y0 = x0 = (green.shape[0] - side - step * frames) // 2
    clean = np.stack([green[y0 + k * step : y0 + k * step + side, x0 + k * step : x0 + k * step + side]
                      for k in range(frames)])
    low, high = clean.min(), clean.max()
    clean = (10 + 235 * (clean - low) / (high - low)).astype(np.float32)  # the 0..255 scale, as the others
    noisy = clean + np.random.default_rng(seed).normal(0, sigma, clean.shape).astype(np.float32)
    return Case(STACK_CASE, clean, noisy, f"Gaussian sigma={sigma}, {frames} frames", {"sigma": sigma}, 255.0, "TYX")


def psnr_planes(clean: np.ndarray, estimate: np.ndarray, data_range: float) -> float:
    """The mean over planes (the first axis) of each plane's PSNR."""
    return float(np.mean([psnr(c, e, data_range) for c, e in zip(clean, estimate)]))


def case_named(name: str) -> Case:
    return stack_case() if name == STACK_CASE else cases([name])[0]


def score(case: Case, estimate: np.ndarray) -> float:
    """PSNR for a 2D case, the mean per-plane PSNR for the stack."""
    return psnr_planes(case.clean, estimate, case.data_range) if case.clean.ndim == 3 else psnr(case.clean, estimate, case.data_range)


if __name__ == "__main__":
    for case in cases():
        print(f"{case.name:14s} {case.noise:45s} noisy PSNR {psnr(case.clean, case.noisy, case.data_range):6.2f} dB")

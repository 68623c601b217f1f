"""Classical baselines on every benchmark case: what a user would otherwise run.

    python benchmarks/baselines.py [--cases moon_g25,hubble_pg] [--out benchmarks/results/baselines.json]

- nlm: skimage.restoration.denoise_nl_means as in scikit-image's own gallery example: sigma
  estimated from the noisy image by estimate_sigma (the user doesn't know it), h = 0.8 sigma,
  fast_mode, patch_size=5, patch_distance=6. Applied to the raw image, Poisson or not.
- bm3d: bm3d.bm3d (profile 'np', both stages) given the TRUE noise level. For Poisson(-Gaussian)
  cases the generalised Anscombe transform makes the noise ~N(0, 1), BM3D runs with sigma=1,
  and the closed-form unbiased inverse maps back.

Each run happens in a fresh process: wall time of the denoising call alone, and the peak
resident memory of the process during the call (VmHWM, reset just before), absolute and as a
rise over the resident memory at the start of the call (see _measure.py). Results are merged
into the JSON (one key per case/method) and printed as a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from bm3d import bm3d as run_bm3d
from skimage.restoration import denoise_nl_means, estimate_sigma

sys.path.insert(0, str(Path(__file__).parent))
from _measure import isolated, load, merge_results  # noqa: E402
from images import Case, cases, psnr  # noqa: E402


def gat(x: np.ndarray, gain: float, read_sigma: float) -> np.ndarray:
    """Generalised Anscombe: gain*Poisson + N(0, read_sigma^2) -> approximately N(., 1)."""
    return 2 / gain * np.sqrt(np.maximum(gain * x + 3 / 8 * gain**2 + read_sigma**2, 0))


def gat_inverse(d: np.ndarray, gain: float, read_sigma: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi, 2013).

    Below d = 1 the series stops being monotone; the true inverse is 0 there.
    """
    d, r = np.maximum(d, 1.0), np.sqrt(1.5)
    z = d**2 / 4 + r / (4 * d) - 11 / (8 * d**2) + 5 * r / (8 * d**3) - 1 / 8 - (read_sigma / gain) ** 2
    return gain * np.maximum(z, 0)


def nlm(case: Case) -> np.ndarray:
    sigma = estimate_sigma(case.noisy)
    return denoise_nl_means(case.noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6)


def bm3d(case: Case) -> np.ndarray:
    if "sigma" in case.params:
        return run_bm3d(case.noisy, sigma_psd=case.params["sigma"])
    gain, read_sigma = case.params["gain"], case.params["read_sigma"]
    return gat_inverse(run_bm3d(gat(case.noisy, gain, read_sigma), sigma_psd=1.0), gain, read_sigma)


METHODS = {"nlm": nlm, "bm3d": bm3d}


def measure(method: str, case: Case) -> dict:
    start = time.perf_counter()
    estimate = METHODS[method](case)
    wall = time.perf_counter() - start
    return {"psnr_db": round(psnr(case.clean, estimate, case.data_range), 2), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "baselines.json")
    args = parser.parse_args()
    rows = []
    for case in cases(args.cases.split(",") if args.cases else None):
        noisy_db = round(psnr(case.clean, case.noisy, case.data_range), 2)
        for method in METHODS:
            load_start = load()
            entry = {"case": case.name, "method": method, "noise": case.noise, "noisy_psnr_db": noisy_db}
            entry |= isolated(measure, method, case) | {"load_start": load_start, "load_end": load()}
            merge_results(args.out, f"{case.name}/{method}", entry)
            rows.append(entry)
            print(f"{case.name} {method}: {entry['psnr_db']} dB in {entry['wall_s']} s", file=sys.stderr)
    print("| case | noise | noisy dB | method | PSNR dB | wall s | peak RSS MiB | RSS rise MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for e in rows:
        print(f"| {e['case']} | {e['noise']} | {e['noisy_psnr_db']} | {e['method']} | {e['psnr_db']} "
              f"| {e['wall_s']} | {e['peak_rss_mib']} | {e['rss_rise_mib']} |")


if __name__ == "__main__":
    main()

"""Classical baselines on every benchmark case: what a user would otherwise run.

    python benchmarks/baselines.py [--cases moon_g25,hubble_pg] [--out benchmarks/results/baselines.json]
    python benchmarks/baselines.py --stack    # the 16-frame stack: NLM and BM3D per frame, BM4D on the stack

- nlm: skimage.restoration.denoise_nl_means as in scikit-image's own gallery example: sigma
  estimated from the noisy image by estimate_sigma (the user doesn't know it), h = 0.8 sigma,
  fast_mode, patch_size=5, patch_distance=6. Applied to the raw image, Poisson or not.
- bm3d: bm3d.bm3d (profile 'np', both stages) given the TRUE noise level. For Poisson(-Gaussian)
  cases the generalised Anscombe transform makes the noise ~N(0, 1), BM3D runs with sigma=1,
  and the closed-form unbiased inverse maps back.
- bm4d (stack only): bm4d.bm4d on the whole stack with the true sigma. On the stack, PSNR is the
  mean over frames of each frame's PSNR.

Each run happens in a fresh process: wall time of the denoising call alone, and the peak
resident memory of the process during the call (VmHWM, reset just before), absolute and as a
rise over the resident memory at the start of the call (see _measure.py). Results are merged
into the JSON (one key per case/method) and printed as a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from bm3d import bm3d as run_bm3d
from skimage.restoration import denoise_nl_means, estimate_sigma

sys.path.insert(0, str(Path(__file__).parent))
from _measure import isolated, load, merge_results  # noqa: E402
from images import STACK_CASE, Case, cases, score, stack_case  # noqa: E402


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


def _per_plane(denoise):
    """A 2D denoiser applied plane by plane to a stack case (TYX)."""
    def run(case: Case) -> np.ndarray:
        if case.noisy.ndim == 2:
            return denoise(case)
        return np.stack([denoise(replace(case, clean=c, noisy=n)) for c, n in zip(case.clean, case.noisy)])
    return run


def bm4d(case: Case) -> np.ndarray:
    """BM4D on the whole stack (it uses the frames' shared content), given the true sigma."""
    from bm4d import bm4d as run_bm4d

    return run_bm4d(case.noisy, sigma_psd=case.params["sigma"])


@_per_plane
def nlm(case: Case) -> np.ndarray:
    sigma = estimate_sigma(case.noisy)
    return denoise_nl_means(case.noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6)


@_per_plane
def bm3d(case: Case) -> np.ndarray:
    if "sigma" in case.params:
        return run_bm3d(case.noisy, sigma_psd=case.params["sigma"])
    gain, read_sigma = case.params["gain"], case.params["read_sigma"]
    return gat_inverse(run_bm3d(gat(case.noisy, gain, read_sigma), sigma_psd=1.0), gain, read_sigma)


METHODS = {"nlm": nlm, "bm3d": bm3d}
STACK_METHODS = {**METHODS, "bm4d": bm4d}


def measure(method: str, case: Case) -> dict:
    start = time.perf_counter()
    estimate = STACK_METHODS[method](case)
    wall = time.perf_counter() - start
    return {"psnr_db": round(score(case, estimate), 2), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", help="comma-separated case names (default: all)")
    parser.add_argument("--stack", action="store_true", help=f"the stack case {STACK_CASE} (PSNR averaged over planes) instead")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "baselines.json")
    args = parser.parse_args()
    rows = []
    chosen = [stack_case()] if args.stack else cases(args.cases.split(",") if args.cases else None)
    for case in chosen:
        noisy_db = round(score(case, case.noisy), 2)
        for method in STACK_METHODS if args.stack else METHODS:
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

"""3D denoising: our methods in 3D and slice by slice against 3D NLM and BM4D, on one noisy stack.

    .venv/bin/python benchmarks/bench3d.py                     # 64x256x256, 120 s budgets
    .venv/bin/python benchmarks/bench3d.py --methods n2v-3d hqssl-3d --budget 60 --skip-done
    .venv/bin/python benchmarks/bench3d.py --methods n2v-3d --option batch_size=4   # a TrainConfig override
    .venv/bin/python benchmarks/bench3d.py --shape 32,64,64 --budget 5 --out /tmp/bench3d.json  # smoke test

The stack is generated, nothing is downloaded: nuclei from `skimage.data.binary_blobs` in 3D
(a cube cropped to --shape, blobs about 20 voxels across), each nucleus with its own
brightness and a smoothed-noise chromatin texture, a faint smooth background, blurred by an
axially elongated Gaussian PSF, scaled to 10..245. Voxels are isotropic, which favours 3D.
Noise is added as in images.py (seeded, never clipped): `nuclei3d_g25`, Gaussian sigma 25
(the default case), and `nuclei3d_poisson30`, Poisson with a peak of 30 photons.

Methods (one fresh process per run, see _measure.py):
- n2v-3d, n2v-2d, hqssl-3d (six rotations), hqssl-2d (four rotations, slice by slice): trained
  for --budget seconds with the package defaults (HQ-SSL noise=auto), then the whole volume is
  predicted; axes "ZYX", three_d=True (3d) or False (2d). Training stops only between steps and
  ends with one validation pass, so train_s can exceed the budget by a step or more; a 3D step
  costs several 2D ones on the CPU, so compare `steps` too.
- nlm-3d: skimage denoise_nl_means on the volume, sigma from estimate_sigma, h = 0.8 sigma,
  patch_size 5, patch_distance 6, fast mode (as baselines.py, in 3D).
- bm4d: bm4d.bm4d (profile 'np', both stages) given the TRUE sigma; for the Poisson case the
  generalised Anscombe transform of baselines.py, sigma 1, and its unbiased inverse.

Results merge into benchmarks/results/bench3d.json under case/shape/method[/budget], with PSNR
against the clean stack, wall times (training and prediction apart), steps/s and the process's
peak resident memory. Run it on a quiet machine: every other process on the cores costs steps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _measure import isolated, load, merge_results, parse_option
from images import Case, _gaussian, _poisson_gaussian, psnr
from methods import train_and_predict

RESULTS = Path(__file__).parent / "results" / "bench3d.json"
LEARNED = {"n2v-3d": ("n2v", True), "n2v-2d": ("n2v", False), "hqssl-3d": ("hqssl", True),
           "hqssl-2d": ("hqssl", False)}
CLASSICAL = ("nlm-3d", "bm4d")
METHODS = (*LEARNED, *CLASSICAL)
CASES = ("nuclei3d_g25", "nuclei3d_poisson30")
NUCLEUS_VOXELS = 20  # typical blob diameter, whatever the stack size


def nuclei_stack(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Clean float32 stack of textured nuclei, values 10..245 (see the module docstring)."""
    from scipy import ndimage as ndi
    from skimage.data import binary_blobs

    rng = np.random.default_rng(seed)
    side = max(shape)
    blobs = binary_blobs(side, blob_size_fraction=NUCLEUS_VOXELS / side, n_dim=3, volume_fraction=0.2,
                         rng=seed)[: shape[0], : shape[1], : shape[2]]
    labels, n = ndi.label(blobs)
    brightness = np.concatenate([[0.0], rng.uniform(0.4, 1.0, n)])[labels]
    chromatin = ndi.gaussian_filter(rng.standard_normal(shape), 1.2)
    texture = 1 + 0.35 * chromatin / chromatin.std()
    haze = ndi.gaussian_filter(rng.standard_normal(shape), 8)
    background = 0.08 + 0.04 * haze / haze.std()
    clean = ndi.gaussian_filter(brightness * texture + np.clip(background, 0, None), sigma=(1.6, 0.8, 0.8))
    clean = 10 + 235 * (clean - clean.min()) / (clean.max() - clean.min())
    return clean.astype(np.float32)


@cache
def make_case(name: str, shape: tuple[int, int, int]) -> Case:
    clean = nuclei_stack(shape)
    if name == "nuclei3d_g25":
        return _gaussian(name, clean, 25.0, seed=11)
    if name == "nuclei3d_poisson30":
        return _poisson_gaussian(name, clean, 30.0, 1.0, 0.0, seed=12)
    raise ValueError(f"unknown case {name!r}: choose from {', '.join(CASES)}")


def _learned(method: str, case: Case, budget: float, seed: int, options: dict) -> dict:
    import torch

    import napari_blindspot as nb

    name, three_d = LEARNED[method]
    config = nb.TrainConfig(method=name, axes="ZYX", three_d=three_d, time_budget_s=budget, seed=seed,
                            preview_every_s=None, **options)
    run, last, denoised, train_s, predict_s = train_and_predict(case.noisy, config)
    return {
        "psnr_db": round(psnr(case.clean, denoised, case.data_range), 2), "wall_s": round(train_s + predict_s, 1),
        "train_s": round(train_s, 1), "predict_s": round(predict_s, 1), "budget_s": budget, "seed": seed,
        "options": options,
        "steps": last.step, "steps_per_s": round(last.step / last.elapsed_s, 2) if last.elapsed_s else 0.0,
        "patch": list(run.settings.patch), "batch": run.settings.batch,
        "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
        "noise_learned": last.noise_params, "threads": torch.get_num_threads(), "torch": torch.__version__,
    }


def _classical(method: str, case: Case) -> dict:
    from skimage.restoration import denoise_nl_means, estimate_sigma

    t0 = time.perf_counter()
    if method == "nlm-3d":
        sigma = float(estimate_sigma(case.noisy))
        estimate = denoise_nl_means(case.noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5,
                                    patch_distance=6)
        extra = {"sigma_estimated": round(sigma, 2)}
    else:
        from baselines import gat, gat_inverse
        from bm4d import bm4d

        if "sigma" in case.params:
            estimate = bm4d(case.noisy, sigma_psd=case.params["sigma"])
        else:
            gain, read_sigma = case.params["gain"], case.params["read_sigma"]
            estimate = gat_inverse(bm4d(gat(case.noisy, gain, read_sigma), sigma_psd=1.0), gain, read_sigma)
        extra = {}
    wall = time.perf_counter() - t0
    return {"psnr_db": round(psnr(case.clean, estimate, case.data_range), 2), "wall_s": round(wall, 1), **extra}


def run_one(method: str, case: Case, budget: float, seed: int, options: dict) -> dict:
    return _learned(method, case, budget, seed, options) if method in LEARNED else _classical(method, case)


def key(case: str, shape: tuple[int, ...], method: str, budget: float, options: dict) -> str:
    base = f"{case}/{'x'.join(map(str, shape))}/{method}"
    if method not in LEARNED:
        return base
    return f"{base}/{budget:g}" + ("+" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) if options else "")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--cases", nargs="+", default=[CASES[0]], choices=CASES)
    parser.add_argument("--shape", default="64,256,256", help="Z,Y,X of the stack (default 64,256,256)")
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per learned method")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", type=parse_option, action="append", default=[], metavar="NAME=VALUE",
                        help="TrainConfig override for the learned methods, e.g. batch_size=4 (repeatable; "
                             "recorded in the result key)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-done", action="store_true", help="leave runs already in the results file")
    args = parser.parse_args(argv)
    shape = tuple(int(s) for s in args.shape.split(","))
    if len(shape) != 3 or min(shape) < 16:
        parser.error(f"--shape needs three sides of at least 16, e.g. 64,256,256; got {args.shape}")
    options = dict(args.option)
    done = json.loads(args.out.read_text()).get("runs", {}) if args.out.exists() else {}
    rows = []
    for case_name in args.cases:
        for method in args.methods:
            k = key(case_name, shape, method, args.budget, options)
            if args.skip_done and k in done:
                continue
            case = make_case(case_name, shape)
            load_before = load()
            entry = {"case": case_name, "method": method, "shape": list(shape), "noise": case.noise,
                     "noisy_psnr_db": round(psnr(case.clean, case.noisy, case.data_range), 2)}
            entry |= isolated(run_one, method, case, args.budget, args.seed, options)
            entry |= {"load_before": load_before, "load_after": load()}
            merge_results(args.out, k, entry)
            rows.append(entry)
            print(f"{k:40s} {entry['psnr_db']:6.2f} dB  {entry['wall_s']:7.1f} s  "
                  f"peak {entry['peak_rss_mib']:.0f} MiB  load {entry['load_after'][0]}", flush=True)
    print("| case | method | noisy dB | PSNR dB | train s | predict s | steps/s | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for e in rows:
        print(f"| {e['case']} | {e['method']} | {e['noisy_psnr_db']} | {e['psnr_db']} | {e.get('train_s', '')} "
              f"| {e.get('predict_s', '')} | {e.get('steps_per_s', '')} | {e['wall_s']} | {e['peak_rss_mib']} |")


if __name__ == "__main__":
    main()

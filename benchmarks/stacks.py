"""Stacks that use their neighbours: our methods with and without neighbour planes against BM3D
per plane and BM4D on the stack, on two 16-plane stacks of real images with Poisson noise.

    python benchmarks/stacks.py --stack hubble_focus16 --seconds 120 --threads 1
    python benchmarks/stacks.py --stack retina_pan16 --seconds 120 --threads 1

- hubble_focus16: a Z-like stack. The Hubble deep field (bright sources on black, like
  fluorescence; grey, centre crop 256x256) seen through a focus series: plane z is blurred by a
  Gaussian of sigma 0.6 + 0.25 |z - 7.5| pixels, as a widefield stack passes through focus.
- retina_pan16: a time-lapse. 16 crops (256x256) of the retina fundus image (green channel),
  each 2 pixels further down and right: a slowly panning scene.
Both are scaled to a peak of 30 photons and drawn with Poisson noise (seeded); PSNR is the mean
over planes of each plane's PSNR against the clean stack, its range the clean stack's.

BM3D and BM4D get the generalised Anscombe transform first (noise ~N(0, 1), sigma 1) and its
closed-form unbiased inverse (baselines.py). Our runs train for `--seconds` seconds each with
`--threads` torch threads, default settings otherwise; "+nb" is context_planes chosen from the
stack (k=2 here), "alone" is context_planes=0. Results go to results/stacks_<STACK>.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage import data

sys.path.insert(0, str(Path(__file__).parent))
from baselines import gat, gat_inverse  # noqa: E402
from images import psnr_planes  # noqa: E402

PEAK = 30.0
PLANES, SIDE = 16, 256


def hubble_focus16() -> np.ndarray:
    gray = data.hubble_deep_field().astype(np.float64).mean(axis=2)
    y0, x0 = (gray.shape[0] - SIDE) // 2, (gray.shape[1] - SIDE) // 2
    crop = gray[y0 : y0 + SIDE, x0 : x0 + SIDE]
    return np.stack([gaussian_filter(crop, 0.6 + 0.25 * abs(z - (PLANES - 1) / 2)) for z in range(PLANES)])


def retina_pan16(step: int = 2) -> np.ndarray:
    green = data.retina()[..., 1].astype(np.float64)
    y0 = x0 = (green.shape[0] - SIDE - step * PLANES) // 2
    return np.stack([green[y0 + t * step : y0 + t * step + SIDE, x0 + t * step : x0 + t * step + SIDE]
                     for t in range(PLANES)])


STACKS = {"hubble_focus16": (hubble_focus16, "ZYX"), "retina_pan16": (retina_pan16, "TYX")}


def noisy_stack(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    clean = STACKS[name][0]()
    clean = (clean - clean.min()) / (clean.max() - clean.min()) * PEAK
    noisy = np.random.default_rng(seed).poisson(clean).astype(np.float32)
    return clean.astype(np.float32), noisy


def run_bm3d(noisy: np.ndarray) -> np.ndarray:
    from bm3d import bm3d

    return np.stack([gat_inverse(bm3d(gat(plane, 1.0, 0.0), sigma_psd=1.0), 1.0, 0.0) for plane in noisy])


def run_bm4d(noisy: np.ndarray) -> np.ndarray:
    from bm4d import bm4d

    return gat_inverse(bm4d(gat(noisy, 1.0, 0.0), sigma_psd=1.0), 1.0, 0.0)


def run_ours(noisy: np.ndarray, axes: str, method: str, context: int | None, seconds: float, threads: int):
    import napari_blindspot as nb

    config = nb.TrainConfig(method=method, axes=axes, time_budget_s=seconds, seed=0, preview_every_s=None,
                            context_planes=context, num_threads=threads, three_d=False if "Z" in axes else None)
    run = nb.train(noisy, config)
    for final in run:
        pass
    out = run.model.predict(noisy)
    return out, {"steps": final.step, "context_planes": run.model.spec.context_planes,
                 "estimated_psnr_gain_db": final.estimated_psnr_gain_db}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack", choices=list(STACKS), required=True)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--methods", default="hqssl,n2v", help="our methods, comma-separated")
    parser.add_argument("--skip-baselines", action="store_true")
    parser.add_argument("--out", type=Path, help="default: results/stacks_<STACK>.json")
    args = parser.parse_args()
    args.out = args.out or Path(__file__).parent / "results" / f"stacks_{args.stack}.json"
    import torch

    torch.set_num_threads(args.threads)
    clean, noisy = noisy_stack(args.stack)
    axes, span = STACKS[args.stack][1], float(clean.max() - clean.min())
    results = {"noisy": {"psnr_db": round(psnr_planes(clean, noisy, span), 2)}}
    runs = [] if args.skip_baselines else [("bm3d per plane", lambda: (run_bm3d(noisy), {})),
                                           ("bm4d", lambda: (run_bm4d(noisy), {}))]
    for method in args.methods.split(","):
        for label, k in (("+nb", None), ("alone", 0)):
            runs.append((f"{method} {label}", lambda m=method, k=k: run_ours(noisy, axes, m, k, args.seconds,
                                                                             args.threads)))
    for name, make in runs:
        start = time.perf_counter()
        out, extra = make()
        results[name] = {"psnr_db": round(psnr_planes(clean, out, span), 2),
                         "first_last_plane_psnr_db": [round(psnr_planes(clean[i:i + 1], out[i:i + 1], span), 2)
                                                      for i in (0, len(out) - 1)],
                         "wall_s": round(time.perf_counter() - start, 1), **extra}
        print(f"{args.stack} {name}: {results[name]}", file=sys.stderr, flush=True)
    everything = json.loads(args.out.read_text()) if args.out.exists() else {}
    everything.setdefault(args.stack, {}).update(results)
    args.out.write_text(json.dumps(everything, indent=1))


if __name__ == "__main__":
    main()

"""Why a deep, wide HQ-SSL network degrades on one image: the hypotheses of issue 14.

    .venv/bin/python benchmarks/hqssl_collapse.py --steps 300 --every 25 [--depth 5] [--context 32]

Trains the reference widths (48/96) on 64-px patches of a camera crop with Gaussian noise
(sigma 25) and, every `--every` steps, records:
  (a) memorisation: the training loss against the held-out loss (pixels never trained on);
  (b) train/predict mismatch: PSNR of full-image prediction, of prediction tiled at the
      training patch size, and of training-size crops predicted alone;
  (c) prior collapse: the mean prior variance s_x^2 against the noise variance s_n^2.
Results go to benchmarks/results/hqssl_collapse.json.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data

import napari_blindspot as nb
from napari_blindspot.core.methods import hqssl


def psnr(x, clean):
    return float(10 * np.log10(255.0**2 / np.mean((x - clean) ** 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=25)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--context", type=int, default=0, help="patch_context: pixels of context around each patch")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "hqssl_collapse.json")
    args = ap.parse_args()
    clean = data.camera().astype(np.float32)[:args.size, 128:128 + args.size]
    noisy = clean + np.random.default_rng(0).normal(0, 25, clean.shape).astype(np.float32)
    config = nb.TrainConfig(method="hqssl", axes="YX", steps=args.steps, time_budget_s=None, noise="gaussian",
                            network_preset="reference", depth=args.depth, patch_size=64, batch_size=4,
                            preview_every_s=None, seed=0, patch_context=args.context)
    run = nb.train(noisy, config)
    rows, start = [], time.perf_counter()
    for event in run:
        if event.step % args.every and not event.done:
            continue
        model = run.model
        row = {"step": event.step, "seconds": round(time.perf_counter() - start, 1), "train_loss": event.loss,
               "heldout_loss": event.val_loss, "psnr_full": psnr(model.predict(noisy), clean),
               "psnr_tiled_64": psnr(model.predict(noisy, tile=64), clean)}
        crops = [(y, x) for y in range(0, args.size - 63, 64) for x in range(0, args.size - 63, 64)]
        row["psnr_crops_64"] = float(np.mean([psnr(model.predict(noisy[y:y + 64, x:x + 64]), clean[y:y + 64, x:x + 64])
                                              for y, x in crops]))
        with torch.no_grad():
            z = torch.from_numpy(model.spec.normalisation.apply(noisy[None]))[None]
            mu, prior_var = hqssl.prior(model.net.eval()(z), 1)
            row["prior_var"] = float(prior_var.mean())
            row["noise_var"] = float(model.noise.variance(mu).mean())
        row["psnr_noisy"] = psnr(noisy, clean)
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.write_text(json.dumps({"args": {**vars(args), "out": str(args.out)}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()

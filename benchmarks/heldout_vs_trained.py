"""Is the quality estimate off because of memorisation or because of the noise level?

    .venv/bin/python benchmarks/heldout_vs_trained.py --method hqssl --steps 270 [--context 16]

Trains on camera_g25 (Gaussian sigma 25, seed 0) for --steps and prints the true PSNR gain of
the one-view prediction on the held-out pixels and on the trained-on pixels, beside the
held-out estimate and the learned noise level. Memorisation would show as a lower gain on the
trained-on pixels; an estimate above the held-out truth points at the noise level instead.
"""

from __future__ import annotations

import argparse

import numpy as np

import napari_blindspot as nb
from images import cases
from napari_blindspot.core.heldout import heldout_mask


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="hqssl", choices=["n2v", "n2v2", "hqssl"])
    parser.add_argument("--steps", type=int, default=270)
    parser.add_argument("--context", type=int, default=0)
    args = parser.parse_args(argv)
    case = cases(["camera_g25"])[0]
    run = nb.train(case.noisy, nb.TrainConfig(method=args.method, axes="YX", steps=args.steps, time_budget_s=None,
                                              seed=0, preview_every_s=None, patch_context=args.context))
    for event in run:
        pass
    error = run.model.predict(case.noisy, tta=False) - case.clean
    held = heldout_mask(0, (slice(0, 512), slice(0, 512)), (512, 512), seed=0)
    gains = {name: round(10 * np.log10(case.params["sigma"] ** 2 / np.mean(error[where] ** 2)), 2)
             for name, where in (("heldout", held), ("trained", ~held))}
    print({"method": args.method, "steps": event.step, "context": args.context, "true_gain_db": gains,
           "estimated_gain_db": None if event.estimated_psnr_gain_db is None else round(event.estimated_psnr_gain_db, 2), "noise_learned": event.noise_params})


if __name__ == "__main__":
    main()

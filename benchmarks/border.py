"""Error on the image's one-pixel border ring against the interior, per method.

    PYTHONPATH=src .venv/bin/python benchmarks/border.py                  # n2v, n2v2, hqssl
    PYTHONPATH=src .venv/bin/python benchmarks/border.py --no-border-context  # N2V without the mirrored border

camera + Gaussian sigma 25 (bright sky along the top), a fixed number of steps per method on
one CPU thread. Prints the mean absolute error of the first/last row and column, the ring
(the outermost pixels) and the interior (pixels at least 8 from the border), and ring/interior.
"""

from __future__ import annotations

import argparse

import numpy as np

STEPS = {"n2v": 300, "n2v2": 300, "hqssl": 200}


def ring_and_interior(err: np.ndarray) -> tuple[float, float]:
    ring = np.ones(err.shape, bool)
    ring[1:-1, 1:-1] = False
    return float(err[ring].mean()), float(err[8:-8, 8:-8].mean())


def main() -> None:
    import napari_blindspot as nb
    from images import cases
    from napari_blindspot.core import unet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(STEPS))
    parser.add_argument("--no-border-context", action="store_true", help="predict N2V without the mirrored border")
    args = parser.parse_args()
    if args.no_border_context:
        unet.BORDER_CONTEXT = 0
    case = cases(["camera_g25"])[0]
    print(f"{'method':7s} {'steps':>5s} {'row0':>5s} {'col0':>5s} {'rowN':>5s} {'colN':>5s} {'ring':>5s} "
          f"{'inner':>5s} {'ratio':>5s}")
    for method in args.methods:
        config = nb.TrainConfig(method=method, axes="YX", steps=STEPS[method], time_budget_s=None,
                                preview_every_s=None, seed=0, num_threads=1, device="cpu")
        run = nb.train(case.noisy, config)
        for _ in run:
            pass
        err = np.abs(run.model.predict(case.noisy, "YX") - case.clean)
        ring, inner = ring_and_interior(err)
        print(f"{method:7s} {STEPS[method]:5d} {err[0].mean():5.1f} {err[:, 0].mean():5.1f} {err[-1].mean():5.1f} "
              f"{err[:, -1].mean():5.1f} {ring:5.2f} {inner:5.2f} {ring / inner:5.2f}", flush=True)


if __name__ == "__main__":
    main()

"""What test-time views and N2N's second recording add at prediction, for one trained model.

    .venv/bin/python benchmarks/tta.py --method n2v --steps 300 --cases camera_g25 ihc_poisson30
    .venv/bin/python benchmarks/tta.py --method n2n --steps 400 --cases camera_g25 brick_g25

Each (method, case) trains once for --steps (package defaults, seed 0), then the same model
predicts the noisy image with 1, 2, 4 and 8 dihedral views (`core/tta.py`); for N2N (second
recording: an independent noise draw, `images.cases(draw=1)`) also the mean of both recordings
denoised, with one view and with the default views. PSNR against the clean image and the
seconds each prediction took. Results merge into benchmarks/results/tta.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _measure import load, merge_results

RESULTS = Path(__file__).parent / "results" / "tta.json"


def _views(model, image, views: int):
    method = model.algorithm
    default = method.default_views
    method.default_views = views  # the package's own averaging, with another count
    try:
        start = time.perf_counter()
        return model.predict(image, tta=views > 1), time.perf_counter() - start
    finally:
        method.default_views = default


def measure(method: str, case_name: str, steps: int) -> dict:
    import napari_blindspot as nb
    from images import cases, psnr

    case, second = cases([case_name])[0], cases([case_name], draw=1)[0].noisy
    run = nb.train(case.noisy, nb.TrainConfig(method=method, axes="YX", steps=steps, time_budget_s=None,
                                              seed=0, preview_every_s=None),
                   target=second if method == "n2n" else None)
    for event in run:
        pass
    entry = {"method": method, "case": case_name, "steps": event.step, "train_s": round(event.elapsed_s, 1),
             "noisy_db": round(psnr(case.clean, case.noisy, case.data_range), 2)}
    for views in (1, 2, 4, 8):
        out, seconds = _views(run.model, case.noisy, views)
        entry[f"views{views}_db"], entry[f"views{views}_s"] = round(psnr(case.clean, out, case.data_range), 2), round(seconds, 2)
    if method == "n2n":
        for label, tta in (("both_one_view_db", False), ("both_default_views_db", True)):
            both = run.model.predict(case.noisy, second=second, tta=tta)
            entry[label] = round(psnr(case.clean, both, case.data_range), 2)
    return entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default="n2v", choices=["n2v", "n2v2", "hqssl", "n2n"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--cases", nargs="+", default=["camera_g25"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for name in args.cases:
        entry = measure(args.method, name, args.steps) | {"load_after": load()}
        merge_results(args.out, f"{args.method}/{name}/{args.steps}", entry)
        print(entry, flush=True)


if __name__ == "__main__":
    main()

"""Noise2Noise on the benchmark cases: the second recording is an independent noise draw.

    .venv/bin/python benchmarks/n2n.py --budgets 30 60 120

For each case: N2N at each budget (one fresh process per run; PSNR of the result a user gets,
the mean of both recordings denoised with the default test-time views, and of the first
recording alone with one view, the output the held-out estimate is for), and BM3D on the mean of the two
recordings (with the mean's true noise level: sigma / sqrt 2, or gain / 2 and read noise /
sqrt 2 behind an Anscombe transform). BM3D, NLM and our other methods on one recording are
in benchmarks/results/baselines.json and methods.json. Results merge into
benchmarks/results/n2n.json.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _measure import isolated, load, merge_results  # noqa: E402
from images import cases, psnr  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "n2n.json"


def _n2n(name: str, budget: float) -> dict:
    import napari_blindspot as nb

    case, second = cases([name])[0], cases([name], draw=1)[0]
    t0 = time.perf_counter()
    run = nb.train(case.noisy, nb.TrainConfig(method="n2n", axes="YX", time_budget_s=budget, preview_every_s=None),
                   target=second.noisy)
    for last in run:
        pass
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    denoised = run.model.predict(case.noisy, second=second.noisy)  # what the user gets: both, with views
    predict_s = time.perf_counter() - t0
    first = run.model.predict(case.noisy, tta=False)  # the output the held-out estimate is for
    noisy_db, first_db = psnr(case.clean, case.noisy, case.data_range), psnr(case.clean, first, case.data_range)
    return {"case": name, "method": "n2n", "budget_s": budget, "psnr_db": round(psnr(case.clean, denoised, case.data_range), 2),
            "first_one_view_db": round(first_db, 2), "noisy_psnr_db": round(noisy_db, 2), "steps": last.step,
            "train_s": round(train_s, 1), "predict_s": round(predict_s, 2),
            "estimated_gain_db": None if last.estimated_psnr_gain_db is None else round(last.estimated_psnr_gain_db, 2), "true_gain_db": round(first_db - noisy_db, 2)}


def _bm3d_of_mean(name: str) -> dict:
    from baselines import bm3d

    case, second = cases([name])[0], cases([name], draw=1)[0]
    mean = (case.noisy + second.noisy) / 2
    params = ({"sigma": case.params["sigma"] / math.sqrt(2)} if "sigma" in case.params else
              {**case.params, "gain": case.params["gain"] / 2, "read_sigma": case.params["read_sigma"] / math.sqrt(2)})
    t0 = time.perf_counter()
    out = bm3d(replace(case, noisy=mean, params=params))
    return {"case": name, "method": "bm3d-mean-of-two", "psnr_db": round(psnr(case.clean, out, case.data_range), 2),
            "mean_psnr_db": round(psnr(case.clean, mean, case.data_range), 2), "wall_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budgets", type=float, nargs="+", default=[30, 60, 120])
    ap.add_argument("--cases", nargs="+")
    args = ap.parse_args()
    for case in cases(args.cases):
        for budget in args.budgets:
            entry = {**isolated(_n2n, case.name, budget), "load_end": load()}
            merge_results(RESULTS, f"{case.name}/n2n/{budget:g}", entry)
            print(entry, flush=True)
        entry = isolated(_bm3d_of_mean, case.name)
        merge_results(RESULTS, f"{case.name}/bm3d-mean-of-two", entry)
        print(entry, flush=True)


if __name__ == "__main__":
    main()

"""Our methods on the benchmark cases at fixed CPU time budgets: PSNR, wall time, peak memory.

    .venv/bin/python benchmarks/methods.py                       # the whole grid
    .venv/bin/python benchmarks/methods.py --methods hqssl --budgets 120 --cases moon_g25

Runs: n2v, n2v2, hqssl (noise=auto) and hqssl-true (HQ-SSL given the true noise model: the
Gaussian sigma, or Poisson-Gaussian for the photon cases), each at 30/60/120 s, one fresh
process per run. Results merge into benchmarks/results/methods.json, keyed by
method/case/budget, so a grid can be resumed or extended. Each entry has the PSNR against
the clean image, training and prediction wall time, steps, steps/s, the share of training
time spent outside the network's forward/backward, the learned noise parameters next to the
true ones, and the process's peak resident memory. Run it on a quiet machine: every other
process on the 2 cores costs this one steps.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _measure import isolated, load, merge_results

RESULTS = Path(__file__).parent / "results" / "methods.json"
METHODS = ("n2v", "hqssl", "hqssl-true", "n2v2")
BUDGETS = (30, 60, 120)


def true_noise(case) -> dict:
    """TrainConfig settings that hand HQ-SSL the noise model the case was made with."""
    if "sigma" in case.params:
        return {"noise": "gaussian", "sigma": case.params["sigma"]}
    return {"noise": "poisson" if not case.params["read_sigma"] else "poisson-gaussian"}


def train_and_predict(noisy, config):
    """Train to the end, then denoise `noisy`: (run, last event, denoised, train s, predict s)."""
    import napari_blindspot as nb

    t0 = time.perf_counter()
    run = nb.train(noisy, config)
    last = None
    for last in run:
        pass
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    denoised = run.model.predict(noisy, config.axes)
    return run, last, denoised, train_s, time.perf_counter() - t0


def run_one(method: str, case_name: str, budget: float, seed: int) -> dict:
    import torch

    import napari_blindspot as nb
    from images import cases, psnr

    case = cases([case_name])[0]
    options = {"method": method.removesuffix("-true")}
    if method == "hqssl-true":
        options.update(true_noise(case))
    config = nb.TrainConfig(axes="YX", time_budget_s=budget, seed=seed, preview_every_s=None, **options)
    run, last, denoised, train_s, predict_s = train_and_predict(case.noisy, config)
    network = run.timings["network"]
    return {
        "method": method, "case": case_name, "budget_s": budget, "seed": seed, "options": options,
        "psnr_db": round(psnr(case.clean, denoised, case.data_range), 2),
        "noisy_psnr_db": round(psnr(case.clean, case.noisy, case.data_range), 2),
        "train_s": round(train_s, 1), "predict_s": round(predict_s, 2),
        "steps": last.step, "steps_per_s": round(last.step / last.elapsed_s, 2),
        "outside_network_share": round(1 - network / last.elapsed_s, 3),
        "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
        "noise_learned": last.noise_params, "noise_true": case.params,
        "threads": torch.get_num_threads(), "torch": torch.__version__,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--cases", nargs="+", default=None, help="default: all of images.cases()")
    parser.add_argument("--budgets", nargs="+", type=float, default=list(BUDGETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-done", action="store_true", help="leave runs already in the results file")
    args = parser.parse_args(argv)
    from images import cases

    names = args.cases or [c.name for c in cases()]
    done = json.loads(RESULTS.read_text()).get("runs", {}) if RESULTS.exists() else {}
    for method in args.methods:
        for name in names:
            for budget in args.budgets:
                key = f"{method}/{name}/{budget:g}"
                if args.skip_done and key in done:
                    continue
                load_before = load()
                entry = isolated(run_one, method, name, budget, args.seed)
                entry["load_before"], entry["load_after"] = load_before, load()
                merge_results(RESULTS, key, entry)
                print(f"{key:32s} {entry['psnr_db']:6.2f} dB  {entry['steps']:5d} steps  "
                      f"{entry['steps_per_s']:5.2f}/s  peak {entry['peak_rss_mib']:.0f} MiB  "
                      f"load {entry['load_after'][0]}", flush=True)


if __name__ == "__main__":
    main()

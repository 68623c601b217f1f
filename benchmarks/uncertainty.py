"""Is HQ-SSL's uncertainty the typical error of a pixel? Before and after the held-out calibration.

    .venv/bin/python benchmarks/uncertainty.py --seconds 40

Each case (benchmarks/images.py's camera_g25, brick_g25, ihc_poisson30, hubble_pg and a
simulated fluorescence image, napari_blindspot.simulate, Poisson-Gaussian on a baseline) trains
HQ-SSL for --seconds with one thread, package defaults otherwise (noise "auto", seed 0), then
predicts the noisy image with its uncertainty. Against the clean image: the RMSE of the
denoised image, the mean and the root mean square of the uncertainty over the RMSE, and the
share of pixels with |error| < 2 sigma (a normal error: 95 %), for the posterior std as it was
("before": the model without `data_noise` and `uncertainty_scale`, as one saved before them),
the error variance with the data's noise level ("error_model", core/calibration.py) and that
times the held-out scale ("after", what `predict` returns); the share also by intensity third (after).
Results merge into benchmarks/results/uncertainty.json.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
from _measure import load, merge_results

RESULTS = Path(__file__).parent / "results" / "uncertainty.json"
CASES = ("camera_g25", "brick_g25", "ihc_poisson30", "hubble_pg", "fluorescence_sim")


def _case(name: str):
    if name == "fluorescence_sim":
        from napari_blindspot.simulate import simulate_fluorescence

        noisy, clean = simulate_fluorescence((512, 512), seed=3)
        return noisy.astype(np.float32), clean
    from images import cases

    case = cases([name])[0]
    return case.noisy, case.clean


def _scores(err: np.ndarray, sigma: np.ndarray, rmse: float) -> dict:
    return {"mean_sigma_over_rmse": round(float(sigma.mean()) / rmse, 3),
            "rms_sigma_over_rmse": round(float(np.sqrt(np.mean(sigma.astype(np.float64) ** 2))) / rmse, 3),
            "within_2_sigma": round(float(np.mean(np.abs(err) < 2 * sigma)), 3)}


def measure(name: str, seconds: float, dump: Path | None = None) -> dict:
    import napari_blindspot as nb

    noisy, clean = _case(name)
    run = nb.train(noisy, nb.TrainConfig(method="hqssl", axes="YX", time_budget_s=seconds, seed=0,
                                         num_threads=1, preview_every_s=None))
    for event in run:
        pass
    model = run.model
    denoised, sigma = model.predict(noisy, return_uncertainty=True)
    calibrated = model.spec
    model.spec = replace(calibrated, uncertainty_scale=None, data_noise=None)  # as a model saved before
    _, posterior_std = model.predict(noisy, return_uncertainty=True)
    model.spec = calibrated
    scale = model.uncertainty_scale[0]
    err = denoised.astype(np.float64) - clean
    rmse = float(np.sqrt(np.mean(err**2)))
    entry = {"case": name, "steps": event.step, "rmse": round(rmse, 3), "scale": scale,
             "note": model.spec.history.get("uncertainty_note"), "before": _scores(err, posterior_std, rmse),
             "error_model": _scores(err, sigma / scale, rmse), "after": _scores(err, sigma, rmse)}
    thirds = np.quantile(clean, [1 / 3, 2 / 3])
    where = np.digitize(clean, thirds)
    entry["after_within_2_sigma_by_third"] = [round(float(np.mean(np.abs(err[where == k]) < 2 * sigma[where == k])), 3)
                                              for k in range(3)]
    if dump is not None:
        np.savez_compressed(dump / f"{name}.npz", noisy=noisy, clean=clean, denoised=denoised, sigma=sigma, scale=scale)
    return entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--dump", type=Path, help="also save each case's arrays here (npz)")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in args.cases:
        entry = {**measure(name, args.seconds, args.dump), "load_before": load()}
        print(entry, flush=True)
        merge_results(RESULTS, f"{name}@{args.seconds:g}s", entry)


if __name__ == "__main__":
    main()

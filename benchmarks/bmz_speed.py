"""Prediction time of an exported bioimage.io package in bioimageio.core against our own predict.

    cd benchmarks && PYTHONPATH=../src python bmz_speed.py            # n2v and hqssl, 2 threads
    cd benchmarks && PYTHONPATH=../src python bmz_speed.py --threads 1

One 512x512 image (camera + Gaussian sigma 25), a model trained a few steps (the time does not
depend on the weights' values), exported with `bmz.export_model`. Both sides get the same
image and torch threads. Warm: the model loaded once (bioimageio.core's prediction pipeline,
our `Model`), warmed up once, then `--repeats` predictions timed (median and fastest). Cold: one
call from the .zip on disk, loading included (`bioimageio.core.predict(model=path, ...)`, our
`load_model(path).predict(...)`). bioimageio.core runs the whole image in one block, as ours
does (one 512-pixel tile); the outputs are compared too. Results go to results/bmz_speed.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from _measure import cpu_speed_s, load, merge_results

RESULTS = Path(__file__).parent / "results" / "bmz_speed.json"


def _timed(fn, repeats: int) -> tuple[list[float], object]:
    fn()  # warm-up: TorchScript optimises on the first calls
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return times, out


def measure(method: str, repeats: int, threads: int) -> dict:
    import torch
    from bioimageio.core import create_prediction_pipeline, predict
    from bioimageio.core.digest_spec import create_sample_for_model
    from bioimageio.spec import load_description
    from images import cases

    import napari_blindspot as nb
    from napari_blindspot.bmz import export_model

    torch.set_num_threads(threads)
    case = cases(["camera_g25"])[0]
    config = nb.TrainConfig(method=method, axes="YX", steps=5, time_budget_s=None, preview_every_s=None,
                            seed=0, num_threads=threads, device="cpu")
    run = nb.train(case.noisy, config)
    for _ in run:
        pass
    model = run.model
    batch = case.noisy[None]  # the package's axes: batch, y, x
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        path = export_model(model, Path(tmp) / "model.zip", sample=case.noisy, check=False)
        export_s = time.perf_counter() - start
        descr = load_description(path)
        with create_prediction_pipeline(descr, devices=["cpu"]) as pipeline:
            theirs_s, theirs = _timed(lambda: pipeline.predict_sample_without_blocking(
                create_sample_for_model(descr, inputs=batch)), repeats)
        ours_s, ours = _timed(lambda: model.predict(case.noisy, "YX"), repeats)
        start = time.perf_counter()
        predict(model=str(path), inputs=batch)
        theirs_cold_s = time.perf_counter() - start
        start = time.perf_counter()
        nb.load_model(path, device="cpu").predict(case.noisy, "YX")
        ours_cold_s = time.perf_counter() - start
    theirs = theirs.members["denoised"].data.values[0]
    return {"method": method, "threads": threads, "repeats": repeats, "export_s": round(export_s, 2),
            "ours_median_s": round(statistics.median(ours_s), 3), "ours_min_s": round(min(ours_s), 3),
            "bioimageio_median_s": round(statistics.median(theirs_s), 3),
            "bioimageio_min_s": round(min(theirs_s), 3), "ours_cold_s": round(ours_cold_s, 3),
            "bioimageio_cold_s": round(theirs_cold_s, 3),
            "max_abs_difference": float(np.abs(theirs - ours).max()), "load": load(),
            "cpu_speed_s": round(cpu_speed_s(), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["n2v", "hqssl"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"{'method':7s} {'ours median/min s':>18s} {'bioimageio median/min s':>24s} {'cold ours/bioimageio s':>23s} "
          f"{'max |diff|':>10s}")
    for method in args.methods:
        r = measure(method, args.repeats, args.threads)
        merge_results(RESULTS, f"{method}_t{args.threads}", r)
        print(f"{method:7s} {r['ours_median_s']:9.3f}/{r['ours_min_s']:.3f} "
              f"{r['bioimageio_median_s']:15.3f}/{r['bioimageio_min_s']:.3f} "
              f"{r['ours_cold_s']:15.3f}/{r['bioimageio_cold_s']:.3f} {r['max_abs_difference']:10.2e}",
              flush=True)


if __name__ == "__main__":
    main()

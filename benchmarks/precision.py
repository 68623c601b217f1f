"""Quality per step in bfloat16 against float32: seeded fixed-step runs of every method.

    .venv/bin/python benchmarks/precision.py --steps 300
    .venv/bin/python benchmarks/precision.py --steps 20 --methods n2v --cases camera_g25   # a check

Each (method, case) trains twice from the same seed for --steps (package defaults, 2 threads
unless --threads), in float32 and in bfloat16 (`TrainConfig.precision`), and predicts the noisy
image with one view in the precision it trained in; the float32 model also predicts in
bfloat16 (inference alone). PSNR against the clean image; the target is |bf16 - fp32| <= 0.1 dB.
N2N's second recording is an independent noise draw (`images.cases(draw=1)`). Results merge
into benchmarks/results/precision.json. Where the CPU has no native bfloat16 (no AVX-512 BF16
or AMX) bfloat16 is emulated: the numbers are still the bfloat16 numbers, only slower.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _measure import load, merge_results

RESULTS = Path(__file__).parent / "results" / "precision.json"
METHODS = ("n2v", "n2v2", "hqssl", "n2n")


def _train(case, second, method: str, steps: int, precision: str, threads: int):
    import napari_blindspot as nb

    config = nb.TrainConfig(method=method, axes="YX", steps=steps, time_budget_s=None, seed=0,
                            preview_every_s=None, device="cpu", precision=precision, num_threads=threads)
    run = nb.train(case.noisy, config, target=second if method == "n2n" else None)
    for event in run:
        pass
    return run.model, event


def measure(method: str, case_name: str, steps: int, threads: int) -> dict:
    import torch
    from images import cases, psnr

    torch.set_num_threads(threads)
    case, second = cases([case_name])[0], cases([case_name], draw=1)[0].noisy
    entry = {"method": method, "case": case_name, "steps": steps, "threads": threads}
    for precision in ("float32", "bfloat16"):
        model, event = _train(case, second, method, steps, precision, threads)
        start = time.perf_counter()
        out = model.predict(case.noisy, tta=1)
        entry[f"{precision}_db"] = round(psnr(case.clean, out, case.data_range), 3)
        entry[f"{precision}_train_s"], entry[f"{precision}_predict_s"] = (round(event.elapsed_s, 1),
                                                                         round(time.perf_counter() - start, 2))
        if precision == "float32":  # the same weights, predicted in bfloat16
            model.set_precision("bfloat16")
            entry["float32_model_bf16_predict_db"] = round(psnr(case.clean, model.predict(case.noisy, tta=1),
                                                                case.data_range), 3)
    entry["bf16_minus_fp32_db"] = round(entry["bfloat16_db"] - entry["float32_db"], 3)
    entry["bf16_inference_minus_fp32_db"] = round(entry["float32_model_bf16_predict_db"] - entry["float32_db"], 3)
    return entry


def main(argv=None) -> None:
    from images import cases

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--cases", nargs="+", default=[c.name for c in cases()])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    for method in args.methods:
        for name in args.cases:
            entry = measure(method, name, args.steps, args.threads) | {"load_after": load()}
            merge_results(args.out, f"{method}/{name}/{args.steps}", entry)
            print(entry, flush=True)


if __name__ == "__main__":
    main()

"""Training pixels per second and prediction megapixels per second, float32 against bfloat16.

    .venv/bin/python benchmarks/throughput.py                                    # the full run
    .venv/bin/python benchmarks/throughput.py --steps 6 --side 1024 --methods n2v   # a check

Training: every method on the 2D camera case (512x512) and a small 3D stack (--stack, ZYX),
package defaults, float32 then bfloat16 back to back; pixels/s = steps x batch x patch pixels /
seconds, the seconds from step --warmup on (start-up left out). Prediction: a 2D N2V model on
a --side x --side input, one view and the default views (`tta.views_for`: one view above 2
MP) and the method's views (8), in float32 and bfloat16, megapixels/s. The limit: the N2V
network's FLOPs per pixel (torch's FLOP counter) against the peak FLOP/s of a large 3x3
convolution measured here in each precision. Results merge into benchmarks/results/throughput.json.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
from _measure import cpu_speed_s, load, merge_results

RESULTS = Path(__file__).parent / "results" / "throughput.json"
METHODS = ("n2v", "n2v2", "hqssl", "n2n")
PRECISIONS = ("float32", "bfloat16")


def training(method: str, image, axes: str, steps: int, warmup: int, precision: str, threads: int,
             second=None) -> dict:
    import napari_blindspot as nb

    config = nb.TrainConfig(method=method, axes=axes, steps=steps, time_budget_s=None, seed=0, device="cpu",
                            preview_every_s=None, validation_every_s=1e9, precision=precision,
                            num_threads=threads, three_d=True if "Z" in axes else None)
    run = nb.train(image, config, target=second if method == "n2n" else None)
    marks = {}
    for event in run:
        if not event.done:
            marks[event.step] = event.elapsed_s
    timed = max(marks) - warmup
    seconds = marks[max(marks)] - marks[warmup]
    pixels = timed * run.settings.batch * math.prod(run.settings.patch)
    return {"patch": list(run.settings.patch), "batch": run.settings.batch, "steps_timed": timed,
            "steps_per_s": round(timed / seconds, 3), "pixels_per_s": round(pixels / seconds),
            "precision": run.model.precision.name}


def prediction(side: int, threads: int, steps: int) -> dict:
    import torch

    import napari_blindspot as nb
    from images import cases

    torch.set_num_threads(threads)
    run = nb.train(cases(["camera_g25"])[0].noisy, nb.TrainConfig(axes="YX", steps=steps, time_budget_s=None,
                   preview_every_s=None, device="cpu", precision="float32", num_threads=threads))
    for _ in run:
        pass
    model = run.model
    image = np.random.default_rng(0).normal(100, 20, (side, side)).astype(np.float32)
    entry = {"side": side, "default_views": model.views(None, side * side)}
    for precision in PRECISIONS:
        model.set_precision(precision)
        for label, tta in (("one_view", 1), ("default_views", None), ("method_views", True)):
            if label == "method_views" and side * side > 2**22:
                continue  # eight views of a large input: minutes, and no default does it
            start = time.perf_counter()
            model.predict(image, tta=tta)
            entry[f"{precision}_{label}_mp_per_s"] = round(side * side / 1e6 / (time.perf_counter() - start), 3)
    return entry


def limit(threads: int) -> dict:
    """FLOPs per pixel of the N2V network and the peak conv FLOP/s here, per precision."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from napari_blindspot.core.unet import UNet

    torch.set_num_threads(threads)
    net = UNet(2, 1, 1, features=16, depth=2).eval().to(memory_format=torch.channels_last)
    tile = torch.zeros(1, 1, 256, 256).contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(tile)
    per_pixel = counter.get_total_flops() / tile[0, 0].numel()
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.randn(4, 64, 128, 128).contiguous(memory_format=torch.channels_last)
    flops = 2 * 64 * 64 * 9 * x[:, 0].numel()
    entry = {"n2v_flops_per_pixel": round(per_pixel)}
    for precision in PRECISIONS:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bfloat16"):
            conv(x)
            start, n = time.perf_counter(), 0
            while time.perf_counter() - start < 2.0:
                conv(x)
                n += 1
        peak = flops * n / (time.perf_counter() - start)
        entry[f"{precision}_peak_gflop_per_s"] = round(peak / 1e9, 2)
        entry[f"{precision}_limit_mp_per_s_one_view"] = round(peak / per_pixel / 1e6, 3)
    return entry


def main(argv=None) -> None:
    import torch

    from images import cases, stack_case

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", type=int, default=4096, help="prediction input side, pixels")
    parser.add_argument("--stack", type=int, nargs=2, default=(32, 128), metavar=("Z", "YX"))
    parser.add_argument("--skip", nargs="*", default=[], choices=["train", "predict", "limit"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warmup = min(args.warmup, args.steps - 2)
    layouts = {"2d": (cases(["camera_g25"])[0].noisy, "YX"),
               "3d": (stack_case(frames=args.stack[0], side=args.stack[1]).noisy, "ZYX")}
    seconds = {"2d": cases(["camera_g25"], draw=1)[0].noisy,
               "3d": stack_case(frames=args.stack[0], side=args.stack[1], seed=7).noisy}
    if "train" not in args.skip:
        for method in args.methods:
            for layout, (image, axes) in layouts.items():
                entry = {"method": method, "layout": layout, "shape": list(image.shape), "cpu_speed_s": cpu_speed_s()}
                for precision in PRECISIONS:
                    entry[precision] = training(method, image, axes, args.steps, warmup, precision, args.threads,
                                                seconds[layout])
                entry["bf16_over_fp32"] = round(entry["bfloat16"]["pixels_per_s"] / entry["float32"]["pixels_per_s"], 3)
                merge_results(args.out, f"train/{method}/{layout}/{args.threads}", entry | {"load_after": load()})
                print(entry, flush=True)
    if "predict" not in args.skip:
        entry = prediction(args.side, args.threads, args.steps) | {"load_after": load()}
        merge_results(args.out, f"predict/n2v/{args.side}/{args.threads}", entry)
        print(entry, flush=True)
    if "limit" not in args.skip:
        entry = limit(args.threads) | {"load_after": load()}
        merge_results(args.out, f"limit/{args.threads}", entry)
        print(entry, flush=True)


if __name__ == "__main__":
    main()

"""PSNR along one long training run, and training throughput per patch/batch setting, on any device.

    python benchmarks/curve.py --methods hqssl n2v --budget 300 --checkpoints 30 60 120 300
    python benchmarks/curve.py --probe --device cuda          # steps/s for several patch/batch settings
    python benchmarks/curve.py ... --out /tmp/curve.json      # elsewhere than results/curve.json

Curve: each (method, case) trains once for --budget seconds with the package defaults for the
device (on a GPU: the reference-width HQ-SSL preset, mixed precision). When the run's clock
passes a checkpoint, the model as it is then denoises the whole noisy image (one view) and its
PSNR is recorded; those predictions run inside the training clock (their seconds are recorded
too). A checkpoint before the end is a model whose learning rate has not yet decayed, so it
understates what a run with that budget reaches; the last point is a normal run of --budget
(best held-out weights, one view), and `psnr_db` is the same model with the package's
test-time views. The estimated gain (held-out pixels) is compared with the one-view truth, the
output it estimates. For the stack case (TYX), PSNR is the mean over frames.

    python benchmarks/curve.py --methods n2v n2v2 hqssl --budget 240 --checkpoints 5 15 30 60 120 --option num_threads=1

Probe: trains --probe-seconds per setting on the moon case and reports steps/s and
megapixels/s (patch pixels x batch x steps/s), to choose the device's default patch and batch.

Results merge into --out under device/method/case/budget (curve) or device/probe/... keys,
with the device name, torch version and learned noise parameters.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _measure import load, merge_results, parse_option

RESULTS = Path(__file__).parent / "results" / "curve.json"
PROBES = {  # method: [(patch side, batch)], the package default first
    "n2v": [(64, 64), (64, 128), (128, 32), (128, 64)],
    "hqssl": [(64, 16), (64, 32), (96, 16), (128, 8), (128, 16)],
}


def _device_name(device: str) -> str:
    import torch

    from napari_blindspot.core.device import choose_device

    chosen = choose_device(device)
    if chosen.type == "cuda":
        return torch.cuda.get_device_name(chosen)
    return f"cpu ({torch.get_num_threads()} threads)"


def curve(method: str, case_name: str, budget: float, checkpoints: list[float], device: str, seed: int,
          options: dict) -> dict:
    import torch

    import napari_blindspot as nb
    from images import case_named, score

    case = case_named(case_name)
    config = nb.TrainConfig(method=method, axes=case.axes, time_budget_s=budget, seed=seed, preview_every_s=None,
                            device=device, **options)
    if config.num_threads:
        torch.set_num_threads(config.num_threads)  # prediction too, not only training
    run = nb.train(case.noisy, config)
    pending, points, checkpoint_s = sorted(c for c in checkpoints if c < budget), [], 0.0
    for event in run:
        if pending and event.elapsed_s >= pending[0] and not event.done:
            t0 = time.perf_counter()
            denoised = run.model.predict(case.noisy, tta=False)  # one view: a cheap stop on the clock
            checkpoint_s += time.perf_counter() - t0
            points.append({"at_s": pending.pop(0), "step": event.step, "psnr_db": round(score(case, denoised), 2)})
    t0 = time.perf_counter()
    denoised = run.model.predict(case.noisy)
    predict_s = time.perf_counter() - t0
    one_view = score(case, run.model.predict(case.noisy, tta=False))
    points.append({"at_s": budget, "step": event.step, "psnr_db": round(one_view, 2)})
    noisy_db = score(case, case.noisy)
    settings = run.settings
    return {
        "method": method, "case": case_name, "budget_s": budget, "seed": seed, "options": options,
        "device": _device_name(device), "torch": torch.__version__, "amp": config.amp and run.device.type == "cuda",
        "patch": list(settings.patch), "batch": settings.batch, "network": settings.network,
        "points": points, "psnr_db": round(score(case, denoised), 2), "psnr_one_view_db": round(one_view, 2),
        "noisy_db": round(noisy_db, 2), "steps": event.step, "best_step": event.best_step,
        "estimated_gain_db": event.estimated_psnr_gain_db, "true_gain_one_view_db": round(one_view - noisy_db, 2),
        "estimated_gain_interval_db": getattr(event, "estimated_psnr_gain_db_interval", None),
        "steps_per_s": round(event.step / event.elapsed_s, 2), "checkpoint_predict_s": round(checkpoint_s, 2),
        "predict_s": round(predict_s, 3), "noise_learned": event.noise_params, "noise_true": case.params,
    }


def probe(method: str, side: int, batch: int, seconds: float, device: str) -> dict:
    import torch

    import napari_blindspot as nb
    from images import cases

    noisy = cases(["moon_g25"])[0].noisy
    config = nb.TrainConfig(method=method, axes="YX", time_budget_s=seconds, preview_every_s=None,
                            device=device, patch_size=side, batch_size=batch)
    run = nb.train(noisy, config)
    warm = None
    for event in run:
        if warm is None and event.elapsed_s > 1.0:  # leave out start-up (cuDNN autotuning, allocations)
            warm = (event.step, event.elapsed_s)
    rate = (event.step - warm[0]) / (event.elapsed_s - warm[1])
    return {"method": method, "patch": side, "batch": batch, "steps_per_s": round(rate, 2),
            "mpx_per_s": round(rate * side * side * batch / 1e6, 2), "device": _device_name(device),
            "torch": torch.__version__}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["hqssl", "n2v"], choices=["n2v", "n2v2", "hqssl"])
    parser.add_argument("--cases", nargs="+", default=None,
                        help="default: all of images.cases(); images.STACK_CASE is the 16-frame stack")
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--checkpoints", nargs="*", type=float, default=[15, 30, 60])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", type=parse_option, action="append", default=[], metavar="NAME=VALUE",
                        help="TrainConfig override, e.g. learning_rate=4e-4 (repeatable; part of the result key)")
    parser.add_argument("--probe", action="store_true", help="measure throughput per patch/batch instead")
    parser.add_argument("--probe-seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from images import cases

    device = _device_name(args.device)
    if args.probe:
        for method in args.methods:
            for side, batch in PROBES.get(method, PROBES["n2v"]):
                entry = probe(method, side, batch, args.probe_seconds, args.device)
                merge_results(args.out, f"{device}/probe/{method}/{side}x{batch}", entry)
                print(f"probe {method:6s} patch {side:4d} batch {batch:4d}: {entry['steps_per_s']:7.2f} steps/s "
                      f"{entry['mpx_per_s']:7.2f} Mpx/s", flush=True)
        return
    for method in args.methods:
        for name in args.cases or [c.name for c in cases()]:
            options = dict(args.option)
            entry = curve(method, name, args.budget, args.checkpoints, args.device, args.seed, options)
            entry["load_after"] = load()
            suffix = "+" + ",".join(f"{k}={v}" for k, v in sorted(options.items())) if options else ""
            merge_results(args.out, f"{device}/{method}/{name}/{args.budget:g}{suffix}", entry)
            trail = "  ".join(f"{p['at_s']:g}s {p['psnr_db']:.2f}" for p in entry["points"])
            print(f"{method:6s}{suffix} {name:14s} {trail}  final {entry['psnr_db']:.2f} with views  ({entry['steps']} "
                  f"steps, {entry['steps_per_s']:.1f}/s; estimated gain {entry['estimated_gain_db']}, true "
                  f"{entry['true_gain_one_view_db']})", flush=True)


if __name__ == "__main__":
    main()

"""Peak memory and throughput of command-line prediction on a large zarr stack.

    python benchmarks/predict_memory.py [--planes 16] [--side 2048] [--method n2v] [--workdir DIR]

Generates a noisy float32 zarr stack plane by plane (never whole in memory), trains a model on
it for a few steps through the CLI, then runs `napari-blindspot predict` zarr -> zarr in a
child process and reports its peak resident memory (ru_maxrss of the child) and megapixels/s.
Also reports the training process's peak memory: training draws patches lazily.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import zarr


def make_stack(path: Path, planes: int, side: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    out = zarr.open_array(str(path), mode="w", shape=(planes, side, side), chunks=(1, 512, 512), dtype="f4")
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    for z in range(planes):
        clean = 100 + 50 * np.sin(xx / (20 + z)) * np.cos(yy / 31)
        out[z] = clean + rng.normal(0, 20, clean.shape).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--planes", type=int, default=16)
    parser.add_argument("--side", type=int, default=2048)
    parser.add_argument("--method", default="n2v")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="blindspot-bench-"))
    stack = work / "stack.zarr"
    if not stack.exists():
        make_stack(stack, args.planes, args.side)
    megapixels = args.planes * args.side**2 / 1e6
    size_gb = megapixels * 4 / 1e3
    # each measurement in its own python so ru_maxrss belongs to that run alone
    result = {"planes": args.planes, "side": args.side, "input_gb": round(size_gb, 2), "method": args.method}
    code = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
subprocess.run([sys.executable, '-m', 'napari_blindspot.cli', *sys.argv[1:], '--quiet'], check=True)
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""
    def measure(cli_args):
        out = subprocess.run([sys.executable, "-c", code, *cli_args], check=True, capture_output=True, text=True)
        wall, peak = map(float, out.stdout.split())
        return wall, peak

    wall, peak = measure(["train", str(stack), str(work / "model"), "--axes", "ZYX", "--2d", "--method",
                          args.method, "--steps", "200"])
    result.update(train_s=round(wall, 1), train_peak_mb=round(peak))
    wall, peak = measure(["predict", str(work / "model"), str(stack), str(work / "out.zarr")])
    result.update(predict_s=round(wall, 1), predict_peak_mb=round(peak),
                  megapixels_per_s=round(megapixels / wall, 2))
    print(json.dumps(result))
    print(f"| {args.planes}x{args.side}x{args.side} float32 ({size_gb:.2f} GB) | {args.method} | "
          f"{result['train_peak_mb']} MB | {result['predict_peak_mb']} MB | {result['megapixels_per_s']} MP/s |")


if __name__ == "__main__":
    main()

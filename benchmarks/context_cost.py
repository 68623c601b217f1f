"""What a training step costs with neighbour planes, against the same step without them.

    python benchmarks/context_cost.py [--threads 1] [--rounds 5] [--k 2]

For each method, two models on the method's default CPU patch, batch and network (defaults.py):
planes alone (k=0) and k planes on each side. Steps of each (blind-spot input, loss, backward,
Adam) alternate, `--rounds` times 5 steps each after a warm-up, so a shared machine's load
falls on both alike; the ratio is of the medians. Results go to results/context_cost.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from napari_blindspot.core.config import TrainConfig
from napari_blindspot.core.data import Normalisation
from napari_blindspot.core.defaults import settings
from napari_blindspot.core.model import Model, build_network, build_noise_model
from napari_blindspot.core.spec import ModelSpec
from napari_blindspot.core.step import blind_spot_input, step
from napari_blindspot.core.window import window_channels


def _model(method: str, k: int):
    config = TrainConfig(method=method, axes="TYX", device="cpu")
    run = settings(config, (256, 256), torch.device("cpu"), 1)
    noise = {"kind": "gaussian", "sigma": None} if method == "hqssl" else None
    spec = ModelSpec(method, "TYX", 2, 1, run.network, Normalisation((0.0,), (1.0,)), noise=noise,
                     context_planes=k, context_axis="T" if k else None)
    torch.manual_seed(0)
    model = Model(spec, build_network(method, 2, 1, spec.network, k), build_noise_model(spec))
    return model.to("cpu"), run


def _timer(method: str, k: int):
    model, run = _model(method, k)
    pairs = 2 if method == "n2n" else 1
    x = torch.randn(run.batch, pairs * window_channels(k, 1), *run.patch).contiguous(memory_format=model.memory_format)
    optimiser = torch.optim.Adam(list(model.net.parameters()) + (list(model.noise.parameters()) if model.noise else []))
    model.set_precision("float32")  # the same arithmetic for both
    generator, precision = torch.Generator().manual_seed(0), model.precision

    def steps(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            inputs, target, coords = blind_spot_input(model, x, generator, 1.5)
            step(model, optimiser, precision, target, inputs, coords, None)
        return (time.perf_counter() - start) / n

    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "context_cost.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for method in ("n2v", "n2v2", "hqssl", "n2n"):
        alone, with_k = _timer(method, 0), _timer(method, args.k)
        alone(2), with_k(2)  # warm-up
        times = {0: [], args.k: []}
        for _ in range(args.rounds):
            times[0].append(alone(5))
            times[args.k].append(with_k(5))
        a, b = statistics.median(times[0]), statistics.median(times[args.k])
        results[method] = {"step_s_alone": round(a, 4), f"step_s_k{args.k}": round(b, 4), "ratio": round(b / a, 3)}
        print(method, results[method], flush=True)
    args.out.write_text(json.dumps({"threads": args.threads, "k": args.k, "methods": results}, indent=1))


if __name__ == "__main__":
    main()

"""Memory while training on a lazy stack far larger than RAM: nothing may read it whole.

    .venv/bin/python benchmarks/train_memory.py                  # 4000x4096x4096 float32 (250 GiB), 60 s
    .venv/bin/python benchmarks/train_memory.py --runs n2v-2d --budget 10 --out /tmp/train_memory.json

The stack is a dask array made by `da.map_blocks` from a seeded per-chunk generator (smooth
stripes plus Gaussian noise, sigma 20, seeded by the chunk's index), chunked like a zarr
written plane by plane (default 1x512x512, as predict_memory.py). It is never materialised:
every chunk dask computes is counted (number and MiB) by the generator itself.

Each run (n2v or hqssl, slice by slice `three_d=False` or 3D, axes "ZYX", package defaults)
happens in a fresh process (_measure.isolated) and records:
- normalisation: `core.data.measure_normalisation` on the stack alone, with the chunks it
  read against the stack's total: it must read a few random blocks, never the whole array;
- init: `nb.train()` up to its first progress event (normalisation again, the patch cache,
  HQ-SSL's noise estimate, the validation batch, one step), and training until --budget:
  chunks read, seconds, steps, steps/s and training_done (its last event says done);
- the process's peak resident memory (peak_rss_mib) and the resident memory after each phase.
Results merge into benchmarks/results/train_memory.json under method/layout/shape/chunks/budget.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _measure import _rss_mib, isolated, load, merge_results

RESULTS = Path(__file__).parent / "results" / "train_memory.json"
RUNS = {"n2v-2d": ("n2v", False), "n2v-3d": ("n2v", True), "hqssl-2d": ("hqssl", False),
        "hqssl-3d": ("hqssl", True)}
SIGMA = 20.0

_reads = {"chunks": 0, "bytes": 0}
_lock = threading.Lock()


def _chunk(seed: int, block_info=None) -> np.ndarray:
    """One chunk of the synthetic stack: a function of its position only, counted when made."""
    info = block_info[None]
    (z0, z1), (y0, y1), (x0, x1) = info["array-location"]
    z, y, x = np.ogrid[z0:z1, y0:y1, x0:x1]
    clean = 100 + 50 * np.sin(x / (20 + z % 17)) * np.cos(y / 31)
    rng = np.random.default_rng([seed, *info["chunk-location"]])
    noisy = (clean + SIGMA * rng.standard_normal(clean.shape)).astype(np.float32)
    with _lock:
        _reads["chunks"] += 1
        _reads["bytes"] += noisy.nbytes
    return noisy


def lazy_stack(shape: tuple[int, int, int], chunks: tuple[int, int, int], seed: int = 0):
    """A (Z, Y, X) float32 dask array of any nominal size; chunks are generated on demand."""
    import dask.array as da

    normalised = da.core.normalize_chunks(chunks, shape, dtype=np.float32)
    return da.map_blocks(_chunk, seed, dtype=np.float32, chunks=normalised, meta=np.empty((0, 0, 0), np.float32))


def _mark() -> tuple[dict, float, float]:
    return dict(_reads), time.perf_counter(), time.process_time()


def _counted(mark: tuple[dict, float, float]) -> dict:
    """Chunks and MiB generated since `mark`, wall and CPU seconds (all threads; less sensitive
    to other load than wall time), resident memory now."""
    since, t0, cpu0 = mark
    return {"chunks": _reads["chunks"] - since["chunks"], "mib": round((_reads["bytes"] - since["bytes"]) / 2**20, 1),
            "s": round(time.perf_counter() - t0, 2), "cpu_s": round(time.process_time() - cpu0, 2),
            "rss_after_mib": _rss_mib("VmRSS")}


def run_one(name: str, shape: tuple, chunks: tuple, budget: float, seed: int, preview_every_s: float | None) -> dict:
    import dask.array  # noqa: F401  (imported before the clock starts)
    import torch

    import napari_blindspot as nb
    from napari_blindspot.core.data import StackView, measure_normalisation

    method, three_d = RUNS[name]
    t0 = time.perf_counter()
    stack = lazy_stack(shape, chunks, seed)
    result = {"build_s": round(time.perf_counter() - t0, 2), "chunks_total": math.prod(stack.numblocks)}

    mark = _mark()
    norm = measure_normalisation(StackView.of(stack, "ZYX", three_d=three_d), seed=seed)
    result["normalisation"] = _counted(mark) | {"mean": round(norm.mean[0], 2), "std": round(norm.std[0], 2)}

    config = nb.TrainConfig(method=method, axes="ZYX", three_d=three_d, time_budget_s=budget, seed=seed,
                            preview_every_s=preview_every_s)
    mark = _mark()
    run = nb.train(stack, config)
    events = iter(run)
    last = next(events)
    result["init"] = _counted(mark)
    mark = _mark()
    for last in events:
        pass
    result["training"] = _counted(mark)
    return result | {
        "training_done": bool(last.done), "steps": last.step, "train_s": round(last.elapsed_s, 1),
        "steps_per_s": round(last.step / last.elapsed_s, 2) if last.elapsed_s else 0.0,
        "patch": list(run.settings.patch), "batch": run.settings.batch,
        "timings_s": {k: round(v, 2) for k, v in run.timings.items()},
        "threads": torch.get_num_threads(),
    }


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(s) for s in text.split(","))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS)
    parser.add_argument("--shape", type=_ints, default=(4000, 4096, 4096), help="Z,Y,X (default 4000,4096,4096)")
    parser.add_argument("--chunks", type=_ints, default=(1, 512, 512), help="Z,Y,X chunk shape (default 1,512,512)")
    parser.add_argument("--budget", type=float, default=60.0, help="training seconds per run")
    parser.add_argument("--preview-every", type=float, default=None,
                        help="seconds between previews, as the widget does (default: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-done", action="store_true", help="leave runs already in the results file")
    args = parser.parse_args(argv)
    if len(args.shape) != 3 or len(args.chunks) != 3:
        parser.error("--shape and --chunks take three integers, Z,Y,X")
    nominal_gib = math.prod(args.shape) * 4 / 2**30
    dims = "x".join(map(str, args.shape))
    done = json.loads(args.out.read_text()).get("runs", {}) if args.out.exists() else {}
    for name in args.runs:
        key = f"{name}/{dims}/chunks{'x'.join(map(str, args.chunks))}/{args.budget:g}"
        if args.preview_every:
            key += f"/preview{args.preview_every:g}"
        if args.skip_done and key in done:
            continue
        load_before = load()
        entry = {"run": name, "shape": list(args.shape), "chunks": list(args.chunks),
                 "nominal_gib": round(nominal_gib, 1), "budget_s": args.budget, "preview_every_s": args.preview_every}
        entry |= isolated(run_one, name, args.shape, args.chunks, args.budget, args.seed, args.preview_every)
        entry |= {"load_before": load_before, "load_after": load()}
        merge_results(args.out, key, entry)
        read = sum(entry[p]["mib"] for p in ("normalisation", "init", "training"))
        print(f"{key:44s} training_done={entry['training_done']} {entry['steps']} steps ({entry['steps_per_s']}/s) "
              f"peak {entry['peak_rss_mib']:.0f} MiB, normalisation read {entry['normalisation']['chunks']} of "
              f"{entry['chunks_total']} chunks, {read / 1024:.2f} GiB generated in all "
              f"(nominal {nominal_gib:.0f} GiB), load {entry['load_after'][0]}", flush=True)


if __name__ == "__main__":
    main()

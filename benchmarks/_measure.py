"""Run one measurement in a fresh process and record its memory; merge results into a JSON file.

Shared by the benchmark scripts (careamics_n2v.py runs it in another venv: stdlib only here;
pump_qt takes the Qt application from its caller).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path


def _rss_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc/self/status."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(field))
    return round(int(line.split()[1]) / 1024, 1)


def _with_rss(fn, args: tuple) -> dict:
    # a spawned child inherits "spawn" as its default; give fn the platform's default (fork on
    # Linux), as in a plain process: torch DataLoader workers would otherwise re-import everything
    multiprocessing.set_start_method(None, force=True)
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _rss_mib("VmRSS")
    result = fn(*args)
    peak = _rss_mib("VmHWM")
    largest_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {**result, "peak_rss_mib": peak, "rss_rise_mib": round(peak - before, 1),
            "largest_subprocess_rss_mib": round(largest_child, 1)}


def isolated(fn, *args) -> dict:
    """fn(*args) -> dict, run in a fresh spawned process; adds its memory use (Linux only).

    peak_rss_mib: peak resident memory of the process while fn ran (the peak is reset just
    before, so imports count only as far as they stay resident); rss_rise_mib: that peak minus
    the resident memory when fn started, i.e. fn's own working memory, C allocations included;
    largest_subprocess_rss_mib: the largest single process fn started and waited for (e.g. a
    dataloader worker; its pages are partly shared with the parent, so do not simply add it).
    """
    with ProcessPoolExecutor(1, mp_context=get_context("spawn"), max_tasks_per_child=1) as pool:
        return pool.submit(_with_rss, fn, args).result()


def _cpu() -> str:
    models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
    return f"{models[0] if models else platform.machine()}, {os.cpu_count()} logical CPUs"


def load() -> list[float]:
    """1, 5 and 15 minute load averages (as `uptime` prints them)."""
    return [round(x, 2) for x in os.getloadavg()]


def cpu_speed_s() -> float:
    """Seconds for 200 products of 512x512 float32 matrices on one torch thread: how fast the
    machine is right now (on this shared VM it varied by 40 % within half an hour), to read
    timings taken at different times against."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.randn(512, 512)
        start = time.perf_counter()
        for _ in range(200):
            x @ x
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(before)


def merge_results(path: Path, key: str, entry: dict) -> None:
    """Write entry under results[key], keeping other keys: cases can be (re)run one at a time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.exists() else {}
    results["machine"] = _cpu()
    results.setdefault("runs", {})[key] = {**entry, "finished": time.strftime("%Y-%m-%d %H:%M:%S")}
    path.write_text(json.dumps(results, indent=1) + "\n")


def parse_option(text: str) -> tuple[str, object]:
    """'batch_size=4' -> ('batch_size', 4): a TrainConfig field for the learned methods."""
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a TrainConfig field), got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def pump_qt(app, until, timeout: float, interval: float = 0.005) -> bool:
    """Process Qt events until `until()` is true (True) or `timeout` seconds pass (False),
    sleeping `interval` between rounds; the benchmarks' stand-in for a running event loop."""
    start = time.perf_counter()
    while not until():
        app.processEvents()
        time.sleep(interval)
        if time.perf_counter() - start > timeout:
            return False
    app.processEvents()
    return True

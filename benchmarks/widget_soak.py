"""Soak test of the dock widget: many Train -> preview -> Stop cycles in one napari session,
watching the process's resident memory and what the widget leaves behind.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/widget_soak.py            # 50 cycles
    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/widget_soak.py --cycles 3 --out /tmp/soak.json

One cycle is what a user does when trying settings: press Train on a 512x512 noisy image, wait
until the live preview has appeared and training has run `--run-s` seconds, press Stop, wait
until the result layer is added and the widget is idle. The result layer is then removed (as a
user does before the next try), so the viewer holds the same layers at every measurement and any
growth is the widget's or the worker's, not the 1 MiB of pixels a kept result rightly holds
(`--keep-results` keeps them, to see what a session that keeps everything costs).

Resident memory (psutil, after gc.collect()) is taken after a warm-up cycle (imports, torch and
OpenGL caches, first allocations) and after every measured cycle. Also recorded per cycle: time
to the preview, seconds per cycle, layers in the viewer, Python and OS threads, busy pool
threads, callbacks connected to the viewer's events (leaked connections show up there first)
and live Python objects. `--malloc-trim` hands free heap pages back to the OS (glibc
malloc_trim) before each reading: growth that survives it is held, not fragmentation. Writes
benchmarks/results/widget_soak.json (merged by key, like the other benchmarks).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from _measure import load, merge_results, pump_qt

RESULTS = Path(__file__).parent / "results" / "widget_soak.json"


def _mib(value: int) -> float:
    return round(value / 2**20, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=50, help="measured Train/Stop cycles (after one warm-up)")
    parser.add_argument("--run-s", type=float, default=1.5, help="seconds from Train to Stop (at least until a preview)")
    parser.add_argument("--method", default="N2V", choices=["N2V", "N2V2", "HQ-SSL"])
    parser.add_argument("--keep-results", action="store_true", help="keep every result layer instead of removing it")
    parser.add_argument("--malloc-trim", action="store_true",
                        help="also give free heap pages back to the OS (glibc malloc_trim) before each reading, "
                             "to tell allocator fragmentation from leaks")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import napari
    from qtpy.QtCore import QEvent, QThreadPool
    from qtpy.QtWidgets import QApplication

    from napari_blindspot.simulate import simulate_fluorescence
    from napari_blindspot._widget import DenoiseWidget, _models

    _models.confirm = lambda parent, question: True  # a script answers yes to "replace the unsaved model?"

    process = psutil.Process()
    image = simulate_fluorescence((512, 512), seed=0)[0].astype(np.float32)
    viewer = napari.Viewer(title="widget soak")
    viewer.window.resize(1500, 950)
    source = viewer.add_image(image, name="noisy")
    original = image.tobytes()
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.form.method.native.setCurrentText(args.method)
    widget.form.duration.value = 600  # a budget Stop always cuts short
    app = QApplication.instance()
    pool = QThreadPool.globalInstance()

    def pump(until, timeout: float) -> bool:
        return pump_qt(app, until, timeout)

    def callbacks() -> int:
        events = (viewer.layers.events.inserted, viewer.layers.events.removed,
                  viewer.dims.events.current_step, source.events.name, source.events.data)
        return sum(len(e.callbacks) for e in events)

    libc = ctypes.CDLL("libc.so.6") if args.malloc_trim else None

    def settle() -> float:
        for _ in range(20):
            app.processEvents()
            time.sleep(0.005)
        # Widgets of removed layers are freed with deleteLater(), which only a running event loop
        # carries out (napari.run() does); this script pumps events without one, so do it here,
        # or every removed layer's controls would count as growth (~160 Python objects a cycle).
        app.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
        gc.collect()
        if libc is not None:
            libc.malloc_trim(0)
        return _mib(process.memory_info().rss)

    def cycle() -> dict:
        start = time.perf_counter()
        widget.controls.train_button.click()
        saw_preview = pump(lambda: widget.preview_shown, timeout=120)
        first_preview = time.perf_counter() - start if saw_preview else None
        pump(lambda: time.perf_counter() - start >= args.run_s, timeout=args.run_s + 1)
        if widget.busy:
            widget.controls.train_button.click()  # the same button reads Stop
        idle = pump(lambda: not widget.busy, timeout=120)
        results = [layer for layer in viewer.layers if layer.name.endswith("denoised]")]
        got_result = idle and bool(results) and results[-1].data.shape == image.shape
        if not args.keep_results:
            for layer in [layer for layer in viewer.layers if layer is not source]:
                viewer.layers.remove(layer)
        rss = settle()
        return {"rss_mib": rss, "seconds": round(time.perf_counter() - start, 2),
                "first_preview_s": None if first_preview is None else round(first_preview, 2),
                "result": got_result, "idle": idle, "layers": len(viewer.layers),
                "python_threads": threading.active_count(), "os_threads": process.num_threads(),
                "busy_pool_threads": pool.activeThreadCount(),
                "viewer_callbacks": callbacks(), "python_objects": len(gc.get_objects())}

    load_before = load()
    rss_start = settle()
    warmup = cycle()
    print(f"warm-up: {warmup}", flush=True)
    cycles = []
    for i in range(args.cycles):
        cycles.append(cycle())
        print(f"cycle {i + 1}/{args.cycles}: {cycles[-1]}", flush=True)
    source_unchanged = source.data.tobytes() == original
    viewer.close()

    rss = [c["rss_mib"] for c in cycles]
    slope = float(np.polyfit(np.arange(len(rss)), rss, 1)[0]) if len(rss) > 1 else 0.0
    summary = {
        "cycles": args.cycles, "method": args.method, "run_s": args.run_s, "image": "simulated fluorescence 512x512 float32",
        "results_kept": args.keep_results, "malloc_trim": args.malloc_trim, "load_before": load_before,
        "rss_at_start_mib": rss_start, "rss_after_warmup_mib": warmup["rss_mib"],
        "rss_after_last_mib": rss[-1] if rss else None,
        "rss_growth_mib": round(rss[-1] - warmup["rss_mib"], 1) if rss else None,
        "rss_max_mib": max(rss) if rss else None,
        "rss_slope_kib_per_cycle": round(1024 * slope, 1),
        "every_cycle_gave_a_result": all(c["result"] for c in cycles),
        "every_cycle_ended_idle": all(c["idle"] for c in cycles),
        "cycles_without_preview": sum(c["first_preview_s"] is None for c in cycles),
        "layers_after_last": cycles[-1]["layers"] if cycles else None,
        "viewer_callbacks_after_warmup": warmup["viewer_callbacks"],
        "viewer_callbacks_after_last": cycles[-1]["viewer_callbacks"] if cycles else None,
        "python_objects_after_warmup": warmup["python_objects"],
        "python_objects_after_last": cycles[-1]["python_objects"] if cycles else None,
        "os_threads_after_warmup": warmup["os_threads"],
        "os_threads_after_last": cycles[-1]["os_threads"] if cycles else None,
        "source_unchanged": source_unchanged,
        "load_after": load(),
        "warmup": warmup, "per_cycle": cycles,
    }
    key = (f"{args.method}, {args.cycles} cycles, {args.run_s:g} s each" + (", results kept" if args.keep_results else "")
           + (", malloc_trim" if args.malloc_trim else ""))
    merge_results(args.out, key, summary)
    print()
    print(f"| measure ({key}) | value |")
    print("|---|---|")
    for name in ("rss_after_warmup_mib", "rss_after_last_mib", "rss_growth_mib", "rss_slope_kib_per_cycle",
                 "every_cycle_gave_a_result", "cycles_without_preview", "layers_after_last",
                 "viewer_callbacks_after_warmup", "viewer_callbacks_after_last", "python_objects_after_warmup",
                 "python_objects_after_last", "os_threads_after_warmup",
                 "os_threads_after_last", "source_unchanged"):
        print(f"| {name} | {summary[name]} |")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()

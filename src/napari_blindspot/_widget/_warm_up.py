"""The dock's warm-up: torch, the methods, the optimiser machinery and matplotlib, loaded on a
thread of its own while the dock says it is loading (docs/benchmarks.md, "Widget latency")."""

from __future__ import annotations

import ctypes
import gc
import os
import sys
import threading
from importlib.util import find_spec

torch_loaded = threading.Event()  # set once torch, the methods, the optimiser machinery and matplotlib are loaded
torch_warm = threading.Event()  # set with it (its older name)
found_gpu = False  # whether device "auto" finds a GPU (False until torch_loaded)
_warming = threading.Lock()


def warm_up_torch() -> None:
    """Import torch, the core's training modules and matplotlib, and build a first optimiser
    (torch._dynamo, sympy, torch.distributed), on a thread of its own and once per process: on
    the UI thread they took seconds, and in the first training's worker they delayed its first
    preview (docs/benchmarks.md, "Widget latency"); here they run while the dock opens."""
    if not torch_warm.is_set() and _warming.acquire(blocking=False):
        threading.Thread(target=_warm_up, name="blindspot-warm-up").start()


def _warm_up() -> None:
    global found_gpu
    try:
        _map_torch_library()
        import torch  # noqa: F401

        _freeze_what_is_new()
        from ..core import lazy, methods, training  # noqa: F401  (the workers' modules, loaded here once)
        from ..core.device import choose_device

        for name in methods.names():  # the form names them, and their modules import torch
            methods.get(name)

        found_gpu = choose_device("auto").type != "cpu"
        _freeze_what_is_new()
        _build_an_optimiser()
        _freeze_what_is_new()
        _draw_a_figure()
        _freeze_what_is_new()
    finally:  # the form is built after all of it: beside these imports, its build took 1.6 s
        torch_loaded.set()
        torch_warm.set()


def on_gpu(device: str) -> bool:
    """Whether `device` is a GPU here; False until the warm-up has imported torch, so that the UI
    thread never waits for that import (the dock builds its form after it; a script that asks
    for the form sooner gets the CPU's hints)."""
    if device == "cpu" or not torch_loaded.is_set():
        return False
    if device == "auto":
        return found_gpu
    from ..core.device import choose_device

    try:
        return choose_device(device).type != "cpu"
    except ValueError:  # e.g. "cuda" picked on a machine without one: Train will say so
        return False


def _map_torch_library() -> None:
    """Map torch's largest library (libtorch_cpu, with its dependencies) with the GIL released:
    Python's own import holds the GIL while the loader maps it, 0.2-0.5 s with napari's UI waiting.
    Linux only; elsewhere (or when it fails) the import does it, as usual."""
    spec = find_spec("torch") if "torch" not in sys.modules else None
    library = os.path.join(os.path.dirname(spec.origin), "lib", "libtorch_cpu.so") if spec and spec.origin else ""
    if sys.platform.startswith("linux") and os.path.exists(library):
        try:
            dlopen = ctypes.CDLL(None).dlopen  # a foreign call: ctypes releases the GIL around it
            dlopen.restype, dlopen.argtypes = ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_int]
            dlopen(os.fsencode(library), os.RTLD_NOW | os.RTLD_LOCAL)  # the import then finds it mapped
        except (OSError, AttributeError):
            pass


def _freeze_what_is_new() -> None:
    """While the dock keeps napari's objects out of full collections (`_lifecycle.gc_freeze`),
    keep the modules just imported out too: they live as long as the process, and each full
    collection over them held the GIL for 100-190 ms with the UI waiting."""
    if gc.get_freeze_count():
        gc.freeze()


def _draw_a_figure() -> None:
    """The loss plot's matplotlib, imported and drawn once: a process's first draw loads the
    fonts, and on the plot's thread beside the dock's first paint it stalled that paint."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1))
    axes = figure.add_subplot()
    axes.plot([0, 1], label="loss")
    axes.set_xlabel("step", fontsize=8)
    axes.legend(fontsize=7)
    FigureCanvasAgg(figure).draw()


def _build_an_optimiser() -> None:
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])

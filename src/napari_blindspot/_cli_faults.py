"""What the command line does when things go wrong: signals, full disks, memory. One line each."""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import signal
import sys
import threading

import psutil

# Every signal that ends a process by default and can be caught: each one cleans up like Ctrl+C.
_ENDING_SIGNALS = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                                                      "SIGALRM", "SIGXCPU", "SIGVTALRM", "SIGPROF")
                   if hasattr(signal, name)]


class Terminated(BaseException):
    """A signal asked us to end: like KeyboardInterrupt, it unwinds so temporaries are removed."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


# One training step holds about this many float32 values per input pixel and network feature
# (activations and their gradients over the UNet's levels), times the views a step runs at once
# (`Method.views_per_step`: HQ-SSL's rotations, four in 2D and six in 3D).
_VALUES_PER_PIXEL_FEATURE = 8


def check_batch_fits(run) -> None:
    """Refuse a batch whose one training step cannot fit in memory, before it is attempted."""
    import torch

    settings = run.settings
    pixels = settings.batch * math.prod(settings.patch) * run.view.channels
    views = run.model.algorithm.views_per_step(run.view.spatial_ndim)
    need = pixels * settings.network.get("features", 32) * _VALUES_PER_PIXEL_FEATURE * views * 4
    if run.device.type == "cuda":
        free = torch.cuda.mem_get_info(run.device)[0]
    else:
        free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"--batch-size {settings.batch} with {'x'.join(map(str, settings.patch))} patches needs "
                         f"about {need / 1e9:.1f} GB per training step, {free / 1e9:.1f} GB are free: use a "
                         "smaller --batch-size or --patch-size")


def available_memory() -> int:
    """Bytes a new allocation can take without swapping, on every platform psutil supports."""
    return psutil.virtual_memory().available


def no_space(err: BaseException) -> str | None:
    """The 'no space left' line for a full disk, however the library reports it (OSError, SafetensorError)."""
    advice = "free some space or write elsewhere; nothing was written"
    if isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT):
        if str(err.strerror).startswith("no space left"):  # check_space's own words
            return err.strerror
        return f"no space left on device while writing {err.filename or 'the output'}: {advice}"
    if "No space left on device" in str(err):
        return f"no space left on device while saving the model: {advice}"
    return None


def out_of_memory(err: BaseException) -> bool:
    text = str(err).lower()
    return isinstance(err, MemoryError) or "out of memory" in text or "can't allocate memory" in text


@contextlib.contextmanager
def signals_end_cleanly():
    """SIGTERM, SIGHUP and the like raise `Terminated` (only the main thread can install handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated(signum)

    previous = {s: signal.signal(s, handler) for s in _ENDING_SIGNALS}
    if hasattr(signal, "SIGXFSZ"):  # a file size limit: an OSError on write, not a killed process
        previous[signal.SIGXFSZ] = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def quiet_after_error() -> None:
    """Our error line is the last word: no asyncio or 'exception ignored' noise from libraries at exit."""
    logging.getLogger("asyncio").disabled = True
    sys.unraisablehook = lambda unraisable: None


def one_line_warnings(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)

"""Closing the dock while it trains must leave napari drawing safely (it used to segfault in
glDrawArrays on a later repaint): the widget's layers go while the GL workaround holds."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("_close_sequence.py")


@pytest.mark.parametrize("how", ["close", "delete-then-close"])
def test_closing_the_dock_mid_training_leaves_napari_drawing_safely(how):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), how], capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    assert "survived" in done.stdout


class _WorkerWithoutSignals:
    """A worker still running whose Qt signals are already deleted (the viewer closed first)."""

    is_running = True

    def quit(self):
        pass

    @property
    def finished(self):
        raise RuntimeError("wrapped C/C++ object of type GeneratorWorkerSignals has been deleted")


def test_releasing_after_the_worker_signals_are_gone_still_disconnects_everything():
    from napari.utils.events import EventEmitter

    from napari_blindspot._widget._jobs import JobStatus
    from napari_blindspot._widget._lifecycle import Job, Resources, gc_freeze

    res, emitter = Resources(), EventEmitter(type_name="removing")
    res.connect(emitter, lambda event: None, until_jobs_end=True)
    res.job = Job("train", _WorkerWithoutSignals(), JobStatus(), source=None, axes="YX")
    gc_freeze()  # as _start does for the job
    res.release()
    assert res.job is None and res.until_jobs_end == [] and len(emitter.callbacks) == 0

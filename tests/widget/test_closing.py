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

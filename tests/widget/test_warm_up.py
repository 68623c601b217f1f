"""The dock loads torch's lazily imported optimiser machinery in the background, once."""

import sys
import threading

from napari_blindspot._widget import _jobs


def test_opening_the_dock_warms_torch_up_once_in_the_background(make_widget):
    make_widget()
    assert _jobs.torch_warm.wait(60)
    assert "torch._dynamo" in sys.modules  # what the first optimiser would otherwise import
    _jobs.warm_up_torch()  # again: nothing more to do
    assert not any(t.name == "blindspot-warm-up" for t in threading.enumerate())

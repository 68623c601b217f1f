"""The dock loads torch's lazily imported optimiser machinery in the background, once."""

import threading

from napari_blindspot._widget import _jobs


def test_opening_the_dock_warms_torch_up_once_in_the_background(make_widget, monkeypatch):
    # Fresh process-wide state, so the test does not depend on which test opened a dock first.
    monkeypatch.setattr(_jobs, "torch_warm", threading.Event())
    monkeypatch.setattr(_jobs, "_warming", threading.Lock())
    threads = []
    real = _jobs._build_an_optimiser

    def recording():
        threads.append(threading.current_thread())
        real()

    monkeypatch.setattr(_jobs, "_build_an_optimiser", recording)
    make_widget()
    assert _jobs.torch_warm.wait(60)
    make_widget()  # a second dock, and a direct call: nothing more to do
    _jobs.warm_up_torch()
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread() and threads[0].name == "blindspot-warm-up"

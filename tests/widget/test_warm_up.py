"""The dock loads torch's lazily imported optimiser machinery in the background, once."""

import threading

from napari_blindspot._widget import _warm_up


def test_opening_the_dock_warms_torch_up_once_in_the_background(make_widget, monkeypatch, qtbot):
    # Fresh process-wide state, so the test does not depend on which test opened a dock first.
    monkeypatch.setattr(_warm_up, "torch_warm", threading.Event())
    monkeypatch.setattr(_warm_up, "_warming", threading.Lock())
    threads = []
    real = _warm_up._build_an_optimiser

    def recording():
        threads.append(threading.current_thread())
        real()

    monkeypatch.setattr(_warm_up, "_build_an_optimiser", recording)
    make_widget()
    qtbot.waitUntil(_warm_up.torch_warm.is_set, timeout=60_000)
    make_widget()  # a second dock, and a direct call: nothing more to do
    _warm_up.warm_up_torch()
    assert len(threads) == 1
    assert threads[0] is not threading.main_thread() and threads[0].name == "blindspot-warm-up"


def test_the_warm_up_keeps_its_imports_out_of_full_collections_while_the_viewers_objects_are():
    import gc

    _warm_up._freeze_what_is_new()  # nothing frozen: nothing to keep out
    assert gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        made = [[i] for i in range(1000)]  # what an import leaves behind
        _warm_up._freeze_what_is_new()
        assert gc.get_freeze_count() >= before + len(made)
    finally:
        gc.unfreeze()

""""Train a new model? ... will be lost" is asked only when something would be: never right after
a save, nor after a Train more that left the saved model as it was."""

from napari_blindspot._widget import _models
from napari_blindspot.core import schedule

from .conftest import wait_idle


def _asked(monkeypatch) -> list:
    asked = []
    monkeypatch.setattr(_models, "confirm", lambda parent, question, action="Discard": asked.append(question) or True)
    return asked


def _save(widget, tmp_path) -> None:
    widget.ask_directory = lambda title: str(tmp_path / "model")
    widget.controls.save_button.click()
    assert widget.model_saved


def _train_more(widget, qtbot) -> None:
    widget.controls.train_more_button.click()
    wait_idle(qtbot, widget)


def test_save_then_train_asks_nothing_and_the_model_it_made_is_asked_about(trained, qtbot, tmp_path, monkeypatch, notes):
    _save(trained, tmp_path)
    asked = _asked(monkeypatch)
    trained.controls.train_button.click()
    wait_idle(qtbot, trained)
    assert asked == []
    trained.controls.train_button.click()  # the model this Train made is not saved: asking is right
    assert len(asked) == 1 and "not saved" in asked[0]
    wait_idle(qtbot, trained)


def test_train_more_after_save_makes_an_unsaved_model_that_is_asked_about(trained, qtbot, tmp_path, monkeypatch, notes):
    offer = schedule.Best.offer
    monkeypatch.setattr(schedule.Best, "offer", lambda self, model, quality, count, elapsed:
                        None if count == 0 else offer(self, model, quality, count, elapsed))  # the new weights win
    _save(trained, tmp_path)
    _train_more(trained, qtbot)
    asked = _asked(monkeypatch)
    trained.controls.train_button.click()
    assert len(asked) == 1 and "not saved" in asked[0] and trained.busy
    wait_idle(qtbot, trained)


def test_a_train_more_that_kept_the_saved_weights_asks_nothing(trained, qtbot, tmp_path, monkeypatch, notes):
    offer = schedule.Best.offer
    monkeypatch.setattr(schedule.Best, "offer", lambda self, model, quality, count, elapsed:
                        offer(self, model, quality, count, elapsed) if count == 0 else None)  # nothing beats them
    _save(trained, tmp_path)
    _train_more(trained, qtbot)
    assert trained.model_saved and trained.model_folder == str(tmp_path / "model")
    asked = _asked(monkeypatch)
    trained.controls.train_button.click()
    assert asked == [] and trained.busy
    wait_idle(qtbot, trained)


def test_a_train_more_of_no_step_asks_nothing(trained, qtbot, tmp_path, monkeypatch, notes):
    _save(trained, tmp_path)
    monkeypatch.setattr(schedule.Schedule, "fraction", lambda self, count, elapsed: 1.0)  # over before a step
    _train_more(trained, qtbot)
    assert trained.model is not None and trained.model_saved
    asked = _asked(monkeypatch)
    trained.controls.train_button.click()
    assert asked == []
    wait_idle(qtbot, trained)

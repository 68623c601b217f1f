"""A result is presented as one only when it can be trusted: a final estimate below the input's
quality, or a handful of steps, is said in the status line and a warning, and names the layer
for it; a budget too short for the network is said once the first step is timed. How a run
ended (until it stops improving, Train more that kept the earlier model) is said too."""

import math

from napari_blindspot.core import schedule, training
from napari_blindspot._widget import _dock
from napari_blindspot._widget._layers import OURS

from .conftest import noisy, wait_idle


def _final_estimate(monkeypatch, gain_db):
    """The final event's held-out estimate, as the core would give it."""
    finish = training.TrainingRun._finish

    def finish_with(self, *args):
        final = finish(self, *args)
        final.estimated_psnr_gain_db = gain_db
        return final

    monkeypatch.setattr(training.TrainingRun, "_finish", finish_with)


def _train(viewer, make_widget, qtbot, steps=3, **settings):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=steps)
    for name, value in settings.items():
        setattr(widget, name, value)
    widget.controls.train_button.click()
    wait_idle(qtbot, widget, timeout=60_000)
    return widget


def test_a_result_the_estimate_calls_worse_than_the_input_is_named_and_warned(viewer, make_widget, qtbot, notes,
                                                                              monkeypatch):
    _final_estimate(monkeypatch, -4.5)
    widget = _train(viewer, make_widget, qtbot, worse_below_db=0.0)
    assert [layer.name for layer in viewer.layers] == ["noisy", "noisy [n2v denoised] worse?"]
    warnings = [text for kind, text in notes if kind == "warning"]
    assert len(warnings) == 1 and "worse than the input" in warnings[0] and "-4.5 dB" in warnings[0]
    assert widget.controls.progress_bar.text().endswith("worse?")
    assert "may be worse than the input" in widget.controls.status_label.text()


def test_a_result_better_than_the_input_keeps_its_plain_name(viewer, make_widget, qtbot, notes, monkeypatch):
    _final_estimate(monkeypatch, 2.0)
    _train(viewer, make_widget, qtbot, worse_below_db=0.0, few_steps=3)
    assert [layer.name for layer in viewer.layers] == ["noisy", "noisy [n2v denoised]"]
    assert not [text for kind, text in notes if kind == "warning"]


def test_an_estimate_that_cannot_be_told_is_no_verdict_of_worse(viewer, make_widget, qtbot, notes, monkeypatch):
    _final_estimate(monkeypatch, None)
    _train(viewer, make_widget, qtbot, worse_below_db=0.0)
    assert viewer.layers[-1].name == "noisy [n2v denoised]"


def test_a_run_of_a_handful_of_steps_is_named_too_few_steps(viewer, make_widget, qtbot, notes):
    widget = _train(viewer, make_widget, qtbot, steps=3, few_steps=50)
    assert viewer.layers[-1].name == "noisy [n2v denoised] few steps?"
    assert any(kind == "warning" and "Only 3 training steps" in text for kind, text in notes)
    assert "too few" in widget.controls.status_label.text()


def test_a_doubtful_result_keeps_the_contract_name_and_adds_a_short_tag(viewer, make_widget, qtbot, notes):
    """napari's layer list elides the middle of a long name: `<source> [<method> denoised]` stays
    whole and the tag after it is a word, so both ends of the name can be read."""
    _train(viewer, make_widget, qtbot, steps=3, few_steps=50)
    name = viewer.layers[-1].name
    assert name.startswith("noisy [n2v denoised] ") and len(name) - len("noisy [n2v denoised] ") <= 10


def test_the_first_steps_say_when_the_budget_allows_too_few_steps(viewer, make_widget, qtbot, notes):
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(seconds=1)
    widget.few_steps = 10**9  # no step is that fast: the budget is always too short
    widget.controls.train_button.click()
    qtbot.waitUntil(lambda: any("A step took" in text for _, text in notes), timeout=30_000)
    warning = next(text for _, text in notes if "A step took" in text)
    assert "1 s budget" in warning and "too few" in warning
    wait_idle(qtbot, widget)
    assert sum("A step took" in text for _, text in notes) == 1  # said once, not every step


def test_apply_to_layer_says_what_it_did_and_claims_no_estimate_for_the_new_layer(viewer, trained, qtbot):
    other = viewer.add_image(noisy((32, 32), seed=1), name="other")
    assert trained.apply_to(other)
    wait_idle(qtbot, trained)
    assert trained.controls.progress_bar.text() == "Done: denoised 'other' with the n2v model (3 steps)"
    made = viewer.layers["other [n2v denoised]"].metadata[OURS]
    assert made["estimated_psnr_gain_db"] is None and made["applied"] and made["source"] == "other"
    assert "estimated" not in trained.controls.status_label.text()


def test_until_it_stops_improving_says_why_it_stopped(viewer, make_widget, qtbot, monkeypatch):
    monkeypatch.setattr(schedule.Best, "converged", lambda self, elapsed: True)  # at the first validation
    viewer.add_image(noisy((32, 32)), name="noisy")
    widget = make_widget(steps=200)
    widget.form.until.value = True
    widget.controls.train_button.click()
    wait_idle(qtbot, widget)
    assert widget.model.spec.history["steps"] < 200
    assert "stopped: the held-out loss stopped improving at step" in widget.controls.status_label.text()


def test_train_more_that_never_beats_the_model_says_it_kept_it(viewer, trained, qtbot, monkeypatch):
    monkeypatch.setattr(schedule.Best, "offer", _first_offer_only(schedule.Best.offer))
    trained.controls.train_more_button.click()
    wait_idle(qtbot, trained)
    assert "kept the model as it was at step 3" in trained.controls.status_label.text()
    assert trained.model.spec.history["steps"] == 6


def _first_offer_only(offer):
    """A Best that takes only the weights it is offered first (Train more's starting ones)."""
    def first(self, model, quality, count, elapsed):
        if self.quality is None:
            offer(self, model, quality, count, elapsed)
        else:
            self.checks_since += 1
    return first


def test_the_dock_judges_results_by_default():
    assert _dock.DenoiseWidget.few_steps >= 20 and _dock.DenoiseWidget.worse_below_db == 0.0
    assert not math.isinf(_dock.DenoiseWidget.worse_below_db)


def test_a_slow_first_step_alone_is_no_budget_warning():
    from types import SimpleNamespace as NS

    from napari_blindspot._widget._lifecycle import Job
    from napari_blindspot._widget._verdict import budget_warning

    run = NS(config=NS(time_budget_s=60.0), three_d=False, device=NS(type="cpu"))
    job = Job("train", None, None, None, "YX", run=run)
    assert budget_warning(NS(step=1, elapsed_s=6.8), job) is None  # one-time costs: not the pace
    assert budget_warning(NS(step=2, elapsed_s=7.0), job) is None  # 0.2 s a step: 300 steps
    slow = Job("train", None, None, None, "ZYX", run=NS(config=NS(time_budget_s=30.0), three_d=True,
                                                      device=NS(type="cpu")))
    assert "spent before a second step" in budget_warning(NS(step=1, elapsed_s=33.0), slow)
    assert "2D slices" in budget_warning(NS(step=1, elapsed_s=33.0), slow.__class__(
        "train", None, None, None, "ZYX", run=slow.run))

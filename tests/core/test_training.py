import math

import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core import preview
from napari_blindspot.core.config import TrainConfig
from napari_blindspot.core.schedule import Pacer


def _psnr(clean, x):
    return 10 * np.log10((clean.max() - clean.min()) ** 2 / np.mean((clean - x) ** 2))


def test_training_on_a_noisy_image_improves_psnr(noisy_image):
    clean, noisy = noisy_image
    out = nb.denoise(noisy, method="n2v", axes="YX", time_budget_s=None, steps=150, seed=0,
                     features=8, patch_size=32, batch_size=8, learning_rate=3e-3)
    assert out.dtype == np.float32 and out.shape == noisy.shape
    assert _psnr(clean, out) > _psnr(clean, noisy) + 3


def test_training_is_reproducible_for_a_seed(noisy_image, tiny):
    _, noisy = noisy_image
    cfg = TrainConfig(axes="YX", **{**tiny, "steps": 4}, seed=7)
    weights = []
    for _ in range(2):
        run = nb.train(noisy, cfg)
        for _ in run:
            pass
        weights.append(torch.cat([p.flatten() for p in run.model.net.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_events_count_steps_and_end_with_done(noisy_image, tiny):
    _, noisy = noisy_image
    run = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": 5}))
    events = list(run)
    assert [e.step for e in events] == [1, 2, 3, 4, 5, 5]
    assert events[-1].done and not any(e.done for e in events[:-1])
    assert all(e.total == 5 for e in events) and events[-1].val_loss is not None


def test_time_budget_stops_training(noisy_image, tiny, fake_clock):
    _, noisy = noisy_image
    run = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": None, "time_budget_s": 0.5}))
    events = list(run)
    assert events[-1].done and events[-1].step == 4 and events[-1].elapsed_s == 0.5  # 4 steps of 0.125 s
    assert run.model.spec.history["steps"] == 4


def test_stop_ends_training_and_leaves_a_usable_model(noisy_image, tiny):
    _, noisy = noisy_image
    run = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": 10_000}))
    for event in run:
        if event.step == 3:
            run.stop()
    assert event.done and event.step == 3
    assert run.model.predict(noisy).shape == noisy.shape


def test_previews_show_the_requested_region(noisy_image):
    _, noisy = noisy_image
    stack = np.stack([noisy, noisy[::-1]])
    run = nb.train(stack, TrainConfig(axes="ZYX", three_d=False, time_budget_s=3, features=8, patch_size=16,
                                      batch_size=2, preview_every_s=0.2))
    run.set_preview_region((1, slice(8, 40), slice(0, 64)))
    previews = [e for e in run if e.preview is not None]
    assert previews
    assert previews[0].preview.shape == (32, 64)
    assert previews[0].preview_region == (1, slice(8, 40), slice(0, 64))


def test_previews_are_spaced_by_their_cost(noisy_image, tiny, fake_clock):
    _, noisy = noisy_image
    # previews asked for as often as possible
    run = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": None, "time_budget_s": 2.5,
                                                    "preview_every_s": 0.001}))
    real = run._preview

    def dear_preview():  # 0.1 s each: 5% of the time is one preview per 2 s
        fake_clock.now += 0.1
        return real()

    run._preview = dear_preview
    events = list(run)
    at = [e.elapsed_s for e in events if e.preview is not None]
    assert len(at) == 2 and at[0] == 0.125  # the first at once, the next after 2 s more
    assert at[1] - (at[0] + 0.1) >= 0.1 / preview.PREVIEW_SHARE - 0.1
    assert events[-1].step > 10  # without the spacing, every step would bring one


def test_a_pacer_waits_as_asked_or_long_enough_to_keep_its_share():
    pacer = Pacer(every_s=2.0, share=0.05)
    assert not pacer.due(0.99, 1) and pacer.due(1.0, 1)  # the first one comes early
    pacer.took(0.01, elapsed_s=1.0)  # cheap: the asked-for interval rules
    assert not pacer.due(2.99, 2) and pacer.due(3.0, 2)
    pacer.took(0.5, elapsed_s=3.0)  # dear: 0.5 s, then 9.5 s of other work
    assert not pacer.due(12.49, 3) and pacer.due(12.5, 3)
    assert not Pacer(every_s=None, share=0.05).due(1e9, 1)


def test_a_pacer_by_steps_ignores_the_clock():
    pacer = Pacer(every_s=2.0, share=0.05, every_steps=3)
    assert [pacer.due(0.0, n) for n in range(1, 8)] == [False, False, True, False, False, True, False]
    pacer.took(100.0, elapsed_s=1.0)
    assert pacer.due(0.0, 9)


def test_train_more_continues_from_the_model(noisy_image, tiny):
    _, noisy = noisy_image
    cfg = TrainConfig(axes="YX", **{**tiny, "steps": 3})
    run = nb.train(noisy, cfg)
    list(run)
    before = [p.detach().clone() for p in run.model.net.parameters()]
    more = nb.train(noisy, cfg, model=run.model)
    list(more)
    assert more.model is run.model and run.model.spec.history["steps"] == 6
    assert any(not torch.equal(a, b) for a, b in zip(before, run.model.net.parameters()))



def test_train_more_keeps_the_earlier_weights_when_it_does_not_beat_their_held_out_loss(noisy_image, tiny):
    _, noisy = noisy_image
    run = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": 20}, learning_rate=3e-3))
    list(run)
    before = [p.detach().clone() for p in run.model.net.parameters()]
    best_step = run.model.spec.history["best_step"]
    # a learning rate far too high wrecks the weights: every held-out loss of this run is worse
    more = nb.train(noisy, TrainConfig(axes="YX", **{**tiny, "steps": 4}, learning_rate=0.08), model=run.model)
    events = list(more)
    assert all(torch.equal(a, b) for a, b in zip(before, run.model.net.parameters()))
    assert events[-1].best_step == 0 and run.model.spec.history["best_step"] == best_step
    assert run.model.spec.history["steps"] == 24

@pytest.mark.parametrize("scale, three_d, spatial_ndim, words", [
    ((2.5, 0.5, 0.5), None, 2, "5.0x"),  # anisotropic: slices
    ((1.0, 0.5, 0.5), None, 2, "on the CPU"),  # near-isotropic, but on the CPU: slices too
    ((2.5, 0.5, 0.5), True, 3, "as set"), ((1.0, 0.5, 0.5), False, 2, "as set"),  # three_d wins
])
def test_z_stacks_train_slice_by_slice_on_the_cpu_unless_told(scale, three_d, spatial_ndim, words):
    stack = np.random.default_rng(0).normal(size=(16, 16, 16)).astype(np.float32)
    run = nb.train(stack, TrainConfig(axes="ZYX", scale=scale, three_d=three_d, steps=1, time_budget_s=None,
                                      features=8, batch_size=1, preview_every_s=None, device="cpu"))
    assert run.view.spatial_ndim == spatial_ndim and words in run.three_d_reason


def test_a_scale_must_give_one_spacing_per_axis():
    with pytest.raises(ValueError, match="one spacing per axis"):
        nb.train(np.zeros((16, 16, 16), np.float32), TrainConfig(scale=(1.0, 1.0), steps=1, time_budget_s=None))


@pytest.mark.parametrize("kwargs, message", [
    (dict(method="care"), "unknown method"), (dict(noise="laplace"), "unknown noise"),
    (dict(time_budget_s=0), "positive"), (dict(time_budget_s=-3), "positive"),
    (dict(steps=0, time_budget_s=None), "positive integer"), (dict(patch_size=4), "too small"),
    (dict(time_budget_s=None), "time budget or a number of steps"), (dict(patch_context=-1), "0 or more"),
])
def test_bad_settings_are_refused_with_advice(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


@pytest.mark.parametrize("image, message", [
    (np.zeros((4,), np.float32), "2 to 6 dimensions"), (np.zeros((0, 8), np.float32), "empty"),
    (np.zeros((16, 16), bool), "integer or floating"), (np.zeros((16, 16), complex), "integer or floating"),
])
def test_bad_images_are_refused(image, message):
    with pytest.raises((ValueError, TypeError), match=message):
        nb.train(image, TrainConfig(steps=1, time_budget_s=None))


def _noise_std_at(params: dict, level: float) -> float:
    """The noise std a learned model gives a pixel of clean value `level`, in input units."""
    if params["kind"] == "gaussian":
        return params["sigma"][0]
    return math.sqrt(params["gain"][0] * level + params["offset"][0])  # var = gain x + offset


@pytest.mark.parametrize("noise", ["auto", "gaussian"])
def test_hqssl_learns_the_noise_level_and_gives_an_uncertainty_map(noisy_image, noise):
    clean, noisy = noisy_image  # Gaussian noise of std 20
    run = nb.train(noisy, TrainConfig(method="hqssl", noise=noise, axes="YX", steps=60, time_budget_s=None,
                                      patch_size=32, batch_size=4, preview_every_s=None, device="cpu"))
    events = list(run)
    assert events[-1].done
    assert _noise_std_at(events[-1].noise_params, float(clean.mean())) == pytest.approx(20, rel=0.15)
    assert run.model.spec.noise_params == events[-1].noise_params  # saved with the model
    out, std = run.model.predict(noisy, return_uncertainty=True)
    assert out.shape == std.shape == noisy.shape and (std >= 0).all() and np.isfinite(out).all()
    assert _psnr(clean, out) > _psnr(clean, noisy)
    assert 0 < np.median(std) < 20  # the posterior is surer than the noisy pixel alone


def test_hqssl_network_preset_is_chosen_by_name_and_capped_by_the_patch(noisy_image):
    _, noisy = noisy_image
    run = nb.train(noisy, TrainConfig(method="hqssl", axes="YX", steps=1, time_budget_s=None, patch_size=32,
                                      network_preset="reference", device="cpu", preview_every_s=None))
    # the reference widths, with the depth cut from 5 to 3 so that a 32-px patch keeps a 4-px bottleneck
    assert run.settings.network == {"features": 48, "decoder_features": 96, "depth": 3, "groups": 1}
    with pytest.raises(ValueError, match="network preset"):
        TrainConfig(method="hqssl", network_preset="huge")


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_patch_context_is_read_but_never_a_target(noisy_image, tiny, method, monkeypatch):
    """Patches are read `patch_context` pixels wider on each side, and that ring is held out."""
    from napari_blindspot.core import training

    seen = []
    original = training.step

    def recording_step(model, optimiser, amp, target, inputs, coords, held):
        seen.append((tuple(inputs.shape), held.clone(), coords))
        return original(model, optimiser, amp, target, inputs, coords, held)

    monkeypatch.setattr(training, "step", recording_step)
    run = nb.train(noisy_image[1], TrainConfig(method=method, axes="YX", patch_context=4, **tiny))
    for _ in run:
        pass
    shape, held, coords = seen[0]
    assert shape[-2:] == (24, 24)  # 16 + 2 x 4
    ring = np.ones((24, 24), bool)
    ring[4:-4, 4:-4] = False
    assert held[:, 0, ring].all() and not held[:, 0, ~ring].all()
    if coords is not None:  # N2V's masked targets all lie inside
        assert not ring[coords[:, -2].numpy(), coords[:, -1].numpy()].any()

"""Noise2Noise: two recordings of one field, or a stack whose frames are repeats."""

import numpy as np
import pytest

import napari_blindspot as nb
from napari_blindspot.core.data import StackView
from napari_blindspot.core.patches import Pairs

SETTINGS = dict(axes="YX", steps=120, time_budget_s=None, preview_every_s=None, device="cpu",
                patch_size=32, batch_size=8, features=8, num_threads=1)


def _field(shape=(96, 96)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    blobs = sum(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r**2))
                for cy, cx, r in [(20, 30, 6), (60, 70, 9), (75, 20, 5), (30, 80, 7)])
    return (100 * blobs).astype(np.float32)


def _psnr(x, clean):
    return 10 * np.log10(100**2 / np.mean((x - clean) ** 2))


def test_n2n_beats_the_input_and_n2v_at_equal_steps():
    clean = _field()
    rng = np.random.default_rng(0)
    a, b = (clean + rng.normal(0, 20, clean.shape).astype(np.float32) for _ in range(2))
    results = {}
    for method in ("n2n", "n2v"):
        run = nb.train(a, nb.TrainConfig(method=method, **SETTINGS), target=b if method == "n2n" else None)
        for _ in run:
            pass
        results[method] = _psnr(run.model.predict(a), clean)
    assert results["n2n"] > _psnr(a, clean) + 3
    assert results["n2n"] > results["n2v"]


def test_frames_that_are_repeats_pair_neighbouring_frames():
    view = StackView.of(np.zeros((3, 4, 16, 16)), "TZYX", three_d=False)  # flat samples: T-major, then Z
    pairs = Pairs.of_frames(view)
    assert [pairs.partner(s) for s in range(12)] == [4, 5, 6, 7, 8, 9, 10, 11, 4, 5, 6, 7]


def test_n2n_trains_on_frames_that_are_repeats():
    clean = _field((64, 64))
    stack = clean + np.random.default_rng(1).normal(0, 20, (4, 64, 64)).astype(np.float32)
    run = nb.train(stack, nb.TrainConfig(method="n2n", frames_are_repeats=True, **{**SETTINGS, "axes": "TYX"}))
    final = list(run)[-1]
    assert final.step == SETTINGS["steps"] and final.val_loss is not None  # 245 held-out pixels: the gain cannot be told
    assert _psnr(run.model.predict(stack)[0], clean) > _psnr(stack[0], clean) + 2


@pytest.mark.parametrize("kwargs, target, message", [
    (dict(method="n2n"), np.zeros((40, 48), np.float32), "same field, alike in shape"),
    (dict(method="n2n"), None, "second recording"),
    (dict(method="n2v"), np.zeros((48, 48), np.float32), "for method 'n2n'"),
    (dict(method="n2n", frames_are_repeats=True), None, "T \\(or S\\) axis"),
])
def test_n2n_inputs_that_cannot_work_are_refused_with_advice(kwargs, target, message):
    image = np.random.default_rng(0).normal(0, 1, (48, 48)).astype(np.float32)
    with pytest.raises(ValueError, match=message):
        nb.train(image, nb.TrainConfig(axes="YX", steps=1, time_budget_s=None, **kwargs), target=target)


def test_two_recordings_give_the_mean_of_both_denoised():
    clean = _field()
    rng = np.random.default_rng(1)
    a, b = (clean + rng.normal(0, 20, clean.shape).astype(np.float32) for _ in range(2))
    run = nb.train(a, nb.TrainConfig(method="n2n", **SETTINGS), target=b)
    for _ in run:
        pass
    both = run.model.predict(a, second=b)
    first, second = run.model.predict(a), run.model.predict(b)
    np.testing.assert_allclose(both, (first + second) / 2, atol=1e-4)
    assert _psnr(both, clean) > _psnr(first, clean) + 0.5
    with pytest.raises(ValueError, match="same field, alike in shape"):
        run.model.predict(a, second=b[:-1])

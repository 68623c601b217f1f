import numpy as np
import pytest
import torch

import napari_blindspot as nb
from napari_blindspot.core import precision, tta
from napari_blindspot.core.config import PRECISIONS, TrainConfig
from napari_blindspot.core.precision import Precision


def test_precision_is_one_of_the_choices():
    assert PRECISIONS == ("auto", "float32", "bfloat16")
    assert TrainConfig(precision="bfloat16").precision == "bfloat16"
    with pytest.raises(ValueError, match="auto, float32, bfloat16"):
        TrainConfig(precision="half")


@pytest.mark.parametrize("has_bf16, expected", [(True, "bfloat16"), (False, "float32")])
def test_auto_is_bfloat16_on_a_cpu_that_has_it_and_float32_elsewhere(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: has_bf16)
    chosen = Precision.choose("auto", torch.device("cpu"))
    assert chosen.name == expected and chosen.enabled == has_bf16
    assert Precision.choose("float32", torch.device("cpu")).name == "float32"  # as asked, whatever the CPU
    assert Precision.choose("bfloat16", torch.device("cpu")).name == "bfloat16"


@pytest.mark.parametrize("flags, expected", [("fpu avx2 avx512f avx512_bf16 sse", True),
                                             ("fpu avx2 amx_bf16", True), ("fpu avx2 avx512f", False)])
def test_without_torchs_probes_the_cpu_flags_decide(monkeypatch, tmp_path, flags, expected):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False, raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
    monkeypatch.setattr(precision, "CPUINFO", cpuinfo)
    precision.cpu_has_bf16.cache_clear()
    try:
        assert precision.cpu_has_bf16() is expected
    finally:
        precision.cpu_has_bf16.cache_clear()


@pytest.mark.parametrize("method", ["n2v", "hqssl"])
def test_a_bfloat16_run_trains_in_bfloat16_keeps_float32_weights_and_says_so(noisy_image, tiny, method):
    run = nb.train(noisy_image[1], TrainConfig(method=method, axes="YX", **{**tiny, "precision": "bfloat16"}))
    seen = []
    first_conv = next(m for m in run.model.net.modules() if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    events = list(run)
    assert events[-1].step == 2 and np.isfinite(events[-1].loss)
    assert seen and set(seen) == {torch.bfloat16}  # training, validation: all in bfloat16
    assert all(p.dtype == torch.float32 for p in run.model.net.parameters())  # master weights
    assert run.model.spec.history["precision"] == "bfloat16"
    z = torch.zeros(1, 1, 16, 16)
    assert run.model.forward(z).dtype == torch.float32  # what losses and HQ-SSL's head read


def test_a_float32_run_says_float32(noisy_image, tiny):
    run = nb.train(noisy_image[1], TrainConfig(axes="YX", **{**tiny, "precision": "float32"}))
    list(run)
    assert run.model.spec.history["precision"] == "float32"


@pytest.fixture(scope="module")
def n2v_model():
    rng = np.random.default_rng(1)
    run = nb.train(rng.normal(size=(48, 48)).astype(np.float32),
                   TrainConfig(axes="YX", steps=2, time_budget_s=None, features=8, patch_size=16, batch_size=2,
                               preview_every_s=None, device="cpu", precision="float32"))
    list(run)
    return run.model


def test_tta_is_a_number_of_views(n2v_model):
    image = np.random.default_rng(2).normal(size=(40, 40)).astype(np.float32)
    one, three, eight = (n2v_model.predict(image, tta=n) for n in (1, 3, 8))
    assert not np.allclose(one, three) and not np.allclose(three, eight)
    np.testing.assert_array_equal(n2v_model.predict(image, tta=False), one)
    np.testing.assert_array_equal(n2v_model.predict(image, tta=True), eight)  # N2V's default views
    with pytest.raises(ValueError, match="1 to 8"):
        n2v_model.predict(image, tta=9)


def test_large_inputs_get_one_view_by_default_small_ones_the_methods_views(n2v_model, monkeypatch):
    assert tta.views_for(8, None, 512 * 512) == 8 and tta.views_for(2, None, 512 * 512) == 2
    assert tta.views_for(8, None, 4096 * 4096) == 1 and tta.views_for(8, 3, 4096 * 4096) == 3
    image = np.random.default_rng(3).normal(size=(2, 40, 40)).astype(np.float32)  # 3200 pixels in all
    monkeypatch.setattr(tta, "LARGE_INPUT_PIXELS", 2000)  # counted over every plane, not per tile or chunk
    np.testing.assert_array_equal(n2v_model.predict(image, "TYX"), n2v_model.predict(image, "TYX", tta=1))
    from napari_blindspot.core.lazy import predict_lazy

    np.testing.assert_array_equal(np.asarray(predict_lazy(n2v_model, image, "TYX")),
                                  n2v_model.predict(image, "TYX", tta=1))
    monkeypatch.setattr(tta, "LARGE_INPUT_PIXELS", 4000)
    np.testing.assert_array_equal(n2v_model.predict(image, "TYX"), n2v_model.predict(image, "TYX", tta=8))


def _poison_gradients(run, steps: int | None):
    """Make one weight's gradient NaN for the first `steps` backward passes (None: every one)."""
    calls = []
    weight = next(p for p in run.model.net.parameters() if p.ndim > 1)
    weight.register_hook(lambda g: (calls.append(1), g * float("nan"))[1] if steps is None or len(calls) < steps else g)
    return weight


def test_a_step_of_non_finite_gradients_is_skipped_and_training_goes_on(noisy_image, tiny):
    """torch's CPU bfloat16 Conv3d backward sometimes gives NaN gradients on tiny inputs: such
    a step must leave the weights as they were, not make the run diverge."""
    run = nb.train(noisy_image[1], TrainConfig(axes="YX", **{**tiny, "steps": 4, "precision": "bfloat16"}))
    weight = _poison_gradients(run, steps=2)
    events = list(run)
    assert events[-1].step == 4 and np.isfinite(events[-1].loss)
    assert all(bool(torch.isfinite(p).all()) for p in run.model.net.parameters()) and weight.isfinite().all()


def test_gradients_that_stay_non_finite_end_the_run_with_what_to_do(noisy_image, tiny, monkeypatch):
    from napari_blindspot.core import step

    monkeypatch.setattr(step, "SKIPS_IN_A_ROW", 3)
    run = nb.train(noisy_image[1], TrainConfig(axes="YX", **{**tiny, "steps": 6, "precision": "bfloat16"}))
    _poison_gradients(run, steps=None)
    with pytest.raises(FloatingPointError, match="not finite for 3 steps in a row.*float32"):
        list(run)

"""The Python API takes what a notebook hands it: numpy numbers are numbers, torch tensors are
arrays; what it cannot take (strings for numbers, dask arrays of unknown shape) is refused with
a message that names the argument and says what to do."""

import numpy as np
import pytest

import napari_blindspot as nb

IMAGE = np.random.default_rng(0).normal(100, 10, (48, 48)).astype(np.float32)
FAST = dict(steps=1, time_budget_s=None, patch_size=16, batch_size=2, features=8)


@pytest.mark.parametrize("field, value", [("time_budget_s", "60"), ("steps", "10"), ("seed", "0"),
                                          ("patch_size", 16.0), ("batch_size", True), ("sigma", "5")])
def test_a_value_of_the_wrong_type_names_its_argument(field, value):
    with pytest.raises(TypeError, match=f"{field} must be a (whole )?number, got {value!r}"):
        nb.TrainConfig(**{**FAST, field: value})


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_is_refused_by_name(seed):
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to 4294967295"):
        nb.TrainConfig(seed=seed)


def test_numpy_integers_and_floats_are_accepted_as_numbers():
    config = nb.TrainConfig(steps=np.int64(2), time_budget_s=np.float32(30), seed=np.uint32(7),
                            patch_size=np.int32(16), sigma=np.float64(2.5))
    assert (config.steps, config.seed, config.patch_size) == (2, 7, 16)
    assert type(config.steps) is int and type(config.time_budget_s) is float


def test_a_torch_tensor_is_denoised_like_its_numpy_array():
    torch = pytest.importorskip("torch")
    out = nb.denoise(torch.from_numpy(IMAGE), **FAST)
    assert isinstance(out, np.ndarray) and out.shape == IMAGE.shape
    assert np.array_equal(out, nb.denoise(IMAGE, **FAST))


def test_a_dask_array_of_unknown_chunk_sizes_is_refused_with_the_fix():
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(IMAGE, chunks=16)
    unknown = lazy[lazy[:, 0] > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        nb.denoise(unknown, **FAST)

"""The simulated fluorescence sample: documented noise statistics, seeded, with its clean layer,
registered in the npe2 manifest under the ids the demo and scripts open."""

import re
from pathlib import Path

import numpy as np
import pytest

from napari_blindspot import _sample_data
from napari_blindspot.core.metrics import clean_layer_name, true_psnr
from napari_blindspot.simulate import simulate_fluorescence

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def repeats():
    """400 recordings of one small field with a gain, a read noise and an offset that all show."""
    noisy, clean = simulate_fluorescence((48, 48), seed=3, photons=40.0, read_noise=3.0, offset=200.0,
                                         gain=2.0, recordings=400)
    return noisy.astype(np.float64), clean.astype(np.float64)


def test_noisy_image_has_the_clean_image_as_its_mean(repeats):
    noisy, clean = repeats
    mean = noisy.mean(axis=0)
    slope, intercept = np.polyfit((clean - 200.0).ravel(), (mean - 200.0).ravel(), 1)  # E[noisy] - offset = gain * p
    assert slope == pytest.approx(1.0, abs=0.01)
    assert intercept == pytest.approx(0.0, abs=0.3)
    assert np.abs(mean - clean).mean() < 0.5


def test_noise_variance_is_poisson_gaussian_with_gain_and_read_noise(repeats):
    noisy, clean = repeats
    variance = noisy.var(axis=0, ddof=1)
    # Var = gain * (clean - offset) + (gain * read_noise)^2 + 1/12 (rounding)
    alpha, beta = np.polyfit((clean - 200.0).ravel(), variance.ravel(), 1)
    assert alpha == pytest.approx(2.0, rel=0.05)
    assert beta == pytest.approx(2.0 ** 2 * 3.0 ** 2 + 1 / 12, rel=0.05)
    assert (clean - 200.0).max() > 5 * (clean - 200.0).min()  # a range of signal levels was fitted


def test_noise_is_independent_across_pixels_and_recordings(repeats):
    noisy, clean = repeats
    residual = (noisy - clean) / np.sqrt(noisy.var(axis=0, ddof=1))
    assert abs(np.mean(residual[:, :, 1:] * residual[:, :, :-1])) < 0.02  # neighbours in X
    assert abs(np.mean(residual[:, 1:] * residual[:, :-1])) < 0.02  # neighbours in Y
    assert abs(np.mean(residual[1:] * residual[:-1])) < 0.02  # one recording and the next


def test_same_seed_same_images_other_seed_other_field():
    first, again, other = (simulate_fluorescence((64, 80), seed=s) for s in (5, 5, 6))
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert np.corrcoef(first[1].ravel(), other[1].ravel())[0, 1] < 0.5


def test_recordings_share_the_field_and_the_first_is_the_single_recording():
    pair, clean = simulate_fluorescence((64, 64), seed=1, recordings=2)
    single, clean_single = simulate_fluorescence((64, 64), seed=1)
    assert pair.shape == (2, 64, 64)
    assert np.array_equal(clean, clean_single) and np.array_equal(pair[0], single)
    assert not np.array_equal(pair[0], pair[1])


@pytest.mark.parametrize("shape, spacing", [((96, 128), None), ((20, 48, 64), (2.0, 1.0, 1.0)), ((8, 8), None)])
def test_shapes_and_types_are_a_camera_image_and_its_float_mean(shape, spacing):
    noisy, clean = simulate_fluorescence(shape, seed=0, offset=100.0, spacing=spacing)
    assert noisy.shape == clean.shape == shape
    assert noisy.dtype == np.uint16 and clean.dtype == np.float32
    assert clean.min() >= 100.0 and np.isfinite(clean).all()  # nothing dips below the camera's baseline


def test_field_is_dark_background_with_bright_nuclei():
    _, clean = simulate_fluorescence((256, 256), seed=0, photons=20.0, offset=100.0)
    signal = clean - 100.0
    assert np.median(signal) < 0.1 * 20.0  # most of the field is background
    assert np.percentile(signal, 90) > 0.6 * 20.0  # a good share is nuclei, about `photons` bright


def test_stack_has_structures_that_change_with_depth():
    _, clean = simulate_fluorescence((32, 64, 64), seed=0, spacing=(2.0, 1.0, 1.0))
    planes = (clean - clean.mean(axis=(1, 2), keepdims=True)).reshape(len(clean), -1)
    far_apart = np.corrcoef(planes[4], planes[28])[0, 1]
    neighbours = np.corrcoef(planes[15], planes[16])[0, 1]
    assert far_apart < 0.3 < neighbours  # nuclei come and go along Z, smoothly


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match=r"try \(512, 512\)"):
        simulate_fluorescence((4, 512, 512, 3))
    with pytest.raises(ValueError, match="at least one recording"):
        simulate_fluorescence((64, 64), recordings=0)


def test_each_sample_opens_its_clean_layer_hidden_under_the_noisy_ones():
    for sample, noisy_names in [(_sample_data.fluorescence_2d, ["fluorescence"]),
                                (_sample_data.fluorescence_pair, ["fluorescence pair (1)", "fluorescence pair (2)"])]:
        layers = sample()
        names = [meta["name"] for _, meta, _ in layers]
        assert names[1:] == noisy_names  # the last, selected layer is a noisy one
        assert names[0] == clean_layer_name(noisy_names[0], names) == clean_layer_name(noisy_names[-1], names)
        assert layers[0][1]["visible"] is False and layers[0][0].dtype == np.float32
        assert all(layer_type == "image" and data.shape == layers[0][0].shape for data, _, layer_type in layers)


def test_stack_sample_has_many_planes_and_its_voxel_size():
    layers = _sample_data.fluorescence_3d()
    assert [meta["name"] for _, meta, _ in layers] == ["fluorescence 3D [clean]", "fluorescence 3D"]
    noisy, meta = layers[1][0], layers[1][1]
    assert noisy.ndim == 3 and len(noisy) >= 16 and meta["scale"] == _sample_data.SPACING_3D
    assert meta["axis_labels"] == ("z", "y", "x")  # a volume, not frames, for the widget


def test_manifest_validates_with_imports_and_lists_the_samples():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(ROOT / "napari.yaml")
    manifest.validate_imports()
    keys = {sample.key for sample in manifest.contributions.sample_data}
    assert keys == {"fluorescence_2d", "fluorescence_3d", "fluorescence_pair"}
    opened = set()
    for path in [*ROOT.glob("src/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")]:
        opened |= set(re.findall(r'open_sample\("napari-blindspot", "(\w+)"\)', path.read_text()))
    assert opened and opened <= keys  # the demo and scripts open samples that exist


def test_napari_opens_the_sample_with_the_clean_layer():
    from napari.components import ViewerModel
    from napari.plugins import _initialize_plugins  # what napari.Viewer does first (napari's tests do it too)

    _initialize_plugins()
    viewer = ViewerModel()
    viewer.open_sample("napari-blindspot", "fluorescence_2d")
    assert [layer.name for layer in viewer.layers] == ["fluorescence [clean]", "fluorescence"]
    assert viewer.layers.selection.active.name == "fluorescence"


def test_true_psnr_uses_the_clean_range_not_the_offset():
    clean = np.linspace(100.0, 110.0, 1000).reshape(10, 100)
    assert true_psnr(clean + 1.0, clean) == pytest.approx(20.0)  # range 10, MSE 1
    assert true_psnr(clean + 1000.0 + 1.0, clean + 1000.0) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="differ"):
        true_psnr(clean[:5], clean)


def test_clean_layer_is_found_only_for_its_own_source():
    names = ["fluorescence", "fluorescence [clean]", "fluorescence 3D", "pair (1)", "pair [clean]"]
    assert clean_layer_name("fluorescence", names) == "fluorescence [clean]"
    assert clean_layer_name("pair (1)", names) == "pair [clean]"
    assert clean_layer_name("fluorescence 3D", names) is None

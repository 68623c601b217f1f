"""Every axes layout through the Python API and the command line: the result is float32, has
the input's shape, stays in the input's units (per channel) and keeps a bright box where it was.
HQ-SSL: its posterior brings the pixel back, so two steps already show where the box is. Tiny
stacks, two steps."""

import numpy as np
import pytest
import tifffile

import napari_blindspot as nb
from napari_blindspot.cli import main
from structures import assert_box_in_place, box_mask

# (axes, shape, three_d): Z stacks of 3 planes are trained slice by slice, 16 planes in 3D
LAYOUTS = [
    ("YX", (24, 32), None),
    ("ZYX", (3, 24, 24), False),
    ("ZYX", (16, 16, 16), True),
    ("TYX", (3, 24, 24), None),
    ("CYX", (2, 24, 24), None),
    ("SYX", (2, 24, 24), None),
    ("TZYX", (2, 3, 24, 24), False),
    ("CZYX", (2, 3, 24, 24), False),
    ("ZCYX", (3, 2, 24, 24), False),  # napari's usual order for multichannel stacks
    ("TCZYX", (2, 2, 3, 24, 24), False),
]
IDS = [f"{axes}-{'x'.join(map(str, shape))}" for axes, shape, _ in LAYOUTS]


def stack(axes, shape, dtype=np.uint16, seed=0):
    """Smooth structure + noise + a box 400 brighter; channel c sits around 300 + 1000 c, so a
    mix-up of channel units shows as a shifted mean."""
    rng = np.random.default_rng(seed)
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    image = 300 + 60 * np.sin(grids[-1] / 3.0) * np.cos(grids[-2] / 4.0) + rng.normal(0, 20, shape)
    image += 400 * box_mask(axes, shape)
    if "C" in axes:
        image += 1000 * grids[axes.index("C")]
    return image.astype(dtype)


def assert_same_layout_and_units(out, image, axes):
    assert out.shape == image.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert_box_in_place(out, axes, box_mask(axes, image.shape))
    c_axis = axes.index("C") if "C" in axes else None
    for c in range(image.shape[c_axis]) if c_axis is not None else [None]:
        pick = (slice(None),) * c_axis + (c,) if c is not None else ()
        raw, den = image[pick].astype(np.float64), out[pick]
        assert abs(den.mean() - raw.mean()) < 0.5 * raw.std(), f"channel {c} left its units"


@pytest.mark.parametrize("axes, shape, three_d", LAYOUTS, ids=IDS)
def test_denoise_keeps_every_layout(axes, shape, three_d, tiny):
    image = stack(axes, shape)
    settings = {k: v for k, v in tiny.items() if k != "preview_every_s"}  # denoise shows none
    out = nb.denoise(image, method="hqssl", axes=axes, three_d=three_d, seed=0, **settings)
    assert_same_layout_and_units(out, image, axes)


@pytest.mark.parametrize("axes, shape, three_d", LAYOUTS, ids=IDS)
def test_train_then_predict_keeps_every_layout(axes, shape, three_d, tiny):
    image = stack(axes, shape, dtype=np.float32, seed=1)
    channels = "independent" if "C" in axes else "joint"
    run = nb.train(image, nb.TrainConfig(method="hqssl", axes=axes, three_d=three_d, channels=channels, **tiny))
    events = list(run)
    assert events[-1].done and events[-1].step == 2
    assert run.model.spec.spatial_ndim == (3 if three_d else 2)
    assert_same_layout_and_units(run.model.predict(image), image, axes)


@pytest.mark.parametrize("axes, shape, three_d", LAYOUTS, ids=IDS)
def test_cli_denoise_keeps_every_layout(tmp_path, axes, shape, three_d):
    image = stack(axes, shape, seed=2)
    src, out = tmp_path / "in.tif", tmp_path / "out.npy"
    tifffile.imwrite(src, image, photometric="minisblack")  # planes of 3 are not RGB
    args = ["denoise", str(src), str(out), "--axes", axes, "--method", "hqssl", "--steps", "2",
            "--patch-size", "16", "--batch-size", "2", "--quiet"]
    if three_d is False:
        args.append("--2d")
    if "C" in axes:
        args += ["--channels", "independent"]
    assert main(args) == 0
    assert_same_layout_and_units(np.load(out), image, axes)


def test_cli_trains_independent_channel_models(tmp_path):
    image = stack("CYX", (2, 24, 24), dtype=np.float32)
    np.save(tmp_path / "in.npy", image)
    assert main(["train", str(tmp_path / "in.npy"), str(tmp_path / "m"), "--axes", "CYX", "--channels",
                 "independent", "--steps", "2", "--patch-size", "16", "--batch-size", "2", "--quiet"]) == 0
    assert nb.load_model(tmp_path / "m", device="cpu").spec.network["groups"] == 2


def test_cli_refuses_an_unknown_channel_mode(tmp_path, capsys):
    np.save(tmp_path / "in.npy", stack("CYX", (2, 24, 24)))
    with pytest.raises(SystemExit) as exit_info:
        main(["denoise", str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "--channels", "separate"])
    assert exit_info.value.code == 2
    assert "joint" in capsys.readouterr().err and not (tmp_path / "out.npy").exists()

import math

import numpy as np
import pytest
import torch

from napari_blindspot.core.masking import grid_side, mask_batch, masked_mse, stratified_coordinates


@pytest.mark.parametrize("spatial", [(64, 64), (16, 32, 32)])
def test_masked_fraction_matches_percent(spatial):
    g = torch.Generator().manual_seed(0)
    coords = stratified_coordinates(8, spatial, 1.5, g)
    fraction = len(coords) / (8 * math.prod(spatial))
    assert 0.01 < fraction < 0.02


@pytest.mark.parametrize("spatial", [(64, 64), (16, 32, 32)])
def test_one_masked_pixel_per_grid_cell(spatial):
    g = torch.Generator().manual_seed(1)
    percent = 2.0
    side = grid_side(percent, len(spatial))
    coords = stratified_coordinates(4, spatial, percent, g)
    cells = torch.cat([coords[:, :1], coords[:, 1:] // side], dim=1)
    assert len(torch.unique(cells, dim=0)) == len(cells)
    assert (coords[:, 1:] < torch.tensor(spatial)).all() and (coords >= 0).all()


@pytest.mark.parametrize("spatial", [(32, 32), (8, 16, 16)])
@pytest.mark.parametrize("median", [False, True])
def test_replacement_never_reuses_the_masked_pixel(spatial, median):
    # Values are all distinct, so a replacement equal to the original would mean self-copy.
    g = torch.Generator().manual_seed(2)
    n = 3 * math.prod(spatial)
    x = torch.randperm(n, generator=g).float().reshape(3, 1, *spatial)
    masked, coords = mask_batch(x, 5.0, g, median=median)
    index = (coords[:, 0], torch.zeros(len(coords), dtype=torch.long)) + tuple(coords[:, 1:].T)
    assert (masked[index] != x[index]).all()
    unmasked = torch.ones_like(x, dtype=torch.bool)
    unmasked[index] = False
    assert torch.equal(masked[unmasked], x[unmasked])


def test_n2v_replacement_comes_from_the_5x5_window():
    g = torch.Generator().manual_seed(3)
    y, xx = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    x = (y * 1000 + xx).float()[None, None]  # value encodes position
    masked, coords = mask_batch(x, 5.0, g)
    values = masked[0, 0, coords[:, 1], coords[:, 2]]
    src_y, src_x = values.long() // 1000, values.long() % 1000
    assert ((src_y - coords[:, 1]).abs() <= 2).all() and ((src_x - coords[:, 2]).abs() <= 2).all()


def test_n2v2_replacement_is_the_window_median_without_the_centre():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(1, 1, 16, 16, generator=g)
    masked, coords = mask_batch(x, 5.0, g, median=True)
    interior = [c for c in coords.tolist() if 2 <= c[1] < 14 and 2 <= c[2] < 14]
    assert interior
    for _, yy, xx in interior:
        window = x[0, 0, yy - 2 : yy + 3, xx - 2 : xx + 3].flatten()
        neighbours = torch.cat([window[:12], window[13:]])
        assert masked[0, 0, yy, xx] == neighbours.median()


def test_loss_ignores_unmasked_pixels():
    g = torch.Generator().manual_seed(5)
    target = torch.rand(2, 1, 32, 32, generator=g)
    _, coords = mask_batch(target, 2.0, g)
    prediction = target.clone()
    changed = torch.ones_like(target, dtype=torch.bool)
    changed[(coords[:, 0], 0) + tuple(coords[:, 1:].T)] = False
    prediction[changed] += 100.0  # garbage everywhere except the masked pixels
    assert masked_mse(prediction, target, coords) == 0
    prediction[(coords[:1, 0], 0) + tuple(coords[:1, 1:].T)] += 1.0
    assert masked_mse(prediction, target, coords) == pytest.approx(1 / len(coords))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_n2v_output_at_a_masked_pixel_has_no_gradient_from_its_own_value(dtype):
    """The blind spot of N2V, also in bfloat16: the network's input at a masked pixel is a
    neighbour's value, so its output there cannot learn the identity."""
    from napari_blindspot.core.unet import UNet

    g = torch.Generator().manual_seed(3)
    torch.manual_seed(0)
    net = UNet(2, 1, 1, features=4, depth=2)
    x = torch.randn(2, 1, 32, 32, generator=g, requires_grad=True)
    masked, coords = mask_batch(x, 2.0, g)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        out = net(masked)
    assert out.dtype == dtype
    for b, yy, xx in coords[::7].tolist():
        (grad,) = torch.autograd.grad(out[b, 0, yy, xx].float(), x, retain_graph=True)
        assert grad[b, 0, yy, xx] == 0 and grad[b, 0].abs().sum() > 0

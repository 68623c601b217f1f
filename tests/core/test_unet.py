import pytest
import torch

from napari_blindspot.core.unet import UNet


@pytest.mark.parametrize("n2v2", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 37, 53), (2, 1, 64, 64), (1, 1, 5, 7)])
def test_output_shape_equals_input_for_any_2d_size(shape, n2v2):
    net = UNet(2, 1, 1, depth=2, features=4, n2v2=n2v2)
    assert net(torch.randn(shape)).shape == shape


@pytest.mark.parametrize("shape", [(1, 2, 9, 21, 18), (1, 2, 16, 16, 16)])
def test_output_shape_equals_input_for_any_3d_size(shape):
    net = UNet(3, 2, 2, depth=2, features=4)
    assert net(torch.randn(shape)).shape == shape


def test_n2v2_has_no_top_level_skip():
    plain, n2v2 = UNet(2, 1, 1, 2, 8), UNet(2, 1, 1, 2, 8, n2v2=True)
    # the top decoder block of N2V2 sees only the upsampled features, not the skip
    assert plain.up[-1][0].in_channels == 16 + 8
    assert n2v2.up[-1][0].in_channels == 16

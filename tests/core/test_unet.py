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


def _channel_dependence(net, x):
    """dep[c_out, c_in] = True when output channel c_out has any gradient w.r.t. input channel c_in."""
    rows = []
    for c in range(net(x).shape[1]):
        xs = x.clone().requires_grad_(True)
        net(xs)[:, c].sum().backward()
        rows.append((xs.grad.abs().flatten(2).sum((0, 2)) > 0).tolist())
    return rows


@pytest.mark.parametrize("n2v2", [False, True])
@pytest.mark.parametrize("shape", [(2, 3, 20, 20), (1, 2, 8, 12, 12)])
def test_grouped_unet_output_channel_depends_only_on_its_own_input_channel(shape, n2v2):
    torch.manual_seed(0)
    channels = shape[1]
    net = UNet(len(shape) - 2, channels, channels, depth=2, features=4, n2v2=n2v2, groups=channels).double()
    dep = _channel_dependence(net, torch.randn(shape, dtype=torch.float64))
    assert dep == [[c == k for k in range(channels)] for c in range(channels)]


def test_joint_unet_mixes_channels():
    torch.manual_seed(0)
    net = UNet(2, 2, 2, depth=2, features=4).double()
    assert _channel_dependence(net, torch.randn(1, 2, 16, 16, dtype=torch.float64)) == [[True, True]] * 2


@pytest.mark.parametrize("n2v2", [False, True])
def test_each_group_is_as_wide_as_a_single_channel_model(n2v2):
    def size(net):
        return sum(p.numel() for p in net.parameters())

    single = UNet(2, 1, 1, depth=2, features=8, n2v2=n2v2)
    grouped = UNet(2, 3, 3, depth=2, features=8, n2v2=n2v2, groups=3)
    assert size(grouped) == 3 * size(single)
    assert grouped.down[0][0].out_channels == 3 * 8


def test_groups_must_divide_the_channels():
    with pytest.raises(ValueError, match="groups=2 must divide"):
        UNet(2, 3, 3, groups=2)

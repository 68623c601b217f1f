import pytest
import torch

from napari_blindspot.core.blindspot import (
    PRESETS,
    BlindSpotNet,
    ShiftedConv2d,
    ShiftedConv3d,
    rotate_back,
    rotate_in,
    rotations,
)
from napari_blindspot.core.methods.hqssl import prior as split_prior


def _input_gradients(net: BlindSpotNet, shape, points, channels: int = 1):
    """d out[c, p] / d x for each test point p and output channel c, in one backward pass:
    every (p, c) gets its own copy of the same input on the batch axis (samples are independent)."""
    torch.manual_seed(1)
    x = torch.randn(1, channels, *shape, dtype=torch.float64)
    out_channels = net.fuse[-1].out_channels
    cases = [(p, c) for p in points for c in range(out_channels)]
    xs = x.expand(len(cases), *x.shape[1:]).clone().requires_grad_(True)
    out = net(xs)
    torch.stack([out[(i, c, *p)] for i, (p, c) in enumerate(cases)]).sum().backward()
    return cases, xs.grad.abs().sum(1)  # summed over input channels


def _small_net(ndim: int, channels: int = 1) -> BlindSpotNet:
    torch.manual_seed(0)
    return BlindSpotNet(ndim, channels, 2 * channels, features=4, depth=2).double()


def _neighbours(p, shape):
    for axis in range(len(shape)):
        for step in (-1, 1):
            q = list(p)
            q[axis] += step
            if 0 <= q[axis] < shape[axis]:
                yield tuple(q)


def _border_and_inner_points(shape):
    last = tuple(s - 1 for s in shape)
    middle = tuple(s // 2 for s in shape)
    mixed = tuple(s - 1 if i % 2 else 0 for i, s in enumerate(shape))
    near = tuple(min(1, s - 1) for s in shape)
    return [(0,) * len(shape), last, middle, mixed, near]


@pytest.mark.parametrize("shape", [(16, 16), (13, 10), (7, 21), (1, 9), (8, 8, 8), (5, 5, 5), (4, 9, 6)])
def test_output_pixel_ignores_its_own_input_but_sees_its_neighbours(shape):
    net = _small_net(len(shape))
    cases, grads = _input_gradients(net, shape, _border_and_inner_points(shape))
    for i, (p, c) in enumerate(cases):
        assert grads[i][p] == 0, f"output {p} channel {c} depends on input {p}"
        for q in _neighbours(p, shape):
            assert grads[i][q] > 0, f"output {p} channel {c} is blind to its neighbour {q}"


def test_blind_spot_holds_per_channel_for_multichannel_input():
    net = _small_net(2, channels=3)
    shape = (12, 12)
    cases, _ = _input_gradients(net, shape, [(5, 6)], channels=3)
    torch.manual_seed(1)
    xs = torch.randn(len(cases), 3, *shape, dtype=torch.float64, requires_grad=True)
    out = net(xs)
    torch.stack([out[(i, c, *p)] for i, (p, c) in enumerate(cases)]).sum().backward()
    for i, (p, c) in enumerate(cases):
        assert torch.all(xs.grad[i][(slice(None), *p)] == 0)  # no input channel at p is seen


def test_blind_spot_holds_after_training_steps():
    """Weights that moved away from their initialisation still cannot see the centre pixel."""
    net = _small_net(2)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    for _ in range(3):
        x = torch.randn(2, 1, 16, 16, dtype=torch.float64)
        opt.zero_grad()
        ((net(x)[:, :1] - x) ** 2).mean().backward()  # would learn the identity if it could
        opt.step()
    cases, grads = _input_gradients(net, (16, 16), [(0, 0), (8, 3), (15, 15)])
    for i, (p, _) in enumerate(cases):
        assert grads[i][p] == 0


@pytest.mark.parametrize("shape", [(2, 3, 6, 6), (2, 3, 5, 7), (1, 2, 4, 4, 4), (1, 2, 3, 5, 4)])
def test_rotate_back_undoes_rotate_in_exactly(shape):
    ndim = len(shape) - 2
    x = torch.randn(shape)
    views = rotate_in(x, ndim)
    assert len(views) == (4 if ndim == 2 else 6)
    back = rotate_back(views, ndim)
    assert torch.equal(back, torch.cat([x] * len(views), dim=1))


@pytest.mark.parametrize("ndim", [2, 3])
def test_each_rotation_brings_a_different_half_space_up(ndim):
    """The view's first spatial axis (what the shifted convs look up along) points in a
    different one of the 2*ndim directions for each rotation."""
    size = 5
    centre = (size // 2,) * ndim
    seen = set()
    for k, dims in rotations(ndim):
        for axis in range(ndim):
            for step in (-1, 1):
                x = torch.zeros(1, 1, *(size,) * ndim)
                q = list(centre)
                q[axis] += step
                x[(0, 0, *q)] = 1
                view = torch.rot90(x, k, dims)
                above = (centre[0] - 1, *centre[1:])  # one row up in the view
                if view[(0, 0, *above)] == 1:
                    seen.add((axis, step))
    assert len(seen) == 2 * ndim


def test_shifted_conv_only_looks_upward():
    for conv, shape in ((ShiftedConv2d(1, 1), (1, 1, 9, 9)), (ShiftedConv3d(1, 1), (1, 1, 9, 9, 9))):
        x = torch.zeros(shape, requires_grad=True)
        out = conv(x)
        assert out.shape == x.shape
        centre = tuple(s // 2 for s in shape[2:])
        out[(0, 0, *centre)].backward()
        rows_seen = x.grad[0, 0].abs().flatten(1).sum(1).nonzero().flatten().tolist()
        assert rows_seen == [centre[0] - 2, centre[0] - 1, centre[0]]


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (3, 1, 17, 30), (2, 2, 33, 33), (1, 1, 6, 5, 7)])
def test_output_has_the_input_spatial_shape(shape):
    ndim = len(shape) - 2
    torch.manual_seed(0)
    net = BlindSpotNet(ndim, shape[1], 2 * shape[1], features=4, depth=3)
    assert net(torch.randn(shape)).shape == (shape[0], 2 * shape[1], *shape[2:])


def test_wrong_input_layout_is_refused_with_the_expected_shape():
    net = BlindSpotNet(3, 1, 2, features=4, depth=1)
    with pytest.raises(ValueError, match=r"\(N, 1, Z, Y, X\)"):
        net(torch.zeros(1, 2, 4, 4, 4))
    with pytest.raises(ValueError, match=r"\(N, 1, Z, Y, X\)"):
        net(torch.zeros(1, 1, 4, 4))
    with pytest.raises(ValueError, match="2 or 3 spatial axes"):
        BlindSpotNet(1, 1, 2)


def test_split_prior_gives_mean_and_positive_variance():
    out = torch.tensor([[-1e4, 0.0, 1e4]]).reshape(1, 3, 1, 1).repeat(1, 2, 1, 1)  # C=3, 6 channels
    mu, prior_var = split_prior(out, 3)
    assert torch.equal(mu, out[:, :3])
    assert torch.all(prior_var > 0)
    assert prior_var[0, 2, 0, 0] == pytest.approx(1e4)  # softplus(a) ~ a for large a


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_presets_build_blind_networks_of_their_widths_and_depth(preset):
    widths = PRESETS[preset]
    net = BlindSpotNet(2, 1, 2, **widths)
    assert net.depth == len(net.unet.enc) == len(net.unet.dec) == widths["depth"]
    assert all(block[0].out_channels == widths["features"] for block in net.unet.enc)
    assert all(block[0].out_channels == widths["decoder_features"] for block in net.unet.dec)
    x = torch.randn(1, 1, 21, 27, requires_grad=True)  # not a multiple of 2^depth: padded and cropped
    out = net(x)
    assert out.shape == (1, 2, 21, 27)
    out[0, 0, 10, 13].backward()
    assert x.grad[0, 0, 10, 13] == 0 and (x.grad[0, 0] != 0).sum() > 8  # sees its neighbours, not itself


def test_the_reference_preset_is_the_papers_network_and_ten_times_the_one_small_default():
    assert PRESETS["reference"] == dict(features=48, decoder_features=96, depth=5)  # the NVlabs code's
    assert PRESETS["gpu"] == PRESETS["cpu"] == dict(features=16, decoder_features=16, depth=3)

    def size(preset):
        return sum(p.numel() for p in BlindSpotNet(2, 1, 2, **PRESETS[preset]).parameters())

    assert size("reference") > 10 * size("cpu")


@pytest.mark.parametrize("shape", [(12, 12), (6, 6, 6)])
def test_grouped_net_prior_of_a_channel_depends_only_on_that_channel(shape):
    """One model per channel: mu_c and s_x^2_c see input channel c only, and never pixel p."""
    torch.manual_seed(0)
    channels = 2
    net = BlindSpotNet(len(shape), channels, 2 * channels, features=4, depth=2, groups=channels).double()
    p = tuple(s // 2 for s in shape)
    for part in (0, 1):  # mu, then s_x^2
        for c in range(channels):
            x = torch.randn(1, channels, *shape, dtype=torch.float64, requires_grad=True)
            prior = split_prior(net(x), channels, groups=channels)[part]
            prior[(0, c, *p)].backward()
            seen = x.grad[0].abs().flatten(1).sum(1)
            assert seen[c] > 0 and all(seen[k] == 0 for k in range(channels) if k != c)
            assert x.grad[(0, c, *p)] == 0  # still blind to its own pixel


def test_grouped_net_is_one_full_width_net_per_channel():
    def size(net):
        return sum(p.numel() for p in net.parameters())

    single = BlindSpotNet(2, 1, 2, features=4, depth=2)
    grouped = BlindSpotNet(2, 3, 6, features=4, depth=2, groups=3)
    assert size(grouped) == 3 * size(single)
    assert grouped.fuse[0].in_channels == 3 * single.fuse[0].in_channels


def test_split_prior_reads_the_output_group_by_group():
    out = torch.arange(6.0).reshape(1, 6, 1, 1)  # groups of 3 channels: (mu_c, a_c) per channel
    mu, prior_var = split_prior(out, 3, groups=3)
    assert mu.flatten().tolist() == [0.0, 2.0, 4.0]
    assert torch.allclose(prior_var.flatten(), torch.nn.functional.softplus(torch.tensor([1.0, 3.0, 5.0])) + 1e-6)
    joint_mu, _ = split_prior(out, 3)
    assert joint_mu.flatten().tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("shape", [(16, 16), (6, 8, 8)])
def test_bfloat16_output_pixel_still_ignores_its_own_input(shape):
    torch.manual_seed(0)
    net = BlindSpotNet(len(shape), 1, 2, features=4, depth=2)  # float32 weights, bfloat16 compute
    points = _border_and_inner_points(shape)
    x = torch.randn(len(points), 1, *shape, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.bfloat16  # the network did compute in bfloat16
    torch.stack([out[(i, 0, *p)].float() for i, p in enumerate(points)]).sum().backward()
    for i, p in enumerate(points):
        assert x.grad[(i, 0, *p)] == 0, f"output {p} depends on input {p} in bfloat16"
        assert any(x.grad[(i, 0, *q)] != 0 for q in _neighbours(p, shape))

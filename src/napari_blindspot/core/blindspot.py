"""HQ-SSL's blind-spot network (Laine et al. 2019): shifted convolutions and a rotation ensemble.

One UNet whose receptive field only reaches *upward* (towards smaller indices on the first
spatial axis), run on every rotation of the input that brings another half-space "up".
After the UNet the output is shifted down one more row, so each view sees the half-space
strictly above the pixel; rotated back and fused by 1x1 convolutions, the views cover
everything but the pixel itself. Output channels are a Gaussian prior over the clean value
(see `methods.hqssl.prior`); the noise model (`noise.py`) turns it into a loss and a posterior.

Works in 2D (4 rotations in YX) and 3D (6 rotations: +-z, +-y, +-x) on any spatial size:
the input is zero-padded at the end of each axis to a multiple of ``2 ** depth`` (zeros
carry no information about any pixel, so the blind spot holds; reflect or replicate padding
would copy the pixel into its own receptive field), and rotated views of equal shape share
one batched UNet call (all of them for square/cubic input).

``groups=G`` builds G independent blind-spot networks in one (one per channel for
"independent" channel models): every convolution, the fusion head included, is grouped and
every concatenation keeps each group's channels together, so output group g sees only input
group g. The output is then ordered per group (each group's means, then its variances), which
`methods.hqssl.prior` undoes.

``context_channels`` (neighbour planes, window.py): the input's channels after the target
plane's go to a plain UNet whose features join the fusion head. It sees the neighbours' pixels
at the target's position, never the target plane: the output still does not see its pixel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .unet import UNet, cat_groups, check_layout

# HQ-SSL widths. "cpu" and "gpu" name one small network, chosen on one image; wider ones
# overfit it on a GPU (docs/methods.md, "Network size"). "reference": the paper's widths.
_SMALL = dict(features=16, decoder_features=16, depth=3)
PRESETS = {
    "cpu": _SMALL,
    "gpu": _SMALL,
    "reference": dict(features=48, decoder_features=96, depth=5),
}

# -- the two shifted building blocks ------------------------------------------------------


def _shift_down(x: torch.Tensor, rows: int = 1) -> torch.Tensor:
    """Move everything `rows` down the first spatial axis: zeros come in at the top."""
    pad = [0, 0] * (x.dim() - 3) + [rows, 0]
    return F.pad(x, pad)[:, :, : x.shape[2]]


class _ShiftedConv:
    """Pads 2*(k//2) at the top of the first spatial axis and none at the bottom (k//2 on
    the other axes), so output row i sees input rows i-2*(k//2) .. i: only upward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.kernel_size[0] // 2
        return super().forward(F.pad(x, [p, p] * (x.dim() - 3) + [2 * p, 0]))


class ShiftedConv2d(_ShiftedConv, nn.Conv2d):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, groups: int = 1):
        super().__init__(cin, cout, kernel_size, padding=0, groups=groups)


class ShiftedConv3d(_ShiftedConv, nn.Conv3d):
    def __init__(self, cin: int, cout: int, kernel_size: int = 3, groups: int = 1):
        super().__init__(cin, cout, kernel_size, padding=0, groups=groups)


def shifted_downsample(x: torch.Tensor) -> torch.Tensor:
    """Shift one row down, then 2x max-pool: pooled row I sees rows 2I-1 and 2I, none below."""
    pool = F.max_pool2d if x.dim() == 4 else F.max_pool3d
    return pool(_shift_down(x), 2)


# -- rotations: each view brings a different half-space "up" --------------------------------


def rotations(ndim: int) -> list[tuple[int, tuple[int, int]]]:
    """(k, dims) for `torch.rot90`, one per half-space. 2D: the four quarter turns in YX.
    3D: identity (-z), half turn in ZY (+z), quarter turns in ZY (+-y) and ZX (+-x)."""
    if ndim == 2:
        return [(k, (2, 3)) for k in range(4)]
    return [(0, (2, 3)), (2, (2, 3)), (1, (2, 3)), (3, (2, 3)), (1, (2, 4)), (3, (2, 4))]


def rotate_in(x: torch.Tensor, ndim: int) -> list[torch.Tensor]:
    """The rotated views of (N, C, *spatial) `x`, one per half-space."""
    return [torch.rot90(x, k, dims) for k, dims in rotations(ndim)]


def rotate_back(views: list[torch.Tensor], ndim: int, groups: int = 1) -> torch.Tensor:
    """Undo `rotate_in` on each view and concatenate the views on the channel axis (group by
    group when the network is grouped)."""
    return cat_groups([torch.rot90(v, -k, dims) for v, (k, dims) in zip(views, rotations(ndim))], groups)


# -- the network -------------------------------------------------------------------------


class _UpwardUNet(nn.Module):
    """UNet whose every output pixel sees only input rows strictly above it (after the final
    shift). Encoder: `features` channels, `depth` shifted poolings; decoder: nearest x2
    upsampling, concat skip, two shifted convs of `decoder_features`; LeakyReLU(0.1).
    Widths are per group."""

    def __init__(self, ndim: int, cin: int, features: int, decoder_features: int, depth: int, groups: int = 1):
        super().__init__()
        shifted = ShiftedConv2d if ndim == 2 else ShiftedConv3d

        def conv(cin, cout):
            return shifted(cin, cout, groups=groups)

        self.groups = groups
        f, d = groups * features, groups * decoder_features
        self.enc = nn.ModuleList([nn.Sequential(conv(cin, f), _act(), conv(f, f), _act())])
        self.enc.extend(nn.Sequential(conv(f, f), _act()) for _ in range(depth - 1))
        self.bottom = nn.Sequential(conv(f, f), _act())
        skips = [cin] + [f] * (depth - 1)  # channels of the skip each decoder level receives
        below = [f] + [d] * (depth - 1)  # channels coming up from the level below
        self.dec = nn.ModuleList(
            nn.Sequential(conv(below[i] + skips[-1 - i], d), _act(), conv(d, d), _act()) for i in range(depth)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.enc:
            skips.append(x)
            x = shifted_downsample(block(x))
        x = self.bottom(x)
        for block in self.dec:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = block(cat_groups([x, skips.pop()], self.groups))
        return _shift_down(x)  # rows <= i  ->  rows < i: the centre row is now out of sight


def _act() -> nn.Module:
    return nn.LeakyReLU(0.1, inplace=True)


class BlindSpotNet(nn.Module):
    """(N, in_channels, *spatial) -> (N, out_channels, *spatial); output pixel p never sees
    input pixel p. For HQ-SSL use ``out_channels = 2 * in_channels`` and `hqssl.prior`.
    `groups` independent networks in one; widths are per group."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int, features: int = 16,
                 depth: int = 3, decoder_features: int | None = None, groups: int = 1,
                 context_channels: int = 0):
        super().__init__()
        check_layout(ndim, in_channels, out_channels, groups)
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.ndim, self.depth, self.in_channels, self.groups = ndim, depth, in_channels, groups
        self.context_channels = context_channels
        d = decoder_features or 2 * features
        self.unet = _UpwardUNet(ndim, in_channels, features, d, depth, groups)
        n, g = len(rotations(ndim)), groups
        # neighbour planes (window.py): a plain UNet sees them whole, the same-position pixel
        # included; it never sees the target plane, so the blind spot holds
        self.context = (UNet(ndim, context_channels, g * features, depth=2, features=features, batch_norm=False,
                             groups=g) if context_channels else None)
        seen = n * d + (features if context_channels else 0)  # per group, into the fusion head
        conv1 = nn.Conv2d if ndim == 2 else nn.Conv3d
        # fuse the views (and the neighbours' features): -> n*d -> d -> out with 1x1 convolutions (per group)
        self.fuse = nn.Sequential(conv1(g * seen, g * n * d, 1, groups=g), _act(),
                                  conv1(g * n * d, g * d, 1, groups=g), _act(),
                                  conv1(g * d, out_channels, 1, groups=g))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He init for LeakyReLU (as in the reference), zero biases, gain 1 for the last layer."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.kaiming_normal_(m.weight, a=0.1, nonlinearity="leaky_relu")
                nn.init.zeros_(m.bias)
        last = self.fuse[-1]
        nn.init.normal_(last.weight, 0.0, last.weight[0].numel() ** -0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x`: the target plane's channels, then (with `context_channels`) its neighbour planes'."""
        channels = self.in_channels + self.context_channels
        if x.dim() != self.ndim + 2 or x.shape[1] != channels:
            raise ValueError(f"expected a batch of shape (N, {channels}, "
                             f"{', '.join('ZYX'[3 - self.ndim:])}), got {tuple(x.shape)}")
        return self._forward(x, self._run_views)

    def forward_per_view(self, x: torch.Tensor) -> torch.Tensor:
        """`forward` with one UNet call per rotated view, so a trace holds for any input shape
        (batching equal-shaped views would trace a square-only graph): bioimage.io export."""
        return self._forward(x, lambda views: [self.unet(v) for v in views])

    def _forward(self, x: torch.Tensor, run_views) -> torch.Tensor:
        spatial = x.shape[2:]
        m = 2 ** self.depth
        pad = [p for s in reversed(spatial) for p in (0, -s % m)]
        x = F.pad(x, pad)  # zero padding: no copy of any pixel
        views = rotate_in(x[:, : self.in_channels], self.ndim)
        views = rotate_back(run_views(views), self.ndim, self.groups)
        if self.context is not None:
            seen = self.context(x[:, self.in_channels :])
            views = cat_groups([views, seen], self.groups)
        out = self.fuse(views)
        return out[(..., *(slice(0, s) for s in spatial))]

    def _run_views(self, views: list[torch.Tensor]) -> list[torch.Tensor]:
        """Run the shared UNet once per distinct view shape, views stacked on the batch axis
        (one call for square/cubic input)."""
        out: list[torch.Tensor | None] = [None] * len(views)
        shapes = list(dict.fromkeys(v.shape for v in views))
        for shape in shapes:
            idx = [i for i, v in enumerate(views) if v.shape == shape]
            ys = self.unet(torch.cat([views[i] for i in idx])).chunk(len(idx))
            for i, y in zip(idx, ys):
                out[i] = y
        return out

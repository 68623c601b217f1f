"""The plain UNet used by N2V, and its N2V2 variant (blur-pool, no top-level skip).

Works in 2D and 3D on any input size: the input is padded to a multiple of ``2 ** depth`` and
the output cropped back. At prediction (eval mode) the input is first mirrored by
`BORDER_CONTEXT` pixels on every side: the convolutions' zero padding is the image mean in
normalised units, and a bright border pixel next to it came out far worse than the interior
(docs/benchmarks.md, "Image borders"). N2V sees its centre pixel anyway, so a mirror leaks
nothing; training keeps plain patches (mirroring them would cost compute on every step).

``groups=G`` makes G independent networks in one: every convolution is grouped and every
concatenation keeps each group's channels together (`cat_groups`), so output group g depends
only on input group g. With one group per channel this is "one model per channel", each as
wide as the joint model (`features` is per group). With neighbour planes the input holds each
plane's channels in turn; group g gets channel g of every plane (`group_major`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


BORDER_CONTEXT = 8  # mirrored pixels around the input at prediction


def _conv(ndim: int):
    return nn.Conv2d if ndim == 2 else nn.Conv3d


def cat_groups(tensors: list[torch.Tensor], groups: int) -> torch.Tensor:
    """Concatenate on channels group by group: [a_0, b_0, a_1, b_1, ...] for G groups, so a
    grouped convolution afterwards still sees only its own group (plain `torch.cat` for G=1)."""
    if groups == 1:
        return torch.cat(tensors, dim=1)
    return torch.cat([t.unflatten(1, (groups, -1)) for t in tensors], dim=2).flatten(1, 2)


def group_major(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Channels ordered plane by plane (window.py: each plane's G channels in turn) reordered
    group by group, so a grouped convolution's group g gets channel g of every plane."""
    if groups == 1:
        return x
    return x.unflatten(1, (-1, groups)).transpose(1, 2).flatten(1, 2)


def _block(ndim: int, cin: int, cout: int, batch_norm: bool, groups: int = 1) -> nn.Sequential:
    layers = []
    for c in (cin, cout):
        layers.append(_conv(ndim)(c, cout, 3, padding=1, bias=not batch_norm, groups=groups))
        if batch_norm:
            layers.append((nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d)(cout))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class BlurPool(nn.Module):
    """N2V2's anti-aliased downsampling: max over 2x2 at stride 1, then a [1,2,1] blur at stride 2."""

    def __init__(self, ndim: int):
        super().__init__()
        self.ndim = ndim
        k1 = torch.tensor([1.0, 2.0, 1.0])
        kernel = k1[:, None] * k1[None, :] if ndim == 2 else k1[:, None, None] * k1[None, :, None] * k1[None, None, :]
        self.register_buffer("kernel", (kernel / kernel.sum())[None, None], persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = F.max_pool2d if self.ndim == 2 else F.max_pool3d
        conv = F.conv2d if self.ndim == 2 else F.conv3d
        x = pool(F.pad(x, (0, 1) * self.ndim, mode="replicate"), 2, stride=1)
        c = x.shape[1]
        x = F.pad(x, (1, 1) * self.ndim, mode="replicate")
        return conv(x, self.kernel.expand(c, 1, *self.kernel.shape[2:]), stride=2, groups=c)


def check_layout(ndim: int, in_channels: int, out_channels: int, groups: int) -> None:
    """2 or 3 spatial axes, and `groups` independent networks that split the channels evenly."""
    if ndim not in (2, 3):
        raise ValueError(f"networks work on 2 or 3 spatial axes, not {ndim}")
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in_channels={in_channels} and out_channels={out_channels}")


class UNet(nn.Module):
    def __init__(self, ndim: int = 2, in_channels: int = 1, out_channels: int = 1, depth: int = 2,
                 features: int = 32, n2v2: bool = False, batch_norm: bool = True, groups: int = 1):
        super().__init__()
        check_layout(ndim, in_channels, out_channels, groups)
        self.ndim, self.depth, self.n2v2, self.groups = ndim, depth, n2v2, groups
        widths = [groups * features * 2**i for i in range(depth + 1)]  # `features` per group
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(_block(ndim, cin, w, batch_norm, groups))
            cin = w
        self.pool = BlurPool(ndim) if n2v2 else (nn.MaxPool2d(2) if ndim == 2 else nn.MaxPool3d(2))
        self.bottom = _block(ndim, widths[-2], widths[-1], batch_norm, groups)
        self.up = nn.ModuleList()
        for level in reversed(range(depth)):
            skip = 0 if (n2v2 and level == 0) else widths[level]  # N2V2: no skip at the top level
            self.up.append(_block(ndim, widths[level + 1] + skip, widths[level], batch_norm, groups))
        self.head = _conv(ndim)(widths[0], out_channels, 1, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`x`: channels plane by plane, several planes with neighbour planes (window.py)."""
        x = group_major(x, self.groups)
        spatial = x.shape[2:]
        border = 0 if self.training else BORDER_CONTEXT
        multiple = 2**self.depth
        pad = [(border, border + (-(s + 2 * border)) % multiple) for s in spatial]  # (before, after)
        if any(sum(p) for p in pad):
            mode = "reflect" if all(max(p) < s for p, s in zip(pad, spatial)) else "replicate"
            x = F.pad(x, [v for p in reversed(pad) for v in p], mode=mode)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for level, block in zip(reversed(range(self.depth)), self.up):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if not (self.n2v2 and level == 0):
                x = cat_groups([x, skips[level]], self.groups)
            x = block(x)
        x = self.head(x)
        return x[(slice(None), slice(None)) + tuple(slice(border, border + s) for s in spatial)]

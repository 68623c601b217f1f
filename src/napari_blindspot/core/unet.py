"""The plain UNet used by N2V, and its N2V2 variant (blur-pool, no top-level skip).

Works in 2D and 3D on any input size: the input is padded to a multiple of ``2 ** depth`` and
the output cropped back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(ndim: int):
    return nn.Conv2d if ndim == 2 else nn.Conv3d


def _block(ndim: int, cin: int, cout: int, batch_norm: bool) -> nn.Sequential:
    layers = []
    for c in (cin, cout):
        layers.append(_conv(ndim)(c, cout, 3, padding=1, bias=not batch_norm))
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


class UNet(nn.Module):
    def __init__(self, ndim: int = 2, in_channels: int = 1, out_channels: int = 1, depth: int = 2,
                 features: int = 32, n2v2: bool = False, batch_norm: bool = True):
        super().__init__()
        if ndim not in (2, 3):
            raise ValueError(f"UNet supports 2D and 3D, got ndim={ndim}")
        self.ndim, self.depth, self.n2v2 = ndim, depth, n2v2
        widths = [features * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList()
        cin = in_channels
        for w in widths[:-1]:
            self.down.append(_block(ndim, cin, w, batch_norm))
            cin = w
        self.pool = BlurPool(ndim) if n2v2 else (nn.MaxPool2d(2) if ndim == 2 else nn.MaxPool3d(2))
        self.bottom = _block(ndim, widths[-2], widths[-1], batch_norm)
        self.up = nn.ModuleList()
        for level in reversed(range(depth)):
            skip = 0 if (n2v2 and level == 0) else widths[level]  # N2V2: no skip at the top level
            self.up.append(_block(ndim, widths[level + 1] + skip, widths[level], batch_norm))
        self.head = _conv(ndim)(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spatial = x.shape[2:]
        multiple = 2**self.depth
        pad = [(-s) % multiple for s in spatial]
        if any(pad):
            mode = "reflect" if all(p < s for p, s in zip(pad, spatial)) else "replicate"
            x = F.pad(x, [v for p in reversed(pad) for v in (0, p)], mode=mode)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for level, block in zip(reversed(range(self.depth)), self.up):
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            if not (self.n2v2 and level == 0):
                x = torch.cat([x, skips[level]], dim=1)
            x = block(x)
        x = self.head(x)
        return x[(slice(None), slice(None)) + tuple(slice(0, s) for s in spatial)]

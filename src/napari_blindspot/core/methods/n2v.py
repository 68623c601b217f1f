"""N2V and N2V2 (Krull et al. 2019; Hoeck et al. 2022): a UNet trained to predict masked pixels.

Each training batch hides ~`mask_percent` % of its pixels (never held-out ones) behind a
random neighbour's value (N2V) or the median of their window (N2V2); the loss is the MSE on
those pixels only. The network sees every pixel at prediction, so held-out validation hides
the held-out pixels the same way. N2V2 also swaps max-pooling for blur-pooling and drops the
top skip connection (`unet.py`), which removes N2V's checkerboard artefacts.
"""

from __future__ import annotations

import torch

from ..masking import mask_batch, masked_mse, replace_pixels
from ..unet import UNet
from ..window import window_channels
from .base import Method


class N2V(Method):
    name, label = "n2v", "N2V"
    citations = (("Krull, Buchholz, Jug. Noise2Void - Learning Denoising from Single Noisy Images. CVPR 2019",
                  "10.1109/CVPR.2019.00223"),)
    median = False  # how a masked pixel is replaced: a random neighbour (N2V) or the window median (N2V2)

    def build_network(self, spatial_ndim, channels, network, context_planes=0):
        return UNet(spatial_ndim, window_channels(context_planes, channels), channels, n2v2=self.median, **network)

    def blind_spot_input(self, x, generator, mask_percent, held=None, channels=None):
        """Pixels of the target plane are hidden; neighbour planes keep theirs (their noise is their own)."""
        target = x[:, :channels]
        masked, coords = mask_batch(target, mask_percent, generator, median=self.median, exclude=held)
        return torch.cat([masked, x[:, target.shape[1] :]], dim=1), target, coords

    def loss(self, model, out, target, coords, keep):
        return masked_mse(out, target, coords)

    def validation_inputs(self, inputs, held, seed):
        """The output sees its pixel: hide the held-out ones, as in training."""
        coords = torch.nonzero(held[:, 0])
        return replace_pixels(inputs, coords, torch.Generator().manual_seed(seed), median=self.median)


class N2V2(N2V):
    name, label = "n2v2", "N2V2"
    citations = N2V.citations + (
        ("Höck, Buchholz, Jug et al. N2V2 - Fixing Noise2Void Checkerboard Artifacts with Modified "
         "Sampling Strategies and a Tweaked Network Architecture. ECCV Workshops 2022",
         "10.1007/978-3-031-25069-9_33"),)
    median = True

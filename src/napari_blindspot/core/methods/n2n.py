"""N2N (Lehtinen et al. 2018): a plain UNet that maps one noisy recording onto another.

A training batch holds both recordings of each patch on the channel axis; the network maps
either onto the other (the direction chosen per sample), with the MSE on every pixel not held
out (the base loss). The target's noise is independent of the input, so nothing is masked.
Held-out validation maps the first recording onto the second (heldout.py).
"""

from __future__ import annotations

import torch

from .base import Method


class N2N(Method):
    name, label = "n2n", "N2N"
    citations = (("Lehtinen, Munkberg, Hasselgren et al. Noise2Noise: Learning Image Restoration without Clean "
                  "Data. ICML 2018 (arXiv:1803.04189)", "10.48550/arXiv.1803.04189"),)
    trained_on = "two noisy recordings of one field"
    needs_pairs = True

    def blind_spot_input(self, x, generator, mask_percent, held=None, channels=None):
        """Each recording's window in turn is the input; the other's target plane is the target."""
        a, b = x.chunk(2, dim=1)
        swap = (torch.rand(len(x), generator=generator) < 0.5).to(x.device).view(-1, *[1] * (x.dim() - 1))
        return torch.where(swap, b, a), torch.where(swap, a, b)[:, :channels], None

"""What every method says about itself, with the plain UNet's answers as the defaults.

A method object is stateless; training, held-out validation, the model, bioimage.io export,
the command line and the widget ask it instead of branching on the method's name. A method
overrides what differs from "a UNet that maps a noisy input to the clean image".
"""

from __future__ import annotations

import torch
from torch import nn

from ..unet import BORDER_CONTEXT, UNet
from ..window import window_channels


def squared_error(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel (out - target)^2: the MSE methods' training and held-out loss."""
    return (out - target) ** 2


def weighted_mean(values: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """Mean of (N, C, *spatial) `values` over the pixels where `keep` (N, 1, *spatial) is true."""
    if keep is None:
        return values.mean()
    return (values * keep).sum() / (keep.sum() * values.shape[1]).clamp_min(1)


class Method:
    """A denoising method: its network, input, losses, prediction, defaults and docs."""

    name: str = ""  # the registry key, TrainConfig.method and the model file's "method"
    label: str = ""  # how the widget's method list names it
    citations: tuple[tuple[str, str], ...] = ()  # (reference, DOI) for the bioimage.io package
    trained_on = "one noisy image"  # the bioimage.io README's words
    has_uncertainty = False  # predicts each pixel's error std too (calibration.py)
    uses_noise_model = False  # the model carries a noise model (spec "noise", config noise/sigma)
    needs_pairs = False  # trains on a second recording of the same field
    default_views = 8  # test-time views (tta.py) unless tta is off
    network_keys = frozenset({"depth", "features", "batch_norm", "groups"})  # allowed in a model file
    # (spatial dims, GPU) -> (patch, batch); docs/benchmarks.md ("Defaults") has the runs.
    patch_batch = {(2, False): ((64, 64), 16), (2, True): ((64, 64), 64),
                   (3, False): ((16, 32, 32), 8), (3, True): ((32, 64, 64), 16)}
    export_border = BORDER_CONTEXT  # pixels the exported graph mirrors around its input

    # -- the network and its defaults -------------------------------------------------------

    def build_network(self, spatial_ndim: int, channels: int, network: dict, context_planes: int = 0) -> nn.Module:
        """The network for `channels` channels; with `context_planes` neighbour planes on each
        side (window.py) a plain UNet takes them as more input channels."""
        return UNet(spatial_ndim, window_channels(context_planes, channels), channels, **network)

    def default_network(self, network_preset: str | None, gpu: bool) -> dict:
        return {"depth": 2, "features": 32 if gpu else 16, "batch_norm": False}

    def default_lr(self, gpu: bool) -> float:
        return 4e-4 if gpu else 2e-3

    def patch_of_side(self, side: int, ndim: int) -> tuple[int, ...]:
        """The patch for a user's patch size; in 3D half as deep as wide."""
        return (side,) * ndim if ndim == 2 else (max(8, side // 2), side, side)

    def default_depth(self, depth: int, patch: tuple[int, ...]) -> int:
        return depth

    def views_per_step(self, spatial_ndim: int) -> int:
        """How many copies of the batch one training step runs through the network (memory)."""
        return 1

    # -- the noise model --------------------------------------------------------------------

    def noise_config(self, config, norm) -> dict | None:
        """The model file's noise config for a run of `config` on data normalised by `norm`."""
        return None

    def build_noise(self, spec) -> nn.Module | None:
        return None

    # -- training and held-out validation ---------------------------------------------------

    def blind_spot_input(self, x: torch.Tensor, generator: torch.Generator, mask_percent: float,
                         held: torch.Tensor | None = None, channels: int | None = None):
        """(network input, target, masked coordinates or None) for a batch. `channels`: how many
        of a recording's channels are the target plane's (the rest are neighbour planes, whose
        own noise the target never depends on); None: all of them."""
        raise NotImplementedError

    def loss(self, model, out: torch.Tensor, target: torch.Tensor, coords, keep) -> torch.Tensor:
        """The training loss of network output `out`; `keep`: the pixels that may be a target."""
        return weighted_mean(squared_error(out.float(), target.float()), keep)

    def validation_inputs(self, inputs: torch.Tensor, held: torch.Tensor, seed: int) -> torch.Tensor:
        """The network input for held-out validation tiles whose held-out pixels are `held`."""
        return inputs

    def heldout_terms(self, model, out: torch.Tensor, y: torch.Tensor, noise_var: torch.Tensor):
        """Per-pixel (held-out loss, MSE estimate, noise variance, d MSE / d noise variance) for
        float64 output `out`, target `y` and the data's noise variance. Without seeing y_p,
        E[(f_p - y_p)^2] = MSE + var n_p (heldout.py)."""
        loss = squared_error(out, y)
        return loss, loss - noise_var, noise_var, -torch.ones_like(loss)

    def heldout_uncertainty(self, model, out: torch.Tensor, y: torch.Tensor, data_noise) -> torch.Tensor | None:
        """The per-pixel error variance prediction reports as uncertainty, with the data's noise
        level `data_noise` (calibration.py; None: no uncertainty)."""
        return None

    # -- prediction and export --------------------------------------------------------------

    def predict_view(self, model, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(denoised, posterior variance) of one normalised view; without a posterior the
        second is unused."""
        out = model.forward(z)
        return out, out

    def export_forward(self, net: nn.Module, noise: nn.Module | None, z: torch.Tensor) -> torch.Tensor:
        """Normalised noisy -> normalised denoised, as traced for bioimage.io (any input shape)."""
        return net(z)

    def readme_note(self, spec) -> list[str]:
        """Extra lines for the bioimage.io README's "Input and output" section."""
        return []

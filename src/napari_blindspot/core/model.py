"""A trained denoiser: network, normalisation and (HQ-SSL) noise model, ready to predict."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import methods
from .config import validate_image, validate_second
from .data import StackView, validate_axes
from .defaults import prediction_tiles
from .device import choose_device
from .model_io import is_package, read_config, read_weights, unpacked_package, write_model_folder
from .precision import Precision
from .predict import PairedView, predict_tiled
from .tta import averaged, views_for
from .spec import ModelFileError, ModelSpec, spec_from_json, spec_to_json
from .window import window_channels, windowed


def build_network(method: str, spatial_ndim: int, channels: int, network: dict, context_planes: int = 0) -> nn.Module:
    """The method's network for `channels` channels, seeing `context_planes` neighbour planes on
    each side (window.py) as more input channels."""
    window = {"context_planes": context_planes} if context_planes else {}  # a method without neighbours needs none
    return methods.get(method).build_network(spatial_ndim, channels, network, **window)


def build_noise_model(spec: ModelSpec) -> nn.Module | None:
    return methods.get(spec.method).build_noise(spec)


def _state(net: nn.Module, noise: nn.Module | None) -> dict[str, torch.Tensor]:
    modules = {"net": net} if noise is None else {"net": net, "noise": noise}
    return {f"{name}.{k}": v for name, module in modules.items() for k, v in module.state_dict().items()}


class Model:
    """Predicts denoised images in the input's units and shape."""

    def __init__(self, spec: ModelSpec, net: nn.Module, noise: nn.Module | None = None,
                 device: torch.device | str = "cpu"):
        self.spec, self.net, self.noise = spec, net, noise
        self.device = torch.device(device)
        self._precision_setting, self._amp = "float32", True
        self.precision = Precision("float32", self.device.type)

    def set_precision(self, setting: str = "auto", amp: bool = True) -> "Model":
        """The number format of the network's forward passes, for training and prediction
        ("auto", "float32", "bfloat16"; precision.py); chosen again when the model moves."""
        self.precision = Precision.choose(setting, self.device, amp)
        self._precision_setting, self._amp = setting, amp
        return self

    @property
    def method(self) -> str:
        return self.spec.method

    @property
    def algorithm(self) -> methods.Method:
        """The method object (`methods/`): what this model's method does, asked, not branched on."""
        return methods.get(self.spec.method)

    @property
    def memory_format(self) -> torch.memory_format:
        """Channels-last: faster convolutions on the CPU (docs/benchmarks.md, "Defaults")."""
        return torch.channels_last if self.spec.spatial_ndim == 2 else torch.channels_last_3d

    def to(self, device) -> "Model":
        self.device = torch.device(device)
        self.set_precision(self._precision_setting, self._amp)
        self.net.to(self.device, memory_format=self.memory_format)
        if self.noise is not None:
            self.noise.to(self.device)
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """The network's output for a normalised batch, computed in `precision`, returned in float32
        (what the losses, HQ-SSL's head and the statistics read)."""
        with self.precision.autocast():
            out = self.net(z.contiguous(memory_format=self.memory_format))
        return out.float()

    @torch.no_grad()
    def denoise_normalised(self, z: torch.Tensor, with_variance: bool = False, views: int = 1, within=None):
        """Network output for a normalised batch: the denoised batch (and HQ-SSL posterior
        variance), averaged over `views` dihedral views (`tta.py`; `within` hears of each)."""
        self.net.eval()
        mean, var = averaged(self._denoise_view, z, views, within)
        if not self.algorithm.has_uncertainty:
            var = None
        return (mean, var) if with_variance else mean

    def _denoise_view(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(denoised, HQ-SSL posterior variance) of one view; without a posterior the second is unused."""
        return self.algorithm.predict_view(self, z)

    @property
    def window_channels(self) -> int:
        """Input channels of one recording: the target plane's, its neighbour planes', the border code's."""
        return window_channels(self.spec.context_planes, self.spec.channels)

    @property
    def uncertainty_scale(self) -> tuple[float, ...]:
        """Per channel, the factor on the posterior std from the held-out pixels (calibration.py);
        1 for a model saved before it."""
        return self.spec.uncertainty_scale or (1.0,) * self.spec.channels

    def views(self, tta=None, pixels: int | None = None) -> int:
        """Views to average for `tta` (a number, True, False or None: by the input's `pixels`, tta.py)."""
        return views_for(self.algorithm.default_views, tta, pixels)

    def _predict_batch(self, raw: np.ndarray, with_variance: bool, views: int = 1, within=None) -> list[np.ndarray]:
        norm = self.spec.normalisation
        if raw.shape[1] == 2 * self.window_channels:  # a paired view: both recordings, channels side by side
            first, second = np.split(raw, 2, axis=1)
            halves = [None, None] if within is None else [lambda s: within(s / 2), lambda s: within(0.5 + s / 2)]
            results = [self._predict_batch(first, with_variance, views, halves[0]),
                       self._predict_batch(second, with_variance, views, halves[1])]
            return [(a + b) / 2 for a, b in zip(*results)]
        z = torch.from_numpy(norm.apply(raw, channel_axis=1)).to(self.device)
        mean, var = self.denoise_normalised(z, with_variance=True, views=views, within=within)
        results = [norm.undo(mean.float().cpu().numpy(), channel_axis=1)]
        if with_variance:  # the posterior std, calibrated (calibration.py), in input units
            std = np.reshape(np.multiply(norm.std, self.uncertainty_scale), (1, -1) + (1,) * (raw.ndim - 2)).astype(np.float32)
            results.append(np.sqrt(np.maximum(var.float().cpu().numpy(), 0)) * std)
        return results

    def predict(self, image, axes: str | None = None, *, tile: int | tuple[int, ...] | None = None,
                batch_size: int = 4, return_uncertainty: bool = False, out=None, progress=None,
                tta: int | bool | None = None, second=None, planes: tuple[int, int] | None = None):
        """Denoise `image` (numpy, dask or zarr) laid out as `axes` (default: the training axes).

        Returns a float32 numpy array of the image's shape, or writes into `out` (e.g. a zarr
        array of that shape) and returns it. With `return_uncertainty`, returns
        ``(denoised, std)`` where std is HQ-SSL's typical error of each pixel: the error std of the
        posterior mean with the data's noise level, times the model's `uncertainty_scale` (calibration.py). `tta`: the number
        of dihedral views averaged (slower, better; True: the method's views, False: one, None: the
        method's views unless the input is large, `tta.views_for`). `second`, a second recording
        of the same field and shape (N2N), makes the result the mean of both denoised recordings.
        `planes` = (lo, hi), for a model with neighbour planes: predict only those planes along
        its plane axis (the result holds hi - lo of them), reading their neighbours from `image`.
        """
        if return_uncertainty and not self.algorithm.has_uncertainty:
            raise ValueError("uncertainty maps come from HQ-SSL's posterior; this model is "
                             f"{self.spec.method}")
        validate_image(image)  # complex, bool, object or empty arrays: a clear error, not torch's
        view, tile, margin = self.tiling(image, axes, tile, planes)
        if second is not None:
            view = PairedView(view, self.tiling(validate_second(second, image), axes, tile, planes)[0])
        n_out = 2 if return_uncertainty else 1
        if out is None:
            shape = view.sample_shape + (view.channels,) + view.spatial_shape
            targets = [np.empty(shape, np.float32) for _ in range(n_out)]
        else:
            targets = [CanonicalWriter(o, view) for o in (out if isinstance(out, (tuple, list)) else (out,))]
        views = self.views(tta, view.n_samples * int(np.prod(view.spatial_shape)))
        predict_tiled(view, self.batch_predictor(return_uncertainty, views), targets, tile, margin, batch_size,
                      progress)
        if out is not None:
            return out
        results = [view.to_user_layout(t) for t in targets]
        return tuple(results) if return_uncertainty else results[0]

    def batch_predictor(self, with_variance: bool, tta=None):
        """raw ``(B, C, *tile)`` -> [denoised] or [denoised, uncertainty std], in input units;
        `tta` as in `views` (for whole inputs, resolve it there first: a tile is no input's size)."""
        views = self.views(tta)
        return lambda raw, within=None: self._predict_batch(raw, with_variance, views, within)

    def tiling(self, image, axes: str | None, tile=None, planes: tuple[int, int] | None = None):
        """The image's view (with its neighbour planes, window.py), and tile and margin sizes for prediction."""
        axes = validate_axes(axes or self.spec.axes, image.shape)
        view = StackView.of(image, axes, three_d=self.spec.spatial_ndim == 3)
        if view.channels != self.spec.channels:
            raise ValueError(f"the model was trained on {self.spec.channels} channel(s), the image "
                             f"has {view.channels} (axes '{axes}', shape {tuple(image.shape)})")
        k, along = self.spec.context_planes, self.spec.context_axis
        if k and along not in axes:
            raise ValueError(f"the model sees {k} neighbour planes along {along}, the image has no {along} axis "
                             f"(axes '{axes}'): give a stack with {along}, or a model trained without neighbour planes")
        view = windowed(view, along, k, self.spec.normalisation, planes)
        size, margin = prediction_tiles(self.spec.spatial_ndim)
        if tile is not None:
            size = (tile,) * self.spec.spatial_ndim if isinstance(tile, int) else tuple(tile)
            if min(size) < 8:
                raise ValueError(f"tile {tile} is too small: use at least 8 pixels (256 is typical)")
            margin = tuple(min(m, max(0, (t - 1) // 4)) for m, t in zip(margin, size))
        return view, size, margin

    def tensors(self) -> dict[str, torch.Tensor]:
        """The weights as CPU tensors, network under "net.", noise model under "noise."."""
        return {k: v.detach().cpu().contiguous() for k, v in _state(self.net, self.noise).items()}

    def save(self, path, overwrite: bool = False):
        """Write the model folder (config.json + weights.safetensors); replacing a model
        already there needs `overwrite`."""
        return write_model_folder(path, spec_to_json(self.spec), self.tensors(), overwrite)


def load_model(path, device: str = "auto", precision: str = "auto") -> Model:
    """Load a model folder written by `Model.save`, or the .zip `bmz.export_model` wrote (its
    attached folder files): JSON + safetensors only, checked before use. `precision`: the
    format it predicts in (precision.py)."""
    if is_package(path):
        with unpacked_package(path, weights_bytes=_weights_bytes) as folder:
            return load_model(folder, device, precision)
    spec = spec_from_json(read_config(path))
    noise = build_noise_model(spec)  # a few numbers per channel
    with torch.device("meta"):  # the network's shapes, without allocating them
        meta_net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network, spec.context_planes)
    tensors = read_weights(path, {k: tuple(v.shape) for k, v in _state(meta_net, noise).items()})
    if not all(bool(torch.isfinite(t).all()) for t in tensors.values() if t.is_floating_point()):
        raise ModelFileError(f"{path}: the weights hold NaN or infinite values; the model cannot be used")
    net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network, spec.context_planes)
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
    if noise is not None:
        noise.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("noise.")})
    return Model(spec, net, noise).to(choose_device(device)).set_precision(precision)


def _weights_bytes(config) -> int:
    """The most bytes a safetensors file of `config`'s network can take (its header aside: 1 MiB)."""
    spec = spec_from_json(config)
    with torch.device("meta"):
        net = build_network(spec.method, spec.spatial_ndim, spec.channels, spec.network)
    noise = build_noise_model(spec)
    return sum(t.numel() * 8 for t in _state(net, noise).values()) + (1 << 20)


class CanonicalWriter:
    """Lets `predict_tiled` write canonical-layout blocks into an output in the user's layout."""

    def __init__(self, target, view: StackView):
        self.target, self.view = target, view

    def __setitem__(self, index, value):
        n = self.view.n_sample_axes
        if not self.view.has_channel_axis:
            index = index[:n] + index[n + 1 :]
            value = value[0]
        order = self.view.order  # canonical axis i is user axis order[i]
        user_index = [slice(None)] * len(order)
        for canonical_axis, user_axis in enumerate(order):
            user_index[user_axis] = index[canonical_axis]
        # integer indices drop axes from `value`; the rest go back into the user's order.
        kept = [u for u in order if not isinstance(user_index[u], int)]
        self.target[tuple(user_index)] = np.transpose(value, np.argsort(kept))

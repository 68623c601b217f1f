"""Export a model as a bioimage.io model package (the BioImage Model Zoo's format, spec 0.5).

The package runs without napari-blindspot: TorchScript weights of the network (HQ-SSL: network
+ noise model + posterior mean, so the noisy image goes in and the denoised one comes out), the
normalisation as the spec's `scale_linear` pre- and postprocessing (x / std - mean / std, and
back: exact, where `fixed_zero_mean_unit_variance` adds 1e-6 to the std), a test input and our
own prediction of it, a cover, a README and the methods' citations. Our config.json and
weights.safetensors ride along as attachments, so `load_model("package.zip")` reads it back.

Needs the `bmz` extra (`pip install napari-blindspot[bmz]`); nothing here runs at import.
"""

from __future__ import annotations

import copy
import math
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .docs import cover, readme
from ..core.model import Model, load_model
from ..core.model_io import CONFIG, WEIGHTS

INSTALL_HINT = "install napari-blindspot[bmz] (pip install 'napari-blindspot[bmz]')"
TEST_SIDE = {2: 64, 3: 24}  # test tensor side: small, so `bioimageio test` stays quick
DEFAULT_NAME = "napari-blindspot {method} denoiser"


def require_bioimageio():
    """The bioimageio.spec module, or an ImportError that says how to get it."""
    try:
        import bioimageio.core  # noqa: F401  (the test run needs it too)
        import bioimageio.spec
    except ImportError as err:
        raise ImportError(f"bioimage.io export needs bioimageio.spec and bioimageio.core: {INSTALL_HINT}") from err
    return bioimageio.spec


class Denoiser(nn.Module):
    """Normalised noisy batch -> normalised denoised batch, in the package's axes (batch,
    [channel], [z], y, x): the graph that is traced to TorchScript."""

    def __init__(self, model: Model, channel_axis: bool):
        super().__init__()
        self.net, self.noise = model.net, model.noise
        self.method, self.channel_axis = model.algorithm, channel_axis

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z if self.channel_axis else z.unsqueeze(1)
        out = self.method.export_forward(self.net, self.noise, z)  # HQ-SSL: prior + posterior mean
        return out if self.channel_axis else out.squeeze(1)


def _package_axes(model: Model) -> tuple[str, ...]:
    """Our layout in the package: batch for samples (S, T, and Z when trained slice by slice),
    channel only when the model has a C axis."""
    spatial = ("z", "y", "x")[3 - model.spec.spatial_ndim:]
    return ("batch",) + (("channel",) if "C" in model.spec.axes else ()) + spatial


def _min_side(model: Model) -> int:
    """The smallest image side the traced graph handles: the method's mirrored border
    (`Method.export_border`) plus the padding to a multiple of 2**depth, which needs that many
    pixels to mirror."""
    m = 2 ** model.spec.network.get("depth", 2)
    return max(16, model.algorithm.export_border + m)


def _test_input(model: Model, sample) -> np.ndarray:
    """A (1, C, *spatial) float32 crop: the centre of `sample`'s first frame (in the model's
    axes), or, without one, a seeded synthetic image at the model's mean and std."""
    from ..core.data import StackView

    ndim, channels = model.spec.spatial_ndim, model.spec.channels
    side = max(TEST_SIDE[ndim], _min_side(model))
    if sample is not None:
        view = StackView.of(sample, model.spec.axes, three_d=ndim == 3)
        if view.channels != channels or min(view.spatial_shape) < _min_side(model):
            raise ValueError(f"the sample of shape {tuple(sample.shape)} does not fit the model (axes "
                             f"'{model.spec.axes}', {channels} channel(s), sides of at least {_min_side(model)})")
        region = tuple(slice((s - min(s, side)) // 2, (s - min(s, side)) // 2 + min(s, side))
                       for s in view.spatial_shape)
        crop = view.read(0, region)
        if not np.isfinite(crop).all():
            raise ValueError("the sample holds NaN or infinite values where its centre becomes the test input: "
                             "give a sample without them")
        return crop[None]
    rng = np.random.default_rng(0)
    grid = np.meshgrid(*[np.linspace(0, 3 * math.pi, side)] * ndim, indexing="ij")
    pattern = np.prod([np.sin(g + k) for k, g in enumerate(grid)], axis=0)
    norm = model.spec.normalisation
    z = 0.8 * pattern[None] + 0.6 * rng.standard_normal((channels,) + (side,) * ndim)
    return norm.undo(z.astype(np.float32), channel_axis=0)[None]


def export_model(model_or_folder, out_zip, *, name: str | None = None, authors=("napari-blindspot user",),
                 license: str = "CC-BY-4.0", description: str | None = None, sample=None,
                 overwrite: bool = False, check: bool = True) -> Path:
    """Write `model_or_folder` (a Model, a model folder or our exported .zip) as the bioimage.io
    model package `out_zip`, and return its path.

    `authors`: a name or a list of names; `license`: an SPDX identifier. `sample`: an image in
    the model's axes whose centre becomes the test input and the cover (default: a synthetic
    image at the training data's mean and std). With `check`, the written package must pass
    bioimageio.core's test (offline), else nothing is left at `out_zip`.
    """
    require_bioimageio()
    from bioimageio.spec import save_bioimageio_package
    from pydantic import ValidationError

    out_zip = Path(out_zip)
    if out_zip.suffix.lower() != ".zip":
        raise ValueError(f"{out_zip}: a bioimage.io package is a .zip file; name it e.g. model.zip")
    _check_zip_target(out_zip, overwrite)
    model = model_or_folder if isinstance(model_or_folder, Model) else load_model(model_or_folder, device="cpu")
    if model.spec.context_planes:  # the package would need the window of planes as its input (docs/methods.md)
        raise ValueError(f"this model sees {model.spec.context_planes} neighbour planes on each side along "
                         f"{model.spec.context_axis}; bioimage.io export takes models of planes alone for now: "
                         "train with context_planes=0 (--context-planes 0) to export")
    model = Model(model.spec, copy.deepcopy(model.net), copy.deepcopy(model.noise)).to("cpu")  # caller's stays put
    name = name or DEFAULT_NAME.format(method=model.method.upper())
    authors = [authors] if isinstance(authors, str) else list(authors)
    with tempfile.TemporaryDirectory() as tmp:
        files = _write_files(model, sample, name, Path(tmp))
        try:
            descr = _describe(model, files, name=name, authors=authors, license=license,
                              description=description)
        except ValidationError as err:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'model'}: {e['msg']}" for e in err.errors())
            raise ValueError(f"the package description is not valid: {problems}") from None
        fd, partial = tempfile.mkstemp(prefix=f".{out_zip.name}.", suffix=".zip", dir=out_zip.parent)
        os.close(fd)  # a name of our own: never a user's file, never another export's
        partial = Path(partial)
        try:
            save_bioimageio_package(descr, output_path=partial)
            if check:
                _check_package(partial)
            _check_zip_target(out_zip, overwrite)  # nothing else appeared there meanwhile
            partial.replace(out_zip)
        finally:
            partial.unlink(missing_ok=True)
    return out_zip


def _check_zip_target(out_zip: Path, overwrite: bool) -> None:
    """An existing OUT.zip is replaced only when it is a package we exported, and only with `overwrite`."""
    from ..core.model_io import is_our_package

    parent = out_zip.parent if str(out_zip.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"cannot write {out_zip}: folder {parent} does not exist")
    if not out_zip.exists() and not out_zip.is_symlink():
        return
    if not is_our_package(out_zip):
        raise FileExistsError(f"{out_zip} exists and is not a package exported by napari-blindspot: it is not ours "
                              "to replace; choose another name")
    if not overwrite:
        raise FileExistsError(f"{out_zip} exists: choose another name, or overwrite it "
                              "(overwrite=True, --overwrite on the command line)")


def _check_package(path: Path) -> None:
    from bioimageio.core import test_model

    summary = test_model(path)
    if summary.status != "passed":
        raise RuntimeError(f"the exported package fails its own test (please report this): {summary.format()}")


def _write_files(model: Model, sample, name: str, folder: Path) -> dict[str, Path]:
    """Everything the package holds, written into `folder`: TorchScript weights, test and sample
    tensors (the test output is our own prediction), cover, README and our model folder."""
    import tifffile

    channel_axis = "channel" in _package_axes(model)
    raw = _test_input(model, sample)  # (1, C, *spatial)
    our_axes = ("C" if channel_axis else "") + "ZYX"[3 - model.spec.spatial_ndim:]
    expected = model.predict(raw[0] if channel_axis else raw[0, 0], our_axes, tta=False)[None]  # the package has one view
    expected = expected if channel_axis else expected[:, None]

    def package(a):  # our (1, C, *spatial) -> the package's axes
        return a if channel_axis else a[:, 0]

    names = dict(test_input="test_input.npy", test_output="test_output.npy", sample_input="sample_input.tif",
                 sample_output="sample_output.tif", cover="cover.png", readme="README.md",
                 weights="denoiser_torchscript.pt")
    files = {key: folder / file for key, file in names.items()}
    files.update(config=folder / "ours" / CONFIG, our_weights=folder / "ours" / WEIGHTS)
    np.save(files["test_input"], package(raw))
    np.save(files["test_output"], package(expected))
    tifffile.imwrite(files["sample_input"], package(raw)[0])
    tifffile.imwrite(files["sample_output"], package(expected)[0])
    cover(raw, expected, files["cover"])
    files["readme"].write_text(readme(model, name, _package_axes(model), _min_side(model)))
    model.save(folder / "ours")
    z = torch.from_numpy(model.spec.normalisation.apply(raw, channel_axis=1))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings on shape arithmetic; the package test checks the trace
        traced = torch.jit.trace(Denoiser(model, channel_axis).eval(), package(z), check_trace=False)
    traced.save(str(files["weights"]))
    return files


def _describe(model: Model, files: dict[str, Path], *, name: str, authors: list[str], license: str,
              description: str | None):
    """The bioimage.io model description (spec 0.5) of the written `files`."""
    from bioimageio.spec.model import v0_5 as bmz

    axes = _package_axes(model)
    along = "channel" in axes
    norm = model.spec.normalisation
    mean, std = np.asarray(norm.mean), np.asarray(norm.std)
    method = model.method.upper()
    return bmz.ModelDescr(
        name=name,
        description=description or f"Self-supervised {method} denoiser trained with napari-blindspot "
                                   f"on {model.algorithm.trained_on}.",
        authors=[bmz.Author(name=a) for a in authors],
        license=license,
        cite=[bmz.CiteEntry(text=text, doi=bmz.Doi(doi)) for text, doi in model.algorithm.citations],
        documentation=bmz.FileDescr(source=files["readme"]),
        covers=[bmz.FileDescr(source=files["cover"])],
        attachments=[bmz.FileDescr(source=files["config"]), bmz.FileDescr(source=files["our_weights"])],
        tags=["denoising", "self-supervised", model.method, "napari-blindspot", f"{model.spec.spatial_ndim}d",
              "fluorescence-light-microscopy"],
        inputs=[bmz.InputTensorDescr(
            id=bmz.TensorId("raw"), description="noisy image", axes=_input_axes(bmz, model, axes),
            test_tensor=bmz.FileDescr(source=files["test_input"]),
            sample_tensor=bmz.FileDescr(source=files["sample_input"]),
            preprocessing=[_scale_linear(bmz, 1 / std, -mean / std, along)],  # z = (x - mean) / std
        )],
        outputs=[bmz.OutputTensorDescr(
            id=bmz.TensorId("denoised"), description="denoised image, in the input's units",
            axes=_output_axes(bmz, model, axes),
            test_tensor=bmz.FileDescr(source=files["test_output"]),
            sample_tensor=bmz.FileDescr(source=files["sample_output"]),
            postprocessing=[_scale_linear(bmz, std, mean, along)],  # x = z std + mean
        )],
        weights=bmz.WeightsDescr(torchscript=bmz.TorchscriptWeightsDescr(
            source=files["weights"], pytorch_version=bmz.Version(torch.__version__.split("+")[0]))),
        # float32 rounding differs between our tiling and a whole-image run: allow 1e-3 of the data std
        config=bmz.Config(bioimageio=bmz.BioimageioConfig(reproducibility_tolerance=[
            bmz.ReproducibilityTolerance(absolute_tolerance=1e-3 * float(std.min()), relative_tolerance=1e-3)])),
    )


def _scale_linear(bmz, gain, offset, channel_axis: bool):
    if channel_axis:
        kwargs = bmz.ScaleLinearAlongAxisKwargs(axis=bmz.AxisId("channel"), gain=list(map(float, gain)),
                                                offset=list(map(float, offset)))
    else:
        kwargs = bmz.ScaleLinearKwargs(gain=float(gain[0]), offset=float(offset[0]))
    return bmz.ScaleLinearDescr(kwargs=kwargs)


def _channel_names(bmz, model: Model):
    return [bmz.Identifier(f"channel{c}") for c in range(model.spec.channels)]


def _axes(bmz, model: Model, axes: tuple[str, ...], space) -> list:
    """Spec axes for `axes`; `space(name)` makes a spatial one (input: sizes, output: like the input)."""
    out = []
    for a in axes:
        if a == "batch":
            out.append(bmz.BatchAxis())
        elif a == "channel":
            out.append(bmz.ChannelAxis(channel_names=_channel_names(bmz, model)))
        else:
            out.append(space(a))
    return out


def _input_axes(bmz, model: Model, axes: tuple[str, ...]):
    size = bmz.ParameterizedSize(min=_min_side(model), step=1)
    return _axes(bmz, model, axes, lambda a: bmz.SpaceInputAxis(id=bmz.AxisId(a), size=size))


def _output_axes(bmz, model: Model, axes: tuple[str, ...]):
    return _axes(bmz, model, axes, lambda a: bmz.SpaceOutputAxis(id=bmz.AxisId(a), size=bmz.SizeReference(
        tensor_id=bmz.TensorId("raw"), axis_id=bmz.AxisId(a))))

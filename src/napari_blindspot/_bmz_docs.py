"""The human-readable parts of a bioimage.io package: cover image and README (each method's
citations and README words are on its object, `core/methods/`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

def cover(noisy: np.ndarray, denoised: np.ndarray, path: Path) -> Path:
    """noisy | denoised side by side (first channel, middle plane in 3D), one shared grey scale."""
    import matplotlib.image

    def plane(a):
        a = a[0, 0]
        return a[a.shape[0] // 2] if a.ndim == 3 else a

    left, right = plane(noisy), plane(denoised)
    lo, hi = np.percentile(right, [0.5, 99.5])
    both = np.clip((np.concatenate([left, right], axis=1) - lo) / max(hi - lo, 1e-12), 0, 1)
    zoom = max(1, 256 // both.shape[0])
    matplotlib.image.imsave(path, np.kron(both, np.ones((zoom, zoom))), cmap="gray", vmin=0, vmax=1)
    return path


def readme(model, name: str, axes: tuple[str, ...], min_side: int) -> str:
    spec = model.spec
    lines = [
        f"# {name}", "",
        f"A self-supervised {spec.method.upper()} denoiser trained with napari-blindspot on "
        f"{model.algorithm.trained_on} (axes `{spec.axes}`, {spec.channels} channel(s), {spec.spatial_ndim}D network).", "",
        "## Input and output", "",
        f"Axes: `{', '.join(axes)}`; any size of at least {min_side} pixels per "
        "side. The output has the input's shape and units (raw intensities, not clipped).",
        "Preprocessing scales each channel to zero mean and unit variance with the training image's "
        "mean and std; postprocessing undoes it.", "",
    ]
    lines += model.algorithm.readme_note(spec)
    lines += [
        "## Training", "",
        f"History: `{spec.history}`. The network was trained on the image it denoises; applied to other "
        "images it works as well as their noise and content resemble the training image's.", "",
        "## Validation", "",
        "The test tensors are a crop of the training image (or, without one, a synthetic image at its "
        "mean and std) and napari-blindspot's own prediction of it; the TorchScript weights reproduce it "
        "(`bioimageio test` checks this)."
        + (f" Estimated PSNR gain on the training image, from held-out pixels: "
           f"{spec.history['estimated_psnr_gain_db']:.2f} dB." if spec.history.get("estimated_psnr_gain_db")
           is not None else ""), "",
        "## Reloading in napari-blindspot", "",
        "`napari_blindspot.load_model('this.zip')` reads the attached config.json and "
        "weights.safetensors (no pickles, no code from the file).", "",
    ]
    return "\n".join(lines)

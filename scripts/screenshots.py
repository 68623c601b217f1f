"""Screenshots of the dock widget before, during (live preview) and after training, on the 3D
sample, and on a two-channel image.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots.py

Writes docs/img/widget-before.png, widget-during.png, widget-after.png, widget-3d.png and
widget-channels.png (the whole napari window, as a user sees it) for docs/getting-started.md
and the README.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "img"


def wait(app, seconds: float = 0.0, until=None, timeout: float = 300.0) -> None:
    """Run the Qt event loop for `seconds`, or until `until()` is true."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        app.processEvents()
        if until is None and time.monotonic() - start >= seconds:
            return
        if until is not None and until():
            return
        time.sleep(0.02)
    raise TimeoutError("the widget did not get there in time")


def arguments(seconds: float, description: str = __doc__):
    """--seconds (the training budget) and --out, with the out folder made."""
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=seconds, help="training time budget")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def open_dock(sample: str, seconds: float):
    """(viewer, widget, app): a window of the size the docs show, the sample open, the dock docked."""
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_blindspot._widget._menu import open_dock as open_denoising_dock

    viewer = napari.Viewer(title="napari-blindspot")
    viewer.window.resize(1500, 950)
    viewer.open_sample("napari-blindspot", sample)
    widget = open_denoising_dock(viewer)  # as Layers > Filter and the Plugins menu name it
    widget.form.duration.value = int(seconds)
    return viewer, widget, QApplication.instance()


def main() -> None:
    args = arguments(60.0)
    viewer, widget, app = open_dock("fluorescence_2d", args.seconds)
    wait(app, 1.0)

    def shot(name: str) -> None:
        viewer.screenshot(str(args.out / f"widget-{name}.png"), canvas_only=False)
        print(f"wrote {args.out / f'widget-{name}.png'}")

    shot("before")
    widget.controls.train_button.click()
    preview = f"{widget.form.image.value.name} [preview]"
    updates = []
    wait(app, until=lambda: widget.preview_shown)
    viewer.layers[preview].events.data.connect(lambda e: updates.append(time.monotonic()))
    wait(app, until=lambda: len(updates) >= 3 or not widget.busy)  # a preview that has sharpened
    wait(app, 0.6)  # let the loss plot redraw
    shot("during")
    wait(app, until=lambda: not widget.busy)
    wait(app, 1.0)
    shot("after")

    def fresh(sample=None, image=None, **kwargs) -> None:
        widget.model_saved = True  # a script: nothing to ask about
        viewer.layers.clear()
        if sample:
            viewer.open_sample("napari-blindspot", sample)
        else:
            viewer.add_image(image, **kwargs)
        viewer.reset_view()
        wait(app, 1.0)

    fresh("fluorescence_3d")
    widget.form.duration.value = int(args.seconds / 3)
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy)
    viewer.dims.set_current_step(0, 24)
    wait(app, 1.0)
    shot("3d")

    import numpy as np

    from napari_blindspot.simulate import simulate_fluorescence

    two = np.stack([simulate_fluorescence((384, 384), seed=s)[0] for s in (4, 5)])  # two stains, two fields
    fresh(image=two, name="two stains", colormap="gray")
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy)
    viewer.dims.set_current_step(0, 1)
    wait(app, 1.0)
    shot("channels")
    viewer.close()


if __name__ == "__main__":
    main()

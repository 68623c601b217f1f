"""What napari itself costs to add a hidden image layer (the HQ-SSL uncertainty layer).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/layer_add.py [--side N]

Opens a viewer with one image, then adds three hidden NxN float32 layers (512 unless `--side`
says otherwise: 1 shows what the data's size has to do with it), as the widget adds them
(without napari's selection events, `_layers.not_selected`), printing for each
the milliseconds `viewer.add_image` blocks the main thread and the next event-loop turn, and
napari's own calls that take the time in the last add (cProfile, by cumulative time).
"""

import argparse
import cProfile
import pstats
import time

import napari
import numpy as np
from qtpy.QtWidgets import QApplication

from napari_blindspot._widget._layers import not_selected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=512, help="the added layers' side in pixels")
    side = parser.parse_args().side
    viewer = napari.Viewer()
    app = QApplication.instance()
    viewer.add_image(np.random.default_rng(0).random((512, 512), np.float32), name="source")
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)
    data = np.random.default_rng(1).random((side, side), np.float32)
    profile = cProfile.Profile()
    for i in range(3):
        start = time.perf_counter()
        if i == 2:
            profile.enable()
        with not_selected(viewer.layers):
            viewer.add_image(data, name=f"uncertainty {i}", visible=False, colormap="magma", contrast_limits=(0, 1))
        profile.disable()
        added = time.perf_counter()
        app.processEvents()
        print(f"add_image {1000 * (added - start):.0f} ms, next turn {1000 * (time.perf_counter() - added):.0f} ms")
    pstats.Stats(profile).sort_stats("cumulative").print_stats(15)
    viewer.close()


if __name__ == "__main__":
    main()

"""Screenshot of the simulated fluorescence sample in napari, noisy beside its clean layer.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/sample_screenshot.py

Writes docs/img/sample-fluorescence.png (the whole napari window) for docs/getting-started.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "sample-fluorescence.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    import napari
    from qtpy.QtWidgets import QApplication

    viewer = napari.Viewer(title="napari-blindspot sample")
    viewer.window.resize(1500, 950)
    viewer.open_sample("napari-blindspot", "fluorescence_2d")
    viewer.layers["fluorescence [clean]"].visible = True  # shown here to compare; hidden on opening
    viewer.canvas.grid.enabled = True
    viewer.reset_view()
    for _ in range(20):
        QApplication.instance().processEvents()
    viewer.screenshot(str(args.out), canvas_only=False)
    print(f"wrote {args.out}")
    viewer.close()


if __name__ == "__main__":
    main()

"""`python -m napari_blindspot.demo` (`make demo`): napari with the noisy 2D sample and the
denoising widget docked, ready to press Train."""

from __future__ import annotations


def main() -> None:
    import napari

    viewer = napari.Viewer(title="napari-blindspot demo")
    viewer.open_sample("napari-blindspot", "noisy_cells_2d")
    viewer.window.add_plugin_dock_widget("napari-blindspot", "Self-supervised denoising")
    napari.run()


if __name__ == "__main__":
    main()

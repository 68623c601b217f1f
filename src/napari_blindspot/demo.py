"""`python -m napari_blindspot.demo` (`make demo`): napari with the simulated 2D sample (its
clean version hidden underneath) and the denoising widget docked, ready to press Train."""

from __future__ import annotations


def main() -> None:
    import napari

    viewer = napari.Viewer(title="napari-blindspot demo")
    viewer.open_sample("napari-blindspot", "fluorescence_2d")
    viewer.window.add_plugin_dock_widget("napari-blindspot", "Self-supervised denoising")
    napari.run()


if __name__ == "__main__":
    main()

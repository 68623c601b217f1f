"""`python -m napari_blindspot.demo` (`make demo`): napari with the simulated 2D sample (its
clean version hidden underneath) and the denoising widget docked, ready to press Train."""

from __future__ import annotations


def main() -> None:
    import napari

    from ._widget._menu import open_dock

    viewer = napari.Viewer(title="napari-blindspot demo")
    viewer.open_sample("napari-blindspot", "fluorescence_2d")
    open_dock(viewer)  # under the name the Plugins menu gives it, so the menu finds it rather than adding one
    napari.run()


if __name__ == "__main__":
    main()

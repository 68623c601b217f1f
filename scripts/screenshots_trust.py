"""Screenshots of what issue 24 changed for a user: Layers > Filter > "Denoise with current
model", a run far too short to help (one step: its estimate says it is worse than the input,
and the layer is named and warned as not to be trusted; a 3D network forced on the CPU gets
there with any budget a user would wait for), and a two-channel result as one layer per channel.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_trust.py

Writes docs/img/menu-filter.png, widget-worse.png and widget-channels.png.
"""

from __future__ import annotations

from screenshots import arguments, open_dock, wait


def grab_screen(path) -> None:
    """The whole screen, open menus included (a window grab leaves popups out)."""
    from qtpy.QtWidgets import QApplication

    QApplication.primaryScreen().grabWindow(0).save(str(path))
    print(f"wrote {path}")


def menu_shot(viewer, app, path) -> None:
    """Layers > Filter open, the image layer selected."""
    window = viewer.window._qt_window
    bar = window.menuBar()
    [layers] = [a for a in bar.actions() if a.text().replace("&", "") == "Layers"]
    layers.menu().popup(bar.mapToGlobal(bar.actionGeometry(layers).bottomLeft()))
    wait(app, 0.5)
    menu = layers.menu()
    [filter_] = [a for a in menu.actions() if a.text().replace("&", "") == "Filter"]
    menu.setActiveAction(filter_)
    filter_.menu().popup(menu.mapToGlobal(menu.actionGeometry(filter_).topRight()))
    wait(app, 0.8)
    grab_screen(path)
    filter_.menu().close()
    menu.close()
    wait(app, 0.3)


def main() -> None:
    args = arguments(2.0, __doc__)
    viewer, widget, app = open_dock("fluorescence_2d", args.seconds)
    wait(app, 1.0)
    menu_shot(viewer, app, args.out / "menu-filter.png")

    widget.form.unit.value = "steps"
    widget.form.duration.value = 1  # one step: a network that is still worse than its input
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy, timeout=600)
    wait(app, 1.0)
    viewer.screenshot(str(args.out / "widget-worse.png"), canvas_only=False)
    print(f"wrote {args.out / 'widget-worse.png'}: {[layer.name for layer in viewer.layers]}")
    print("status:", widget.controls.progress_bar.text(), "|", widget.controls.status_label.text())

    import numpy as np

    from napari_blindspot.simulate import simulate_fluorescence

    widget.model_saved = True  # a script: nothing to ask about
    viewer.layers.clear()
    two = np.stack([simulate_fluorescence((384, 384), seed=s)[0] for s in (4, 5)])  # two stains, two fields
    two[1] = two[1] * 4 + 500  # in other units: one contrast for both would show one of them badly
    viewer.add_image(two, name="two stains", colormap="gray")
    viewer.reset_view()
    widget.form.unit.value = "seconds"
    widget.form.duration.value = 20
    wait(app, 0.5)
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy, timeout=600)
    viewer.layers["two stains"].visible = False
    wait(app, 1.0)
    viewer.screenshot(str(args.out / "widget-channels.png"), canvas_only=False)
    print(f"wrote {args.out / 'widget-channels.png'}: {[layer.name for layer in viewer.layers]}")
    widget.model_saved = True
    viewer.close()


if __name__ == "__main__":
    main()

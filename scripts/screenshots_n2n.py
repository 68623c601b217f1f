"""Screenshots of the N2N settings (after a short run on the two-recording sample) and of the
"Export (bioimage.io)" questions.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_n2n.py

Writes docs/img/widget-n2n.png (the napari window) and docs/img/export-bioimage-io.png (the
window, with the first question over it) for docs/getting-started.md and docs/bioimage-io.md.
"""

from __future__ import annotations

from pathlib import Path

from screenshots import arguments, open_dock, wait


def main() -> None:
    args = arguments(30.0, __doc__)
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication

    from napari_blindspot._widget import _models

    viewer, widget, app = open_dock("fluorescence_pair", args.seconds)
    first, second = viewer.layers["fluorescence pair (1)"], viewer.layers["fluorescence pair (2)"]
    widget.form.image.value, widget.form.method.value = first, "n2n"
    widget.form.second.value = second
    wait(app, 1.0)
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy)
    wait(app, 1.0)
    viewer.screenshot(str(args.out / "widget-n2n.png"), canvas_only=False)
    print(f"wrote {args.out / 'widget-n2n.png'}")

    def shoot_question() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(100, shoot_question)
            return
        wait(app, 0.5)
        frame = viewer.window._qt_window.frameGeometry()  # the window, with the question over it
        screen = QApplication.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height())
        screen.save(str(args.out / "export-bioimage-io.png"))
        print(f"wrote {args.out / 'export-bioimage-io.png'}")
        dialog.reject()  # no export: the picture is of the question

    _models.ask_export_path = lambda parent, suggested: str(Path("/tmp") / "fluorescence-n2n.zip")
    QTimer.singleShot(100, shoot_question)
    widget.controls.export_button.click()
    wait(app, 0.5)
    viewer.close()


if __name__ == "__main__":
    main()

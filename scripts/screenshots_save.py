"""Screenshot of the dock after a run, with its Save result… button and the status that says
where the result's history goes (issue 24: napari's default File > Save drops it).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/screenshots_save.py

Writes docs/img/widget-save-result.png.
"""

from __future__ import annotations

from screenshots import arguments, open_dock, wait


def main() -> None:
    args = arguments(15.0, __doc__)
    viewer, widget, app = open_dock("fluorescence_2d", args.seconds)
    wait(app, 1.0)
    widget.controls.train_button.click()
    wait(app, until=lambda: not widget.busy, timeout=600)
    wait(app, 1.0)
    widget.controls.save_result_button.setFocus()  # where a user goes next
    wait(app, 0.3)
    path = args.out / "widget-save-result.png"
    viewer.screenshot(str(path), canvas_only=False)
    print(f"wrote {path}: {[layer.name for layer in viewer.layers]}")
    print("status:", widget.controls.progress_bar.text(), "|", widget.controls.status_label.text())
    widget.model_saved = True  # a script: nothing to ask about
    viewer.close()


if __name__ == "__main__":
    main()

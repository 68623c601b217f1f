"""How the dock feels with a 3D network on the 3D sample (48x192x192, Z step 2): time to the first
preview, how many previews come, the longest stall of napari's event loop while training
(with a move through Z, a switch to the 3D view and back), and the whole-volume prediction's
progress (its status lines, their ETA).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python benchmarks/widget_latency_3d.py

First the same switches to the 3D view and back in a viewer without our dock and without
training: what napari's own 3D view costs (building the volume visual, uploading its texture,
drawing it: in software where OpenGL is Mesa's llvmpipe, as under Xvfb), and the redraw after new
data in a small layer in the 3D view, which is what each preview does there.
A QTimer at 10 ms records the gaps between its ticks (target: none of 100 ms or more).
Records every figure, the load and the machine's speed in benchmarks/results/widget_latency_3d.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _measure import cpu_speed_s, load, merge_results, pump_qt

RESULTS = Path(__file__).parent / "results" / "widget_latency_3d.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="time budget of the training run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import napari
    from qtpy.QtCore import QTimer
    from qtpy.QtWidgets import QApplication
    from superqt.utils import qdebounced

    from napari_blindspot._sample_data import fluorescence_3d
    from napari_blindspot._widget import DenoiseWidget, _warm_up, _models

    _models.confirm = lambda parent, question, action="Discard": True  # a script answers yes
    app = QApplication.instance() or QApplication([])
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def pump(seconds: float) -> None:
        pump_qt(app, lambda: False, seconds, interval=0.002)

    def worst_ms(since: float, until: float) -> float:
        """The longest gap that began in [since, until] (its end may lie after `until`)."""
        later = [t for t in ticks if t > until][:1]
        inside = [t for t in ticks if since <= t <= until] + later
        return round(1000 * float(np.diff(inside).max()), 1) if len(inside) > 1 else float("nan")

    def toggled(viewer) -> dict:
        """The longest gaps while napari switches to its 3D view, and back."""
        out = {}
        for ndisplay, name in ((3, "to_3d_ms"), (2, "back_to_2d_ms")):
            before = time.perf_counter()
            viewer.dims.ndisplay = ndisplay
            pump(2.0)
            out[name] = worst_ms(before - 0.02, time.perf_counter())
        return out

    def open_sample(title: str):
        viewer = napari.Viewer(title=title)
        viewer.window.resize(1500, 950)
        for data, kwargs, _ in fluorescence_3d():
            viewer.add_image(data, **kwargs)
        pump(1.0)
        return viewer

    speed_before, load_before = cpu_speed_s(), load()
    timer.start()
    plain = open_sample("napari alone")
    napari_alone = [toggled(plain) for _ in range(2)]  # the first pays shader compilation
    block = plain.add_image(np.zeros((16, 96, 96), np.float32), translate=(2, 48, 48), scale=(2.0, 1.0, 1.0))
    plain.dims.ndisplay = 3
    pump(2.0)
    before = time.perf_counter()
    block.data = np.random.default_rng(0).random((16, 96, 96), np.float32)  # what a preview does to its layer
    pump(2.0)
    napari_alone.append({"new_data_in_a_16x96x96_layer_in_3d_ms": worst_ms(before - 0.02, time.perf_counter())})
    plain.close()
    print(f"napari alone, switching to 3D and back (ms): {napari_alone}", flush=True)

    viewer = open_sample("widget latency 3D")
    source = viewer.layers["fluorescence 3D"]
    widget = DenoiseWidget(viewer)
    viewer.window.add_dock_widget(widget)
    widget.form.image.value = source
    widget.form.device.value, widget.form.z_mode.value = "cpu", "3D"
    widget.form.duration.value = int(args.seconds)
    pump_qt(app, _warm_up.torch_warm.is_set, 60)  # the dock warms torch up while a user picks settings
    shown, said = [], []
    show = widget.preview.show
    widget.preview.show = lambda preview, region: shown.append((time.perf_counter(), region)) or show(preview, region)
    pushes = []  # our part of a view change: the region computed and handed to the run, on the UI thread
    push = widget.follow.push

    def timed_push():
        before = time.perf_counter()
        push()
        pushes.append(round(1000 * (time.perf_counter() - before), 2))

    widget.follow.push = timed_push
    widget.follow._push_soon = qdebounced(timed_push, timeout=widget.follow.debounce_ms, parent=widget)
    status = widget.controls.status
    widget.controls.status = lambda text, *a, **k: said.append((time.perf_counter(), text)) or status(text, *a, **k)

    ticks.clear()
    start = time.perf_counter()
    widget.controls.train_button.click()
    clicked = time.perf_counter()
    pump_qt(app, lambda: not widget.busy or widget._res.job.run is not None, 60)
    run = widget._res.job.run if widget.busy else None  # the core's TrainingRun: its timings
    events = {}
    for at, what in ((0.25, "z"), (0.45, "3d"), (0.7, "2d")):  # fractions of the budget
        pump_qt(app, lambda: time.perf_counter() - start >= at * args.seconds or not widget.busy, 600)
        if not widget.busy or widget._res.job.phase != "train":
            break
        events[what] = time.perf_counter()
        if what == "z":
            viewer.dims.set_current_step(0, 10)
        else:
            viewer.dims.ndisplay = 3 if what == "3d" else 2
    pump_qt(app, lambda: not widget.busy or widget._res.job.phase == "predict", 600)
    trained = time.perf_counter()
    pump_qt(app, lambda: not widget.busy, 900)
    done = time.perf_counter()
    timer.stop()

    during = [t for t in ticks if start <= t <= trained]
    gaps = np.diff(during)
    worst = np.argsort(gaps)[::-1][:4]  # when the longest stalls began, in s after the click
    counting = [(round(t - trained, 1), text) for t, text in said if t >= trained and text.startswith("Denoising")]
    history = widget.model.spec.history
    result = dict(
        napari_alone=napari_alone, click_handler_ms=round(1000 * (clicked - start), 1),
        first_preview_s=round(shown[0][0] - start, 2) if shown else None, previews=len(shown),
        preview_regions=[str(region) for _, region in shown],
        stall_training_ms=round(1000 * float(gaps.max()), 1), gaps_over_100ms=int((gaps >= 0.1).sum()),
        worst_stalls_at_s_ms=[(round(during[i] - start, 2), round(1000 * gaps[i])) for i in worst],
        events_at_s={k: round(t - start, 2) for k, t in events.items()},
        preview_shown_at_s=[round(t - start, 2) for t, _ in shown],
        stall_after={k: worst_ms(t - 0.02, t + 2.0) for k, t in events.items()},
        stall_prediction_ms=worst_ms(trained, done), prediction_s=round(done - trained, 1),
        prediction_status=counting[:3] + counting[-2:], prediction_status_lines=len(counting),
        steps=history["steps"], train_s=history["seconds"],
        preview_cost_s=round(run.timings["preview"], 2) if run is not None else None, region_push_ms=pushes)
    viewer.close()
    speed = cpu_speed_s()
    print(result)
    merge_results(args.out, f"3D sample, 3D network, {args.seconds:.0f} s {time.strftime('%Y-%m-%d %H:%M')}",
                  dict(seconds=args.seconds, load_before=load_before, load_after=load(),
                       speed_check_s=[speed_before, speed], summary=result))


if __name__ == "__main__":
    main()

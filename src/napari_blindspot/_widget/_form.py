"""The settings form: magicgui fields that follow TrainConfig, shown or enabled by method and axes."""

from __future__ import annotations

from dataclasses import replace

from magicgui.widgets import CheckBox, ComboBox, Container, FloatSpinBox, Label, LineEdit, SpinBox
from qtpy.QtWidgets import QSizePolicy

from ..core import methods
from ..core.config import METHODS, NOISE_MODELS, TrainConfig
from ..core.data import StackView, choose_three_d, validate_axes
from ..core.neighbours import choose_context
from ._advanced import advanced_fields, advanced_values, auto
from ._axes import layer_axes
from ._warm_up import on_gpu
from ._layers import layer_data, layer_scale

Z_MODES = {"auto": None, "3D": True, "2D slices": False}  # label -> TrainConfig.three_d
CHANNEL_LABELS = {"one model per channel": "independent", "one model for all": "joint"}  # -> TrainConfig.channels
# TrainConfig fields the form lays out by hand (OPTIONS' widget "custom"): field -> the form's widget
CUSTOM_FIELDS = {"method": "method", "axes": "axes", "time_budget_s": "duration", "steps": "duration",
                 "noise": "noise", "sigma": "sigma", "three_d": "z_mode", "until_converged": "until",
                 "frames_are_repeats": "repeats", "channels": "channels"}
CHANNELS_TIP = (
    "For images with a C axis.\n"
    "One model for all: one network sees every channel and denoises them together, so channels "
    "that show the same structures help each other. Each channel keeps its own normalisation "
    "(and, with HQ-SSL, its own noise level).\n"
    "One model per channel: each channel gets its own full-size network that never sees the "
    "other channels: for unrelated stains, or when one channel's structures must not appear in "
    "another. Slower: with N channels, a step costs about N times as much."
)
AXES_TIP = "Axes of the image: S, T, C, Z, Y, X (last two are usually YX)."
MANY_CHANNELS = 4  # more channels than this are more likely frames or planes typed as C
ERROR_STYLE = "QLineEdit { border: 1px solid #e0443e; }"
NOTE_STYLE = "color: #a0a4aa;"


def as_note(label):
    """Make a QLabel a small grey, wrapping hint."""
    label.setWordWrap(True)
    font = label.font()
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
    label.setFont(font)
    label.setStyleSheet(NOTE_STYLE)
    # a wrapping label is laid out for its height at some width; let it grow to all its lines
    label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.MinimumExpanding)
    return label


def note(text: str = "") -> Label:
    """A hint under a field."""
    label = Label(value=text)
    as_note(label.native)
    return label


def _row(label: str, *widgets, horizontal: bool = True) -> Container:
    return Container(widgets=widgets, layout="horizontal" if horizontal else "vertical", labels=False,
                     label=label)


class SettingsForm:
    """`basic` (Image ... Train for) and `advanced` (folded away) containers, and the config they make."""

    def __init__(self, image_choices):
        self.image = ComboBox(label="Image", choices=image_choices,
                              tooltip="The noisy image to train on. It is never modified.")
        self.skipped = note()
        self.axes = LineEdit(label="Axes", tooltip=AXES_TIP)
        self.axes.native.setPlaceholderText("e.g. YX, ZYX, TYX, CYX")
        self.axes_hint = note()  # where the axes came from; for a guess, what it assumed
        self.planes_hint = note()  # the neighbour planes chosen (core/neighbours.py), for stacks
        self._found = ("", "")  # (axes, hint) found for the chosen layer
        self.z_mode = ComboBox(choices=list(Z_MODES), tooltip="Z stacks: train with 3D patches, or each Z "
                               "plane as a 2D image. 'auto' follows the voxel size (the layer's scale).")
        self.z_hint = note()  # what auto decides, under the Z row
        self.z_row = _row("Z", self.z_mode)
        self.channels = ComboBox(label="Channels", choices=list(CHANNEL_LABELS.items()), tooltip=CHANNELS_TIP)
        self.method = ComboBox(label="Method", choices=[(methods.get(m).label, m) for m in METHODS],
                               tooltip="N2V: Noise2Void. N2V2: without checkerboard artefacts. HQ-SSL: "
                               "blind-spot network with a noise model, also gives an uncertainty map. "
                               "N2N: Noise2Noise, from two recordings of the same field.")
        self.second = ComboBox(label="Second recording", choices=image_choices, tooltip="N2N: another "
                               "recording of the same field, the same shape as Image (its noise is independent).")
        self.repeats = CheckBox(text="frames are repeats", tooltip="N2N without a second recording: the "
                                "image's T (or S) frames are repeated recordings of one field.")
        self.noise = ComboBox(choices=NOISE_MODELS,
                              tooltip="HQ-SSL's noise model. Cameras: poisson-gaussian (shot + read noise).")
        self.sigma = auto(FloatSpinBox(min=0, max=1e6, step=0.5),
                           "Known Gaussian noise level σ, in the image's units ('auto': learn it).")
        self.sigma.native.setDecimals(2)
        self.duration = SpinBox(min=1, max=10_000_000, value=60)
        self.unit = ComboBox(choices=["seconds", "steps"], tooltip="Train for a time budget or a number of "
                             "steps. 60 s gives a good result on a 512x512 image on a laptop CPU.")
        self.until = CheckBox(text="or until it stops improving", tooltip="End early once the quality on "
                              "held-out pixels has stopped improving for a while; the time or steps above "
                              "are the most it trains.")
        for container in (self.z_row, noise_row := _row("Noise", self.noise, Label(value="σ"), self.sigma),
                          duration_row := _row("Train for", self.duration, self.unit)):
            container.margins = (0, 0, 0, 0)
        self.basic = Container(widgets=[self.image, self.skipped, self.axes, self.axes_hint, self.planes_hint,
                                        self.z_row, self.z_hint, self.channels,
                                        self.method, self.second, self.repeats, noise_row, duration_row,
                                        self.until])

        self._advanced = advanced_fields()  # each is also an attribute of the form, by its field's name
        self.__dict__.update(self._advanced)
        self.advanced = Container(widgets=list(self._advanced.values()))
        for container in (self.basic, self.advanced):
            container.margins = (0, 0, 0, 0)

        self.image.changed.connect(self._on_image_changed)
        self.axes.changed.connect(self._on_axes_edited)
        self.z_mode.changed.connect(self.show_z_choice)
        self.device.changed.connect(self.show_z_choice)  # auto's choice depends on it
        self.method.changed.connect(self._update_enabled)
        self.noise.changed.connect(self._update_enabled)
        self.repeats.changed.connect(self._update_enabled)
        self.second.changed.connect(self._update_enabled)
        self.unit.changed.connect(self._on_unit_changed)
        for field in (self.context_planes, self.method, self.repeats):
            field.changed.connect(self.show_axes_line)
        self._watched = None  # the layer whose scale changes we follow
        self._update_enabled()
        self._on_image_changed(self.image.value)

    # -- what the fields show -----------------------------------------------------------------

    def set_skipped(self, text: str) -> None:
        self.skipped.value = text
        self.skipped.visible = bool(text)

    def axes_problem(self, text: str) -> str | None:
        layer = self.image.value
        if layer is None:
            return None
        try:
            validate_axes(text, layer_data(layer).shape)
        except (ValueError, TypeError) as err:
            return str(err)
        return None

    def _on_image_changed(self, layer) -> None:
        self._watch_scale(layer)
        self._update_enabled()
        self._found = layer_axes(layer) if layer is not None else ("", "")
        axes = self._found[0]
        if axes == self.axes.value:
            self._on_axes_edited(axes)
        self.axes.value = axes

    def _watch_scale(self, layer) -> None:
        """A scale set later (e.g. from the console) changes the 2D/3D choice."""
        if self._watched is not None:
            self._watched.events.scale.disconnect(self.show_z_choice)
        self._watched = layer
        if layer is not None:
            layer.events.scale.connect(self.show_z_choice)

    def _on_axes_edited(self, text: str) -> None:
        problem = self.axes_problem(text)
        self.axes.native.setStyleSheet(ERROR_STYLE if problem else "")
        self.axes.tooltip = problem or AXES_TIP
        has_c = problem is None and "C" in text.upper()
        hint = self._found[1] if text.upper().strip() == self._found[0] else ""
        if has_c and (count := layer_data(self.image.value).shape[text.upper().strip().index("C")]) > MANY_CHANNELS:
            hint = " ".join(filter(None, [hint, f"{count} channels (C): each is denoised as a channel, with 'one "
                                          f"model per channel' {count} networks. Frames or planes? Type T or Z for "
                                          "that axis instead."]))
        hint = f"Not these axes: {problem.rstrip('.')}." if problem else hint  # shown, not only in the tooltip
        self.axes_hint.value, self.axes_hint.visible = hint, bool(hint)
        self.channels.visible = self.channels.enabled = has_c
        self.show_z_choice()

    def show_axes_line(self, event=None) -> None:
        """Under the axes' hint: the neighbour planes the stack will get ("T: 2 planes on each
        side"), or why none."""
        planes = self.planes_choice(self.axes.value.upper().strip())
        self.planes_hint.value, self.planes_hint.visible = planes, bool(planes)

    def planes_choice(self, axes: str) -> str:
        """What core.neighbours chooses for the layer (it reads a few crops), for stacks only."""
        layer = self.image.value
        if layer is None or not ("T" in axes or "Z" in axes) or self.axes_problem(axes) is not None:
            return ""
        data = layer_data(layer)
        three_d = Z_MODES[self.z_mode.value] if "Z" in axes else False
        if three_d is None:
            three_d = choose_three_d(axes, data.shape, layer_scale(layer), gpu=on_gpu(self.device.value))[0]
        repeats = methods.get(self.method.value).needs_pairs and self.repeats.value
        try:
            context = choose_context(StackView.of(data, axes, three_d=three_d),
                                     advanced_values(self._advanced)["context_planes"], three_d, repeats)
        except ValueError as err:  # e.g. more neighbour planes than the stack has: Train says so too
            return f"Neighbour planes: {err}."
        return f"Neighbour planes: {context.reason}."

    def show_z_choice(self, event=None) -> None:
        """The Z row shows only for axes with Z: the choice, and what 'auto' decides and why."""
        layer, axes = self.image.value, self.axes.value.upper().strip()
        has_z = layer is not None and "Z" in axes and self.axes_problem(axes) is None
        self.z_mode.enabled = self.z_row.visible = self.z_hint.visible = has_z
        self.show_axes_line()  # 3D or slices decides whether Z planes are neighbours
        if not has_z:
            return
        _, reason = choose_three_d(axes, layer_data(layer).shape, layer_scale(layer), gpu=on_gpu(self.device.value))
        chosen = Z_MODES[self.z_mode.value]
        prefix = "" if chosen is None else f"{'3D' if chosen else '2D slices'}, as set. "
        self.z_hint.value = f"{prefix}Auto: {reason}."

    def _update_enabled(self, event=None) -> None:
        method = methods.get(self.method.value)
        hq, n2n = method.uses_noise_model, method.needs_pairs
        second = n2n and not self.repeats.value
        self.repeats.visible, self.second.visible = n2n, second
        if second and self.image.value is not None and self.second.value is self.image.value:
            self.second.value = self.other_recording()
        self.noise.enabled = hq
        self.sigma.enabled = hq and self.noise.value in ("auto", "gaussian")

    def other_recording(self):
        """Another layer of the image's shape for the second recording (the image itself if none)."""
        image = self.image.value
        others = [layer for layer in self.second.choices if layer is not image]
        same = [layer for layer in others if image is not None and layer_data(layer).shape == layer_data(image).shape]
        return (same or [image])[-1] if image is not None else None

    def target(self):
        """N2N's second recording (its data), or None when the frames are the repeats."""
        if not methods.get(self.method.value).needs_pairs or self.repeats.value:
            return None
        layer = self.second.value
        if layer is None or layer is self.image.value:
            raise ValueError("N2N needs a second recording of the same field: open it as a layer and "
                             "choose it as Second recording, or check 'frames are repeats' for a stack of repeats.")
        return layer_data(layer)

    def _on_unit_changed(self, unit: str) -> None:
        self.duration.value = 60 if unit == "seconds" else 1000

    def show_model(self, model) -> None:
        """A loaded model decides the method and the channel choice."""
        self.method.value = model.method
        self.channels.value = "independent" if model.spec.network.get("groups", 1) > 1 else "joint"

    def disconnect(self) -> None:
        self._watch_scale(None)

    # -- the config ------------------------------------------------------------------------------

    def config(self, axes: str, layer, **extra) -> TrainConfig:
        """One TrainConfig from the fields (raises ValueError with a message for the user)."""
        method = self.method.value
        hq, n2n = methods.get(method).uses_noise_model, methods.get(method).needs_pairs
        noise = self.noise.value if hq else "auto"
        seconds = self.unit.value == "seconds"
        value = self.duration.value
        values = advanced_values(self._advanced)
        if values["num_threads"] is None:
            values.pop("num_threads")  # "auto": the dock's choice in `extra`, which leaves a core to napari
        return TrainConfig(
            method=method, axes=axes, time_budget_s=float(value) if seconds else None,
            steps=None if seconds else value, noise=noise,
            sigma=(self.sigma.value or None) if hq and noise in ("auto", "gaussian") else None,
            channels=self.channels.value if "C" in axes else "joint",
            three_d=Z_MODES[self.z_mode.value] if "Z" in axes else None,  # None: the core decides
            scale=layer_scale(layer), frames_are_repeats=n2n and self.repeats.value,
            until_converged=self.until.value, **{**extra, **values},
        )

    def train_config(self, layer, model=None, **extra) -> tuple[str, TrainConfig]:
        """(axes, config) to train on `layer`, or to continue `model` as it was trained (same method,
        same 2D/3D); ValueError or TypeError say what to change."""
        axes = validate_axes(self.axes.value, layer_data(layer).shape)
        config = self.config(axes, layer, **extra)
        return axes, config if model is None else replace(config, method=model.method, three_d=None)

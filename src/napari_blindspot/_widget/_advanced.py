"""The settings form's Advanced section: one field for each TrainConfig setting that the table
of settings (core/config.py, OPTIONS) puts there, and the values they give."""

from __future__ import annotations

import math

from magicgui.widgets import ComboBox, FloatSpinBox

from ..core.config import OPTIONS, Option, TrainConfig, field_type

QT_INT_MAX = 2**31 - 1  # a Qt spin box holds a C int


def auto(spin, tip: str = ""):
    """A spin box whose 0 reads "auto" (the core's default for this method and device)."""
    spin.native.setSpecialValueText("auto")
    spin.tooltip = tip or None
    return spin


def advanced_fields() -> dict:
    """{TrainConfig field: its widget}, in the table's order."""
    return {name: _field(name, option) for name, option in OPTIONS.items() if option.widget == "advanced"}


def _field(name: str, option: Option):
    if option.choices:
        return ComboBox(label=option.label, choices=option.choices, tooltip=option.help)
    whole = option.step == int(option.step)
    low = option.low - 1 if option.auto and option.low < 1 else (0 if option.auto else option.low)
    # whole numbers too: magicgui's SpinBox (superqt's large-int box) cannot read "auto"
    widget = FloatSpinBox(label=option.label, min=low, max=min(option.high, QT_INT_MAX),
                          step=option.step, value=low if option.auto else getattr(TrainConfig, name))
    widget.native.setDecimals(0 if whole else max(2, -math.floor(math.log10(option.step)) + 1))
    if option.auto:
        auto(widget, option.help)
    widget.tooltip = option.help
    return widget


def advanced_values(fields: dict) -> dict:
    """The fields' values as TrainConfig fields ("auto", the bottom of a range, is None)."""
    values = {}
    for name, widget in fields.items():
        option, whole = OPTIONS[name], field_type(name) is int
        is_auto = option.auto and widget.value == widget.min
        values[name] = None if is_auto else (round(widget.value) if whole else widget.value)
    return values

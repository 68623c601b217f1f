#!/usr/bin/env bash
# A fresh venv with only `pip install .` (plus CPU torch): every module that needs neither Qt nor
# napari imports, and the sample data opens. Usage: bash scripts/check_base_install.sh [VENV]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:-/tmp/basevenv}"
TORCH="${TORCH:-torch==2.13.0}"  # pinned: an unpinned torch pulls a CUDA build

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q "$TORCH"
"$VENV/bin/pip" install -q "$ROOT"
cd /tmp  # import the installed package, not the source tree
"$VENV/bin/python" - <<'PY'
import importlib, pkgutil, sys
import napari_blindspot

NEEDS_QT = ("napari_blindspot._widget",)  # the dock: napari and a Qt binding (the `qt` extra)
names = sorted(m.name for m in pkgutil.walk_packages(napari_blindspot.__path__, "napari_blindspot.")
               if not m.name.endswith(".__main__"))  # running the command line is not importing it
failed, skipped = [], []
for name in names:
    if name.startswith(NEEDS_QT):
        skipped.append(name)
        continue
    try:
        importlib.import_module(name)
    except Exception as err:  # noqa: BLE001  (report every failure, not the first)
        failed.append(f"{name}: {type(err).__name__}: {err}")
assert not any(m in sys.modules for m in ("napari", "PyQt6", "PyQt5", "PySide6")), "a base module imported Qt"
for name in skipped:  # prove they are skipped for the reason given, not by mistake
    try:
        importlib.import_module(name)
        failed.append(f"{name}: imports without napari, so it need not be skipped")
    except ImportError as err:
        print(f"needs the qt extra: {name} ({type(err).__name__}: {err})")

from napari_blindspot import _sample_data
for opener in (_sample_data.fluorescence_2d, _sample_data.fluorescence_3d, _sample_data.fluorescence_pair):
    layers = opener()
    assert layers and all(data.size for data, _, _ in layers)
    print(f"sample {opener.__name__}: {[meta['name'] for _, meta, _ in layers]}")
print(f"imported {len(names) - len(skipped)} of {len(names)} modules")
if failed:
    sys.exit("failed:\n" + "\n".join(failed))
print("base install: OK")
PY

#!/usr/bin/env bash
# Separate venv for the careamics peer: careamics 0.3 needs torch<2.10, our venv has 2.13.
# torch 2.9.1 from PyPI is the CUDA build (large); it runs on the CPU.
#   bash benchmarks/careamics_env.sh [VENV]   (default /work/venvs/careamics)
set -euo pipefail
VENV=${1:-/work/venvs/careamics}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "torch==2.9.1"
"$VENV/bin/pip" install -q "careamics==0.3.*" "torch==2.9.1" scikit-image tifffile
# careamics-napari's source only, to read the plugin's defaults (no napari/Qt needed to run).
"$VENV/bin/pip" download -q --no-deps "careamics-napari==0.3.0" -d "$VENV/src-careamics-napari"
"$VENV/bin/python" -c "import careamics, torch; print('careamics', careamics.__version__, 'torch', torch.__version__)"

#!/usr/bin/env bash
# What we run on a lent CUDA machine (docs/benchmarks.md, "On a GPU"), one stage per call:
#
#   bash benchmarks/gpu.sh check     # GPU facts, the core tests on CUDA (+ tests/core/test_cuda.py), throughput probe
#   bash benchmarks/gpu.sh diag      # HQ-SSL settings (AMP, learning rate, patch, width) side by side
#   bash benchmarks/gpu.sh stability # HQ-SSL variants on the cases where the default collapsed
#   bash benchmarks/gpu.sh check2    # CUDA gradients against the CPU's, HQ-SSL traces per variant
#   bash benchmarks/gpu.sh curves    # N2V and HQ-SSL curves on the five 2D cases
#   bash benchmarks/gpu.sh long      # 3D methods on the bench3d stack, one long HQ-SSL run
#
# Needs python3 with CUDA torch, numpy, scikit-image, safetensors, tifffile, pytest and
# hypothesis; dask and zarr come as wheels from .whl/ when present (see the device notes).
# Logs and JSON go to $OUT (default /tmp/gpu).
set -uo pipefail
OUT=${OUT:-/tmp/gpu}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1


case "${1:-check}" in
  check)
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())" | tee -a "$OUT/gpu.txt"
    timeout 300 python3 -m pytest -q -p no:cacheprovider --timeout 120 tests/core tests/test_layouts.py tests/test_properties.py \
      2>&1 | tee "$OUT/tests.log" | tail -25
    python3 benchmarks/curve.py --probe --device cuda --out "$OUT/curve_gpu.json" 2>&1 | tee "$OUT/probe.log"
    ;;
  diag)  # HQ-SSL settings side by side on moon, 20 s each
    c="python3 benchmarks/curve.py --cases moon_g25 --budget 20 --checkpoints 5 10 --device cuda --out $OUT/diag.json"
    $c --methods hqssl
    $c --methods hqssl --option amp=false
    $c --methods hqssl --option learning_rate=4e-4
    $c --methods hqssl --option amp=false --option learning_rate=4e-4
    $c --methods hqssl --option patch_size=128 --option batch_size=16
    $c --methods hqssl --option features=16 --option depth=3
    $c --methods n2v
    $c --methods n2v --option learning_rate=2e-3 --option patch_size=128 --option batch_size=64
    timeout 200 python3 -m pytest -q -p no:cacheprovider tests/core/test_cuda.py 2>&1 | tail -15
    ;;
  stability)  # HQ-SSL on the cases where the default collapsed, 25 s each
    c="python3 benchmarks/curve.py --cases camera_g25 ihc_poisson30 --budget 25 --checkpoints 5 10 15 20 --device cuda --out $OUT/stability.json --methods hqssl"
    $c --option learning_rate=4e-4
    $c --option learning_rate=4e-4 --option amp=false
    $c --option features=16 --option depth=3
    $c --option amp=false
    ;;
  check2)  # why HQ-SSL degrades on the GPU: CUDA gradients against the CPU, traces per variant
    python3 benchmarks/gpu_check.py 2>&1 | grep -v Warning | tee "$OUT/gpu_check.log"
    ;;
  curves)
    timeout 150 python3 -m pytest -q -p no:cacheprovider tests/core tests/test_layouts.py 2>&1 | tee "$OUT/tests.log" | tail -4
    python3 benchmarks/curve.py --methods hqssl n2v --budget "${BUDGET:-45}" --checkpoints 5 15 30 --device cuda \
      --out "$OUT/curve_gpu.json" 2>&1 | tee "$OUT/curves.log"
    ;;
  long)
    python3 benchmarks/bench3d.py --methods n2v-3d hqssl-3d n2v-2d hqssl-2d --shape 48,128,128 --budget 30 \
      --out "$OUT/bench3d_gpu.json" 2>&1 | tee "$OUT/bench3d.log"
    python3 benchmarks/curve.py --methods hqssl --cases camera_g25 --budget "${LONG:-240}" --checkpoints 30 60 120 \
      --device cuda --out "$OUT/curve_gpu.json" 2>&1 | tee "$OUT/long.log"
    ;;
  *) echo "unknown stage $1: check, diag, stability, check2, curves or long" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Curves of PSNR against training seconds for N2V, N2V2 and HQ-SSL on the five cases and the
# 16-frame stack, in two lanes of one thread each (this 2-core VM), then the stack's baselines.
#   bash benchmarks/curves.sh [BUDGET]        (default 240 s: four times the default budget)
# Results: benchmarks/results/curves.json (merged from one file per lane) and baselines.json.
set -euo pipefail
cd "$(dirname "$0")"
py=../.venv/bin/python
budget=${1:-240}
run_lane() {  # $1: lane name, then case names
    local lane=$1; shift
    OMP_NUM_THREADS=1 $py curve.py --methods n2v n2v2 hqssl --cases "$@" --budget "$budget" \
        --checkpoints 5 15 30 60 120 --option num_threads=1 --out "results/curves-$lane.json"
}
run_lane a moon_g25 camera_g25 brick_g25 > "results/curves-a.log" 2>&1 &
run_lane b ihc_poisson30 hubble_pg retina_pan16_g25 > "results/curves-b.log" 2>&1 &
wait
$py - <<'PY'
import json, pathlib
merged = {"runs": {}}
for part in sorted(pathlib.Path("results").glob("curves-?.json")):
    data = json.loads(part.read_text())
    merged["machine"] = data["machine"]
    merged["runs"].update(data["runs"])
pathlib.Path("results/curves.json").write_text(json.dumps(merged, indent=1) + "\n")
PY
$py baselines.py --stack

#!/usr/bin/env bash
# Full operando pipeline on a 20-frame 256^3 synthetic campaign (issue 10): wall time per frame and
# peak memory, serially and with frames in parallel jobs.
#   bench/pipeline_campaign.sh DIR [FRAMES] [EDGE] [JOBS]
# Writes DIR/campaign.h5 (once), then runs pipelines/operando.json on two copies of it: serially
# (--jobs 1, 2 threads) and with --jobs JOBS (cores/JOBS threads each; series steps on all cores), under /usr/bin/time -v, and prints
# wall time, per-frame wall time, per-step seconds (from the store's pipeline_run table) and peak RSS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
op4d=${OP4D:-$root/build/op4d}
dir=${1:?usage: bench/pipeline_campaign.sh DIR [FRAMES] [EDGE] [JOBS]}
frames=${2:-20}
edge=${3:-256}
jobs=${4:-2}
mkdir -p "$dir"
base="$dir/campaign.h5"
if [ ! -f "$base" ]; then
  /usr/bin/time -f "synth: %e s, peak RSS %M kB" "$op4d" synth --out "$base" --frames "$frames" --shape "$edge" "$edge" "$edge" \
    --binder-neck 0 --pressure 20000 80000 --quiet
fi
run() {  # run NAME ARGS...: a fresh copy of the campaign, the pipeline, the figures
  local name=$1; shift
  local store="$dir/$name.h5"
  rm -f "$store" "$store".journal "$store".log "$store".job*
  rm -rf "$dir/${name}_report"
  cp "$base" "$store"
  /usr/bin/time -v "$op4d" run "$root/pipelines/operando.json" --store "$store" --quiet "$@" > "$dir/$name.out" 2> "$dir/$name.time"
  local wall rss
  wall=$(python3 - "$dir/$name.time" <<'PY'
import sys
for line in open(sys.argv[1]):
    if 'Elapsed (wall clock)' in line:
        t = line.rsplit(' ', 1)[1].strip().split(':')
        s = sum(float(x) * 60 ** i for i, x in enumerate(reversed(t)))
        print(f"{s:.1f}")
PY
)
  rss=$(grep 'Maximum resident' "$dir/$name.time" | awk '{print $NF}')
  echo "$name ($*): wall $wall s for $frames frames = $(python3 -c "print(f'{$wall/$frames:.1f}')") s per frame; peak RSS of the largest process $((rss / 1024)) MB"
  "$op4d" export "$store" --series pipeline_run --out "$dir/$name.steps.csv" > /dev/null
  python3 - "$dir/$name.steps.csv" "$root/pipelines/operando.json" <<'PY'
import csv, json, sys
steps = [s['step'] for s in json.load(open(sys.argv[2]))['steps']]
tot = {}
for r in csv.DictReader(open(sys.argv[1])):
    if float(r['skipped [1]']) == 0:
        name = steps[int(float(r['step [1]']))]
        tot[name] = tot.get(name, 0) + float(r['seconds [s]'])
print('  seconds per step in this process (jobs run in children):', ', '.join(f'{k} {v:.1f}' for k, v in tot.items()))
PY
}
run serial --jobs 1 --threads 2
run jobs --jobs "$jobs"
"$op4d" info "$dir/serial.h5" --digest | tail -1
"$op4d" info "$dir/jobs.h5" --digest | tail -1

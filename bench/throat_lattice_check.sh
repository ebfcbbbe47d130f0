#!/usr/bin/env bash
# The throat-history check of issue 9 on synthetic lattice campaigns: for each case, the lattice
# campaign (op4d synth --kind lattice) is segmented, registered rigidly (the sample drifts), its
# throats carried and judged by the Young-Laplace rule (gamma 0.072 N/m, theta 0, r_min 0.25 um,
# search tolerance 0.5 um) and compared with the generator's script (op4d throats --check-truth).
#   bench/throat_lattice_check.sh DIR
# Prints one line per case: truth throats found, closures and reopenings found, invented events,
# frames whose percolation agrees, and the wall time of the analysis (segment + register + throats).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
op4d=${OP4D:-$root/build/op4d}
dir=${1:?usage: bench/throat_lattice_check.sh DIR}
mkdir -p "$dir"
phases="pore=0:pore,solid=1:active"
times="0 300 600 1200 1500 2000 2100 2400 3000 3600"
check() {  # check NAME METHOD SYNTH-ARGS...
  local name=$1 method=$2; shift 2
  local store="$dir/$name.h5"
  rm -f "$store" "$dir/$name.truth.h5"
  "$op4d" synth --kind lattice --out "$store" --times $times --quiet "$@" > /dev/null
  local t0=$SECONDS
  "$op4d" segment "$store" --method "$method" --phases "$phases" --quiet > /dev/null
  "$op4d" register "$store" --method rigid --quiet > /dev/null
  local out
  out=$("$op4d" throats "$store" --gamma 0.072 --r-min 0.25 --tolerance 0.5 --method "$method" --phases "$phases" --check-truth --quiet)
  echo "$name ($method, $*; $((SECONDS - t0)) s):"
  echo "$out" | sed -n '/against the truth/,$p' | sed 's/^/  /'
}
check seed1-snr10 nlm+gmm --seed 1
check seed2-snr10 nlm+gmm --seed 2
check seed3-snr10 nlm+gmm --seed 3
check seed4-snr5 nlm+gmm --seed 4 --snr 5
check seed5-aniso nlm+gmm --seed 5 --spacing 0.5 0.4 0.4
check seed6-closures40 nlm+gmm --seed 6 --closure-share 0.4

#!/usr/bin/env bash
# Sets up op4d and runs the main job on the built-in example campaign (README command 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${OP4D_BUILD_DIR:-$root/build}
dir=${OP4D_EXAMPLE_DIR:-$root/op4d-example}
"$build/op4d" demo --dir "$dir" "$@"
# Then the full operando pipeline on the same campaign: segmentation, geometry, tortuosity, network,
# registration with per-particle kinematics, state of charge, throat history and the truth scorecard.
"$build/op4d" run "$root/pipelines/operando.json" --store "$dir/campaign.h5" --quiet
# Last: the truth scorecard the pipeline's score step stored (every result against the ground truth).
echo
"$build/op4d" score "$dir/campaign.h5" --stored

#!/usr/bin/env bash
# Sets up op4d and runs the main job on the built-in example campaign (README command 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${OP4D_BUILD_DIR:-$root/build}
"$build/op4d" demo --dir "${OP4D_EXAMPLE_DIR:-$root/op4d-example}" "$@"

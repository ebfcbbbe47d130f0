#!/usr/bin/env bash
# Sets up op4d and runs the whole test suite (README command 2). Extra arguments go to ctest
# (e.g. -L or -R to select). Tests tagged [data] use ../shared/data and say so when it is absent.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh"
build=${OP4D_BUILD_DIR:-$root/build}
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"

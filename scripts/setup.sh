#!/usr/bin/env bash
# Installs what op4d needs from Debian (only what is missing; silent when nothing is), then
# configures and builds op4d in Release. Idempotent: run it as often as you like.
#   OP4D_BUILD_DIR  build folder (default: ./build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${OP4D_BUILD_DIR:-$root/build}
log=$(mktemp -t op4d-setup.XXXXXX)
trap 'rm -f "$log"' EXIT

mapfile -t packages < <(grep -vE '^\s*(#|$)' "$root/scripts/debian-packages.txt")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "op4d setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=sudo
  fi
  echo "op4d setup: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "op4d setup: apt-get failed (log above)" >&2
    exit 1
  fi
fi

# The Python module is built for Debian's interpreter, whose numpy, pytest and pybind11 the package
# list installs (an interpreter earlier on PATH, e.g. pyenv's, has none of them).
python_hint=()
if [ -x /usr/bin/python3 ]; then python_hint=(-DPython3_EXECUTABLE=/usr/bin/python3); fi
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${python_hint[@]}" >"$log" 2>&1; then
  cat "$log" >&2
  echo "op4d setup: cmake configuration failed" >&2
  exit 1
fi
if ! cmake --build "$build" -j"$(nproc)" >"$log" 2>&1; then
  grep -E -B2 -A12 'error|Error' "$log" | head -n 80 >&2
  echo "op4d setup: build failed" >&2
  exit 1
fi
echo "op4d setup: built $build/op4d"

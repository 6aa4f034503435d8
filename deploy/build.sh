#!/usr/bin/env bash
# Configures and builds Stoa into ./build (binaries in ./build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${STOA_BUILD_JOBS:-$(nproc)}"
cmake -S . -B build -DCMAKE_BUILD_TYPE="${STOA_BUILD_TYPE:-RelWithDebInfo}"
cmake --build build -j"$jobs"

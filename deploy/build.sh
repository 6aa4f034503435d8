#!/usr/bin/env bash
# Configures and builds Stoa into ./build (binaries in ./build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${STOA_BUILD_JOBS:-$(nproc)}"
# Unity build (CMakeLists.txt): a clean build in a third of the time.
cmake -S . -B build -DCMAKE_BUILD_TYPE="${STOA_BUILD_TYPE:-RelWithDebInfo}" -DSTOA_UNITY_BUILD="${STOA_UNITY_BUILD:-ON}"
cmake --build build -j"$jobs"

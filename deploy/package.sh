#!/usr/bin/env bash
# Builds Stoa's Debian packages (docs/packages.md): stoa-master, stoa-slave
# (with the executors), stoa-services, stoa-lb and stoa (the command line).
#   deploy/package.sh [OUTPUT_DIR]        (default: build/packages)
# Environment: STOA_BUILD_DIR (default build; configured here if it is not
# yet), STOA_BUILD_JOBS (default nproc), STOA_PACKAGE_COMPRESSION (gzip, xz
# or zstd; default xz, smaller than the tree's default gzip).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${STOA_BUILD_DIR:-build}"
out="${1:-$build/packages}"
jobs="${STOA_BUILD_JOBS:-$(nproc)}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${STOA_BUILD_TYPE:-RelWithDebInfo}" \
        -DSTOA_UNITY_BUILD="${STOA_UNITY_BUILD:-ON}"
fi
# The packaged binaries only: not the tests or the benchmarks.
cmake --build "$build" -j"$jobs" --target stoa-master stoa-slave stoa-executor stoa-http-executor stoa-docker-executor \
      stoa-services stoa-lb stoa stoa-execute
mkdir -p "$out"
out="$(cd "$out" && pwd)"
(cd "$build" && cpack -G DEB -B "$out" \
   -D CPACK_DEBIAN_COMPRESSION_TYPE="${STOA_PACKAGE_COMPRESSION:-xz}")
# cpack's scratch tree stays out of the output.
rm -rf "$out/_CPack_Packages"
ls -1 "$out"/*.deb

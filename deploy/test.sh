#!/usr/bin/env bash
# Set up, build and run every test (what CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh
deploy/build.sh
cd build
ctest --output-on-failure --timeout 300 -j"${STOA_TEST_JOBS:-2}"

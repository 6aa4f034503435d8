#!/usr/bin/env bash
# Runs the web UI's browser tests (tests/webui/webui.test.mjs) against the
# binaries of a build. Exit 77 (ctest: skipped) with the reason when node
# (>= 20), Chromium or tests/webui/node_modules is missing; deploy/setup.sh
# installs all three.
#   tests/webui/run-tests.sh [BUILD_DIR]       # default: <repo>/build
# Screenshots go to BUILD_DIR/webui-artifacts.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../../build}" 2>/dev/null && pwd)" || { echo "run-tests: no build directory '${1:-}'" >&2; exit 2; }
skip() { echo "SKIP webui_browser_tests: $*" >&2; exit 77; }

command -v node > /dev/null || skip "node is not installed (deploy/setup.sh)"
# playwright-core needs node >= 20; the unit tests import webui/app's ES
# modules (plain .js, no package.json there), which needs module syntax
# detection: node >= 20.19.
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  skip "node $(node --version) is too old: the browser tests need >= 20.19"
chromium="${CHROMIUM:-$(command -v chromium || true)}"
[ -n "$chromium" ] && [ -x "$chromium" ] || skip "chromium is not installed (deploy/setup.sh installs Debian's chromium)"
[ -f "$here/node_modules/playwright-core/package.json" ] ||
  skip "tests/webui/node_modules is missing: run 'npm ci' in tests/webui (deploy/setup.sh does)"
for b in stoa-master stoa-slave stoa-executor stoa-execute; do
  [ -x "$build/bin/$b" ] || skip "$build/bin/$b is not built (make stoa-master stoa-slave stoa-executor stoa-execute)"
done

export STOA_BIN_DIR="$build/bin" CHROMIUM="$chromium" STOA_WEBUI_ARTIFACTS="$build/webui-artifacts"
mkdir -p "$STOA_WEBUI_ARTIFACTS"
cd "$here"
node --test --test-concurrency=1 --test-reporter=spec store.test.mjs util.test.mjs live.test.mjs services-ui.test.mjs webui.test.mjs
status=$?
echo "run-tests: screenshots in $STOA_WEBUI_ARTIFACTS"
exit $status

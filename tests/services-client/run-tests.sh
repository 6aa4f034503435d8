#!/usr/bin/env bash
# The Marathon-client integration test: starts stoa-master, one stoa-slave
# and stoa-services from a build on free loopback ports, each with its own
# work dir under a fresh temporary directory, runs client.test.js (the npm
# client marathon-node against stoa-services), then `stoa app` when
# build/bin/stoa exists, and stops them by PID.
#   tests/services-client/run-tests.sh [BUILD_DIR]     # default: <repo>/build
# Exit 77 (ctest: skipped) with the reason when node, node_modules (npm ci
# here; deploy/setup.sh does it) or a binary is missing. The logs stay in
# BUILD_DIR/services-client-artifacts.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../../build}" 2>/dev/null && pwd)" || { echo "run-tests: no build directory '${1:-}'" >&2; exit 2; }
skip() { echo "SKIP services_client_tests: $*" >&2; exit 77; }

command -v node > /dev/null || skip "node is not installed (deploy/setup.sh)"
[ -f "$here/node_modules/marathon-node/package.json" ] ||
  skip "tests/services-client/node_modules is missing: run 'npm ci' in tests/services-client (deploy/setup.sh does)"
for b in stoa-master stoa-slave stoa-executor stoa-services; do
  [ -x "$build/bin/$b" ] || skip "$build/bin/$b is not built (make stoa-master stoa-slave stoa-executor stoa-services)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/stoa-services-client.XXXXXX")"
artifacts="$build/services-client-artifacts"
mkdir -p "$artifacts"
pids=()
stop_all() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill -TERM "${pids[$i]}" 2> /dev/null
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2> /dev/null
  done
  cp "$work"/*.log "$artifacts"/ 2> /dev/null
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# Polls a shell condition for up to $2 seconds (default 30).
wait_for() {
  local what="$1" limit="${3:-30}" start=$SECONDS
  until eval "$2"; do
    if ((SECONDS - start >= limit)); then
      echo "run-tests: timed out after ${limit}s waiting for $what" >&2
      tail -n 20 "$work"/*.log >&2
      exit 1
    fi
    sleep 0.2
  done
}
listening_port() { sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$1" | head -n 1; }
free_port() { node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'; }
get() { node -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); }, () => process.exit(1))' "$1"; }

"$build/bin/stoa-master" --ip=127.0.0.1 --port=0 --work_dir="$work/master" > "$work/master.log" 2>&1 &
pids+=($!)
wait_for "the master to listen" '[ -n "$(listening_port "$work/master.log")" ]'
master_port="$(listening_port "$work/master.log")"
wait_for "the master to recover" 'get "http://127.0.0.1:$master_port/master/state-summary" > /dev/null'

"$build/bin/stoa-slave" --master="127.0.0.1:$master_port" --ip=127.0.0.1 --port=0 --work_dir="$work/slave" \
  --resources='cpus:4;mem:4096;disk:10000;ports:[31000-32000]' > "$work/slave.log" 2>&1 &
pids+=($!)
wait_for "the slave to register" \
  'get "http://127.0.0.1:$master_port/master/slaves" | node -e "process.exit(JSON.parse(require(\"fs\").readFileSync(0)).slaves.some((s) => s.active) ? 0 : 1)"'

services_port="$(free_port)"
"$build/bin/stoa-services" --master "127.0.0.1:$master_port" --hostname 127.0.0.1 --http_address 127.0.0.1 \
  --http_port "$services_port" --work_dir "$work/services" > "$work/services.log" 2>&1 &
pids+=($!)
wait_for "stoa-services to answer /ping" 'get "http://127.0.0.1:$services_port/ping" > /dev/null'
wait_for "stoa-services to register with the master" \
  'get "http://127.0.0.1:$services_port/v2/info" | node -e "process.exit(JSON.parse(require(\"fs\").readFileSync(0)).frameworkId ? 0 : 1)"'

cd "$here"
STOA_SERVICES_URL="http://127.0.0.1:$services_port" node client.test.js
status=$?

# Then our own client, `stoa app` (docs/cli.md), when it is built: add an
# app from stdin, find it in `app list`, scale it, remove it.
if [ "$status" -eq 0 ] && [ -x "$build/bin/stoa" ]; then
  echo "- stoa app add/list/scale/remove"
  stoa=("$build/bin/stoa" --services="127.0.0.1:$services_port")
  echo '{"id": "/cli-test", "cmd": "sleep 300", "cpus": 0.1, "mem": 16}' | "${stoa[@]}" app add - > /dev/null &&
    "${stoa[@]}" app list --json | node -e 'process.exit(JSON.parse(require("fs").readFileSync(0)).some((a) => a.id === "/cli-test") ? 0 : 1)' &&
    "${stoa[@]}" app scale cli-test 2 > /dev/null &&
    [ "$("${stoa[@]}" app show /cli-test --json | node -p 'JSON.parse(require("fs").readFileSync(0)).instances')" = 2 ] &&
    "${stoa[@]}" app remove /cli-test > /dev/null || { echo "stoa app: FAILED" >&2; status=1; }
  # An unknown app is exit 4 (not found).
  "${stoa[@]}" app show /no-such-app > /dev/null 2>&1
  [ $? -eq 4 ] || { echo "stoa app show /no-such-app: expected exit 4" >&2; status=1; }
  [ "$status" -eq 0 ] && echo "stoa app: passed"
fi
echo "run-tests: logs in $artifacts"
exit $status

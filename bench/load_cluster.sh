#!/usr/bin/env bash
# Reliability under load: one master, N slaves and one framework running
# TASKS short tasks (`true`), all on this machine (loopback, sandboxes on
# /dev/shm). Prints how many tasks finished, failed and were lost, and why.
# Not a test: the machine is overcommitted on purpose (docs/benchmarks.md).
#
#   bench/load_cluster.sh [N=100] [TASKS=2000]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100}"
TASKS="${2:-2000}"
B="${STOA_BIN_DIR:-build/bin}"
run="$(mktemp -d /tmp/stoa-load.XXXXXX)"
shm="$(mktemp -d /dev/shm/stoa-load.XXXXXX)"
port=$((20000 + RANDOM % 20000))
pids=()
cleanup() {
  kill "${pids[@]}" 2>/dev/null || true
  sleep 1
  kill -9 "${pids[@]}" 2>/dev/null || true
  rm -rf "$shm"
}
trap cleanup EXIT
"$B/stoa-master" --ip=127.0.0.1 --port="$port" --work_dir="$run/master" >"$run/master.log" 2>&1 &
pids+=($!)
for i in $(seq 1 "$N"); do
  "$B/stoa-slave" --master="127.0.0.1:$port" --ip=127.0.0.1 --port=0 --work_dir="$shm/slave$i" \
    --resources="cpus:2;mem:1024;disk:100;ports:[31000-31010]" >"$run/slave$i.log" 2>&1 &
  pids+=($!)
done
active=0
for _ in $(seq 1 300); do
  active=$(curl -s "http://127.0.0.1:$port/master/slaves" |
           python3 -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["slaves"] if s["active"]))' 2>/dev/null || echo 0)
  [ "$active" = "$N" ] && break
  sleep 0.2
done
echo "slaves active: $active of $N"
start=$(date +%s.%N)
set +e
timeout 900 "$B/stoa-example-framework" --master="127.0.0.1:$port" --tasks="$TASKS" \
  --task_resources="cpus:0.1;mem:16" >"$run/framework.log" 2>&1
code=$?
set -e
end=$(date +%s.%N)
echo "framework exit $code after $(python3 -c "print(round($end - $start, 1))") s"
for s in FINISHED FAILED LOST; do
  printf '%-9s %s\n' "$s" "$(grep -c "^TASK_$s " "$run/framework.log" || true)"
done
grep -h "^TASK_\(FAILED\|LOST\)" "$run/framework.log" | sed 's/^TASK_[A-Z]* [^ ]* - //' |
  sed 's/S[0-9]*/S<n>/; s/example-[0-9]*/example-<n>/' | sort | uniq -c | sort -rn | head -5
echo "logs: $run"

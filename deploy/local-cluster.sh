#!/usr/bin/env bash
# Starts a local Stoa cluster on loopback: one master and two slaves, with
# embedded defaults (no ZooKeeper, in-memory registry) and every work dir
# under ./run/cluster. `deploy/local-cluster.sh stop` stops it.
#
#   STOA_MASTER_PORT (5050), STOA_SLAVE_PORTS ("5051 5052"), STOA_SLAVE_RESOURCES
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/run/cluster"
bin="$PWD/build/bin"

stop() {
  if [ -f "$root/pids" ]; then
    while read -r pid; do
      kill "$pid" 2>/dev/null || true
    done < "$root/pids"
    for _ in $(seq 50); do
      alive=0
      while read -r pid; do
        kill -0 "$pid" 2>/dev/null && alive=1
      done < "$root/pids"
      [ "$alive" -eq 0 ] && break
      sleep 0.1
    done
    rm -f "$root/pids"
    echo "Stoa cluster stopped."
  else
    echo "No Stoa cluster is running (no $root/pids)."
  fi
}

if [ "${1:-start}" = "stop" ]; then
  stop
  exit 0
fi

deploy/setup.sh
deploy/build.sh
[ -f "$root/pids" ] && stop
mkdir -p "$root"
: > "$root/pids"

master_port="${STOA_MASTER_PORT:-5050}"
slave_ports="${STOA_SLAVE_PORTS:-5051 5052}"
resources="${STOA_SLAVE_RESOURCES:-cpus:2;mem:2048;disk:10000;ports:[31000-32000]}"

"$bin/stoa-master" --ip=127.0.0.1 --port="$master_port" --work_dir="$root/master" \
  > "$root/master.log" 2>&1 &
echo $! >> "$root/pids"

for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$master_port/master/health" > /dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$master_port/master/health" > /dev/null || {
  echo "The master did not start; see $root/master.log"; tail -20 "$root/master.log"; exit 1; }

i=1
for port in $slave_ports; do
  "$bin/stoa-slave" --master="127.0.0.1:$master_port" --ip=127.0.0.1 --port="$port" \
    --work_dir="$root/slave$i" --resources="$resources" --attributes="rack:r$i" \
    > "$root/slave$i.log" 2>&1 &
  echo $! >> "$root/pids"
  i=$((i + 1))
done

want=$((i - 1))
for _ in $(seq 100); do
  n=$(curl -sf "http://127.0.0.1:$master_port/master/state" | grep -o '"pid":"slave(1)@' | wc -l || true)
  [ "$n" -ge "$want" ] && break
  sleep 0.1
done

cat <<MSG
Stoa cluster running: 1 master, $want slaves (logs and work dirs in $root).
  Web / state:  http://127.0.0.1:$master_port/master/state
  Run a task:   $bin/stoa-execute --master=127.0.0.1:$master_port --name=hello --command="echo hello"
  Stop it:      deploy/local-cluster.sh stop
MSG

#!/usr/bin/env bash
# Starts a local Stoa cluster on loopback: one master, two slaves and the
# services framework (stoa-services, Marathon's API on port 8080) and, when
# HAProxy is installed, the load balancer (stoa-lb, its stats on a free port), with
# embedded defaults (no ZooKeeper, in-memory registry, the services' state
# in files) and every work dir under ./run/cluster.
# `deploy/local-cluster.sh stop` stops it.
#
# It builds only the programs it runs or tells you to run (not the tests or
# benchmarks), and reports the cluster as running only once the master
# lists every slave as registered and active; otherwise it names the slave
# that did not make it and its log, stops what it started and exits 1.
#
#   STOA_MASTER_PORT (5050), STOA_SLAVE_PORTS ("5051 5052"), STOA_SLAVE_RESOURCES,
#   STOA_SERVICES_PORT (8080; 0 = do not start stoa-services),
#   STOA_LB_STATS_PORT (a free port; 0 = do not start stoa-lb; started only
#     with stoa-services and when haproxy is installed),
#   STOA_CLUSTER_TIMEOUT (30, seconds to wait for the master and the slaves),
#   STOA_BUILD_JOBS (nproc), STOA_BUILD_TYPE (RelWithDebInfo)
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

# Fails the start: prints why, the tail of `log`, stops what was started.
fail() {
  local why="$1" log="${2:-}"
  echo "local-cluster: $why" >&2
  if [ -n "$log" ] && [ -s "$log" ]; then
    echo "----- last lines of $log -----" >&2
    tail -20 "$log" >&2
    echo "-----" >&2
  elif [ -n "$log" ]; then
    echo "($log is empty)" >&2
  fi
  stop >&2
  exit 1
}

deploy/setup.sh
# Only the programs this cluster runs (master, slaves and the executor the
# slaves start) and the clients README says to run against it.
targets=(stoa-master stoa-slave stoa-executor stoa-http-executor stoa-execute stoa-example-framework stoa stoa-services stoa-lb)
cmake -S . -B build -DCMAKE_BUILD_TYPE="${STOA_BUILD_TYPE:-RelWithDebInfo}"
cmake --build build -j"${STOA_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"

[ -f "$root/pids" ] && stop
mkdir -p "$root"
: > "$root/pids"

master_port="${STOA_MASTER_PORT:-5050}"
slave_ports="${STOA_SLAVE_PORTS:-5051 5052}"
resources="${STOA_SLAVE_RESOURCES:-cpus:2;mem:2048;disk:10000;ports:[31000-32000]}"
timeout="${STOA_CLUSTER_TIMEOUT:-30}"
master_url="http://127.0.0.1:$master_port"

"$bin/stoa-master" --ip=127.0.0.1 --port="$master_port" --work_dir="$root/master" \
  > "$root/master.log" 2>&1 &
master_pid=$!
echo "$master_pid" >> "$root/pids"

deadline=$((SECONDS + timeout))
until curl -sf --max-time 2 "$master_url/master/health" > /dev/null; do
  kill -0 "$master_pid" 2>/dev/null || fail "the master exited at start (see $root/master.log)" "$root/master.log"
  [ "$SECONDS" -ge "$deadline" ] &&
    fail "the master did not answer $master_url/master/health within ${timeout}s (see $root/master.log)" \
      "$root/master.log"
  sleep 0.1
done

names=()
pids=()
ports=()
logs=()
i=1
for port in $slave_ports; do
  log="$root/slave$i.log"
  "$bin/stoa-slave" --master="127.0.0.1:$master_port" --ip=127.0.0.1 --port="$port" \
    --work_dir="$root/slave$i" --resources="$resources" --attributes="rack:r$i" \
    > "$log" 2>&1 &
  echo $! >> "$root/pids"
  names+=("slave$i")
  pids+=("$!")
  ports+=("$port")
  logs+=("$log")
  i=$((i + 1))
done
want=${#names[@]}

# True when /master/slaves (in `$1`) lists the slave on `$2` as active. The
# JSON has sorted keys, so each slave object starts with "active"; split on
# that and look for the one with this slave's pid.
slave_active() {
  printf '%s' "$1" | sed 's/{"active":/\n{"active":/g' |
    grep -F "\"pid\":\"slave(1)@127.0.0.1:$2\"" | grep -q '^{"active":true'
}

deadline=$((SECONDS + timeout))
while :; do
  json=$(curl -sf --max-time 2 "$master_url/master/slaves" || true)
  missing=()
  for k in "${!names[@]}"; do
    if ! slave_active "$json" "${ports[$k]}"; then
      missing+=("$k")
      kill -0 "${pids[$k]}" 2>/dev/null ||
        fail "${names[$k]} (port ${ports[$k]}) exited before registering; its log is ${logs[$k]}" "${logs[$k]}"
    fi
  done
  [ ${#missing[@]} -eq 0 ] && break
  if [ "$SECONDS" -ge "$deadline" ]; then
    for k in "${missing[@]}"; do
      echo "local-cluster: ${names[$k]} (port ${ports[$k]}) did not register with the master within" \
        "${timeout}s; its log is ${logs[$k]}" >&2
      tail -20 "${logs[$k]}" >&2 || true
    done
    fail "$((${#missing[@]})) of $want slaves did not register (master log: $root/master.log)"
  fi
  sleep 0.2
done

services_port="${STOA_SERVICES_PORT:-8080}"
services_msg=""
if [ "$services_port" != 0 ]; then
  services_url="http://127.0.0.1:$services_port"
  "$bin/stoa-services" --master "127.0.0.1:$master_port" --http_port "$services_port" \
    --work_dir "$root/services" > "$root/services.log" 2>&1 &
  services_pid=$!
  echo "$services_pid" >> "$root/pids"
  deadline=$((SECONDS + timeout))
  # Leading and subscribed: /v2/info names the framework id once the master accepted it.
  until curl -sf --max-time 2 "$services_url/v2/info" | grep -q '"frameworkId":"[^"]'; do
    kill -0 "$services_pid" 2>/dev/null ||
      fail "stoa-services exited at start (see $root/services.log)" "$root/services.log"
    [ "$SECONDS" -ge "$deadline" ] &&
      fail "stoa-services did not subscribe within ${timeout}s (see $root/services.log)" "$root/services.log"
    sleep 0.2
  done
  services_msg="  Services:     $services_url/ (Marathon's API: $services_url/v2/apps)
  Run a service: curl -X POST -H 'Content-Type: application/json' $services_url/v2/apps \\
                   -d '{\"id\":\"/hello\",\"cmd\":\"while true; do sleep 5; echo hello mesos; done\",\"cpus\":0.1,\"mem\":32}'
"
fi

lb_msg=""
haproxy_bin="$(command -v haproxy || true)"
[ -z "$haproxy_bin" ] && [ -x /usr/sbin/haproxy ] && haproxy_bin=/usr/sbin/haproxy
lb_port="${STOA_LB_STATS_PORT:-}"
if [ "$services_port" != 0 ] && [ -n "$haproxy_bin" ] && [ "$lb_port" != 0 ]; then
  if [ -z "$lb_port" ]; then
    lb_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  fi
  mkdir -p "$root/lb"
  # The :80/:443 frontends stay off (--dont-bind-http-https): apps publish
  # their service ports, and HAPROXY_{n}_VHOST needs --http-port.
  PORTS="$lb_port" "$bin/stoa-lb" sse --group external --marathon "http://127.0.0.1:$services_port" \
    --haproxy-bin "$haproxy_bin" --haproxy-config "$root/lb/haproxy.cfg" --dont-bind-http-https \
    > "$root/lb.log" 2>&1 &
  lb_pid=$!
  echo "$lb_pid" >> "$root/pids"
  deadline=$((SECONDS + timeout))
  until curl -sf --max-time 2 "http://127.0.0.1:$lb_port/haproxy?stats;csv" > /dev/null; do
    kill -0 "$lb_pid" 2>/dev/null || fail "stoa-lb exited at start (see $root/lb.log)" "$root/lb.log"
    [ "$SECONDS" -ge "$deadline" ] &&
      fail "stoa-lb's HAProxy did not serve its stats within ${timeout}s (see $root/lb.log)" "$root/lb.log"
    sleep 0.2
  done
  lb_msg="  Load balancer: http://127.0.0.1:$lb_port/haproxy?stats (stoa-lb; apps labelled HAPROXY_GROUP=external)
"
fi

cat <<MSG
Stoa cluster running: 1 master, $want slaves registered and active (logs and work dirs in $root).
  Web / state:  $master_url/ and $master_url/master/state
  Run a task:   $bin/stoa-execute --master=127.0.0.1:$master_port --name=hello --command="echo hello"
${services_msg}${lb_msg}  Stop it:      deploy/local-cluster.sh stop
MSG

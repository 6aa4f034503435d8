#!/usr/bin/env bash
# deploy/netns-cluster.sh for real: `up` builds the four-host topology in
# network namespaces, this checks it from the root namespace through the
# bridge, `down` must leave no namespace, link or process (and be
# idempotent). Exits 77 (skipped, with the reason) without root, `ip netns`,
# the binaries, java + zookeeper, haproxy, curl or jq.
#
#   netns_cluster_test.sh BUILD_DIR
set -uo pipefail

. "$(dirname "$0")/netns_common.sh" netns_cluster_test.sh "${1:-}"
netns_require_base
netns_take_cluster_lock

failures=0
check() {
  local what="$1"
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAILED: $what"
    failures=$((failures + 1))
  fi
}

run="$(mktemp -d /tmp/stoa-netns-cluster-test-XXXXXX)"
cleanup() {
  "$script" down --dir "$run" > /dev/null 2>&1 || true
  if [ "$failures" -eq 0 ]; then rm -rf "$run"; else echo "(kept $run)"; fi
}
trap cleanup EXIT

# 9>&-: the cluster's processes must not hold the test lock.
if ! "$script" up --bin "$bin" --dir "$run" 9>&-; then
  failures=$((failures + 1))
  echo "FAILED: deploy/netns-cluster.sh up"
  exit 1
fi

# Asked from the root namespace, exactly one master leads (200 with its
# state); the standbys redirect (307) to it.
leader_port=""
leaders=0
declare -A codes locations
for port in 5050 5060 5070; do
  code=$(curl -s --max-time 5 -D "$run/headers.$port" -o "$run/state.$port" -w '%{http_code}' \
    "http://198.18.0.12:$port/master/state")
  codes[$port]="$code"
  locations[$port]=$(tr -d '\r' < "$run/headers.$port" | sed -n 's/^[Ll]ocation: *//p')
  [ "$code" = 200 ] || continue
  leaders=$((leaders + 1))
  leader_port="$port"
  state=$(cat "$run/state.$port")
  check "the leader (:$port) is itself the leader it names, on host2" \
    test "$(jq -r '.leader' <<< "$state")" = "master@198.18.0.12:$port" -a "$(jq -r '.pid' <<< "$state")" = \
    "master@198.18.0.12:$port"
  check "the leader lists both slaves active, by their host addresses" \
    test "$(jq -r '[.slaves[] | select(.active) | .hostname] | sort | join(",")' <<< "$state")" = \
    "198.18.0.11,198.18.0.13"
  check "the leader announces its fixed actor port $((port + 10000))" \
    test "$(jq -r '.leader_info.actor_port' <<< "$state")" = "$((port + 10000))"
  check "stoa-services is a registered framework of the leader" \
    test "$(jq -r '[.frameworks[] | select(.name == "marathon")] | length' <<< "$state")" = 1
done
check "exactly one master leads" test "$leaders" = 1
for port in 5050 5060 5070; do
  [ "$port" = "$leader_port" ] && continue
  check "standby :$port redirects to the leader (${codes[$port]} ${locations[$port]})" \
    test "${codes[$port]}" = 307 -a "${locations[$port]}" = "//198.18.0.12:$leader_port/master/state"
done
check "stoa-services answers /v2/info on 198.18.0.12:8080" \
  bash -c 'curl -sf --max-time 5 http://198.18.0.12:8080/v2/info | grep -q "\"frameworkId\":\"[^\"]"'
check "stoa-lb's HAProxy answers /haproxy?stats on 198.18.0.14:9090" \
  curl -sf --max-time 5 -o /dev/null "http://198.18.0.14:9090/haproxy?stats"
check "status reports it up" bash -c "'$script' status --dir '$run' | grep -q '^netns-cluster: up'"

cp "$run/pids" "$run/pids.started"
check "down succeeds" "$script" down --dir "$run"
for ns in stoa-host1 stoa-host2 stoa-host3 stoa-host4; do
  check "namespace $ns is gone" bash -c "! ip netns list | grep -q '^$ns\\b'"
done
for link in stoa-br0 stoa-veth1 stoa-veth2 stoa-veth3 stoa-veth4; do
  check "link $link is gone" bash -c "! ip link show dev $link > /dev/null 2>&1"
done
while read -r name pid ns; do
  check "$name (pid $pid) is gone" bash -c "! [ -e /proc/$pid ] || [ \"\$(awk '{print \$3}' /proc/$pid/stat)\" = Z ]"
done < "$run/pids.started"
check "a second down, without --dir, succeeds (idempotent)" "$script" down
check "status reports it down" bash -c "'$script' status --dir '$run' | grep -q '^netns-cluster: down'"

if [ "$failures" -gt 0 ]; then
  echo "$failures checks failed"
  exit 1
fi
echo "all checks passed"

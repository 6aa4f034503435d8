#!/usr/bin/env bash
# The user's four-host topology on one machine, each "host" a network
# namespace (docs/multi-host.md, "Four hosts on one machine"):
#
#   stoa-host1 198.18.0.11  stoa-slave
#   stoa-host2 198.18.0.12  3 x stoa-master (ports 5050/5060/5070, --quorum=2) + stoa-services (8080)
#   stoa-host3 198.18.0.13  stoa-slave
#   stoa-host4 198.18.0.14  ZooKeeper (2181) + stoa-lb with HAProxy (stats on 9090)
#              (with --zk-ensemble: three ZooKeeper servers, on 198.18.0.14,
#              198.18.0.24 and 198.18.0.34, all addresses of host4)
#
# joined by veth pairs to the bridge stoa-br0 (198.18.0.1/24) in the root
# namespace, so every web UI answers from the root namespace.
#
#   deploy/netns-cluster.sh up [--bin DIR] [--dir DIR] [--zk-ensemble]   start it; waits until it works
#   deploy/netns-cluster.sh status [--dir DIR]                           what runs, who leads
#   deploy/netns-cluster.sh down [--dir DIR]                             stop it all, leave nothing
#
#   --bin DIR        the built binaries (default: build/bin of this checkout)
#   --dir DIR        logs, pids, work dirs (default: run/netns-cluster of this checkout)
#   --zk-ensemble    three ZooKeeper servers (quorum 2) instead of one; every
#                    zk:// URL lists all three (also STOA_NETNS_ZK_ENSEMBLE=1)
#   STOA_NETNS_TIMEOUT (60): seconds each start-up step may take
#   STOA_NETNS_GRACE (10): seconds between SIGTERM and SIGKILL in `down`
#   STOA_NETNS_MASTER_FLAGS, STOA_NETNS_SLAVE_FLAGS, STOA_NETNS_SERVICES_FLAGS,
#   STOA_NETNS_LB_FLAGS: more flags for every master / slave / stoa-services /
#     stoa-lb, split on blanks (e.g. STOA_NETNS_MASTER_FLAGS="--slave_ping_timeout=1secs")
#
# Needs root and `ip netns` (iproute2), java + Debian's zookeeper package and
# haproxy. It builds nothing.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
script="$repo/deploy/netns-cluster.sh"
bridge=stoa-br0
bridge_ip=198.18.0.1
hosts=(1 2 3 4)
zk_jar=/usr/share/java/zookeeper.jar
haproxy_bin=/usr/sbin/haproxy
timeout="${STOA_NETNS_TIMEOUT:-60}"
grace="${STOA_NETNS_GRACE:-10}"
zk_ensemble="${STOA_NETNS_ZK_ENSEMBLE:-0}"
# More flags per role, split on blanks (documented above).
read -r -a master_flags <<< "${STOA_NETNS_MASTER_FLAGS:-}"
read -r -a slave_flags <<< "${STOA_NETNS_SLAVE_FLAGS:-}"
read -r -a services_flags <<< "${STOA_NETNS_SERVICES_FLAGS:-}"
read -r -a lb_flags <<< "${STOA_NETNS_LB_FLAGS:-}"

ns_of() { echo "stoa-host$1"; }
ip_of() { echo "198.18.0.1$1"; }
veth_of() { echo "stoa-veth$1"; }
zk_ip=$(ip_of 4)
# The ZooKeeper servers (set by up): one on host4's address, or with
# --zk-ensemble three, on host4's address and two more on its eth0.
zk_ips=("$zk_ip")
zk_ensemble_ips=("$zk_ip" 198.18.0.24 198.18.0.34)
zk_hosts() {
  local ip out=""
  for ip in "${zk_ips[@]}"; do out+="${out:+,}$ip:2181"; done
  echo "$out"
}
master_ip=$(ip_of 2)
master_ports=(5050 5060 5070)

say() { echo "netns-cluster: $*"; }
die() {
  echo "netns-cluster: $*" >&2
  exit 1
}

usage() {
  sed -n '15,17p' "$script" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

need_root_and_netns() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, veths and a bridge); run it as root"
  command -v ip > /dev/null || die "needs the ip command (iproute2)"
  ip netns list > /dev/null 2>&1 || die "\`ip netns\` does not work here ($(ip netns list 2>&1 | head -1))"
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
link_exists() { ip link show dev "$1" > /dev/null 2>&1; }

# Alive and not a zombie (a process reparented to a reaper that never waits).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2> /dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# The run dir of the cluster that is up: kept as the bridge's alias.
live_dir() { ip -o link show dev "$bridge" 2> /dev/null | sed -n 's/.* alias \(.*\)$/\1/p' || true; }

# ---------------------------------------------------------------------------
# down

# TERMs `pids`, KILLs what is still there after the grace period.
stop_pids() {
  local pid left=()
  [ $# -eq 0 ] && return 0
  kill -TERM "$@" 2> /dev/null || true
  local deadline=$((SECONDS + grace))
  while :; do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.1
  done
  say "SIGKILL to ${left[*]} (still running ${grace}s after SIGTERM)"
  kill -KILL "${left[@]}" 2> /dev/null || true
  deadline=$((SECONDS + 5))
  while [ "$SECONDS" -lt "$deadline" ]; do
    left=()
    for pid in "$@"; do alive "$pid" && left+=("$pid"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
}

down() {
  local dir="$1" name pid ns pids=() i
  if [ -z "$dir" ]; then
    dir=$(live_dir)
    [ -n "$dir" ] || dir="$repo/run/netns-cluster"
  fi
  # 1. The processes `up` started, by the pids it recorded (only those still
  #    in the namespace they were started in: a pid may have been reused).
  if [ -f "$dir/pids" ]; then
    while read -r name pid ns; do
      alive "$pid" && [ "$(ip netns identify "$pid" 2> /dev/null)" = "$ns" ] && pids+=("$pid")
    done < "$dir/pids"
    [ ${#pids[@]} -gt 0 ] && say "stopping ${#pids[@]} processes (SIGTERM, SIGKILL after ${grace}s)"
    stop_pids "${pids[@]}"
  fi
  # 2. Whatever they left in the namespaces (executors, tasks, HAProxy).
  for i in "${hosts[@]}"; do
    ns=$(ns_of "$i")
    ns_exists "$ns" || continue
    pids=()
    for pid in $(ip netns pids "$ns" 2> /dev/null); do alive "$pid" && pids+=("$pid"); done
    if [ ${#pids[@]} -gt 0 ]; then
      say "stopping ${#pids[@]} more processes left in $ns: ${pids[*]}"
      stop_pids "${pids[@]}"
    fi
  done
  # 3. The network: a namespace's deletion takes its veth end and the peer.
  for i in "${hosts[@]}"; do
    ns=$(ns_of "$i")
    ns_exists "$ns" && { ip netns del "$ns" || true; }
  done
  # The kernel removes the root ends of the veths shortly after.
  local deadline=$((SECONDS + 5)) veths
  while :; do
    veths=()
    for i in "${hosts[@]}"; do link_exists "$(veth_of "$i")" && veths+=("$(veth_of "$i")"); done
    [ ${#veths[@]} -eq 0 ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.1
  done
  for i in "${veths[@]}"; do ip link del "$i" 2> /dev/null || true; done
  link_exists "$bridge" && { ip link del "$bridge" || true; }
  # 4. Check that nothing is left.
  local left=()
  for i in "${hosts[@]}"; do
    ns_exists "$(ns_of "$i")" && left+=("namespace $(ns_of "$i")")
    link_exists "$(veth_of "$i")" && left+=("link $(veth_of "$i")")
  done
  link_exists "$bridge" && left+=("link $bridge")
  if [ -f "$dir/pids" ]; then
    while read -r name pid ns; do
      alive "$pid" && [ "$(ip netns identify "$pid" 2> /dev/null)" = "$ns" ] && left+=("process $name ($pid)")
    done < "$dir/pids"
  fi
  if [ ${#left[@]} -gt 0 ]; then
    die "could not remove: ${left[*]}"
  fi
  rm -f "$dir/pids"
  say "down: no stoa-host* namespace, no $bridge or stoa-veth* link, no process of the cluster left" \
    "(logs kept in $dir/logs)"
}

# ---------------------------------------------------------------------------
# up

# Fails the start: why, the tail of a log, then tears everything down.
fail() {
  local why="$1" log="${2:-}"
  echo "netns-cluster: $why" >&2
  if [ -n "$log" ] && [ -s "$log" ]; then
    echo "----- last lines of $log -----" >&2
    tail -20 "$log" >&2
    echo "-----" >&2
  fi
  down "$dir" >&2 || true
  exit 1
}

# start NAME HOST ENV... -- ARGV...: runs ARGV in host HOST's namespace with
# ENV, output to logs/NAME.log, and records "NAME PID NAMESPACE".
start() {
  local name="$1" host="$2" envs=()
  shift 2
  while [ "$1" != -- ]; do
    envs+=("$1")
    shift
  done
  shift
  # `ip netns exec` execs the command: $! is the process itself.
  ip netns exec "$(ns_of "$host")" env "${envs[@]}" "$@" < /dev/null > "$dir/logs/$name.log" 2>&1 &
  echo "$name $! $(ns_of "$host")" >> "$dir/pids"
}

# Fails when the process recorded as NAME exited.
check_alive() {
  local name="$1" pid
  pid=$(awk -v n="$name" '$1 == n {print $2}' "$dir/pids")
  alive "$pid" || fail "$name exited at start (see $dir/logs/$name.log)" "$dir/logs/$name.log"
}

# wait_for WHAT CHECK NAMES...: polls CHECK until it succeeds, failing when
# one of NAMES exits or after $timeout seconds.
wait_for() {
  local what="$1" check="$2" name
  shift 2
  local deadline=$((SECONDS + timeout))
  until $check; do
    for name in "$@"; do check_alive "$name"; done
    if [ "$SECONDS" -ge "$deadline" ]; then
      local logs=""
      for name in "$@"; do logs+=" $dir/logs/$name.log"; done
      fail "$what: not within ${timeout}s (logs:$logs)" "$dir/logs/${1}.log"
    fi
    sleep 0.2
  done
}

# The server's mode (standalone, leader, follower) from its `srvr` answer.
zk_mode() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$1/2181 && printf srvr >&3 && cat <&3" 2> /dev/null |
    sed -n 's/^Mode: //p'
}

# Every server serves: standalone, or (ensemble) one leader and the others following.
zk_serving() {
  local ip mode modes=()
  for ip in "${zk_ips[@]}"; do
    mode=$(zk_mode "$ip") || return 1
    [ -n "$mode" ] || return 1
    modes+=("$mode")
  done
  [ ${#zk_ips[@]} -eq 1 ] || [ "$(printf '%s\n' "${modes[@]}" | grep -c '^leader$')" -eq 1 ]
}

# The leading master's /master/state (fetched from the root namespace
# through the bridge), in $leader_state and its port in $leader_port.
find_leader() {
  local port json
  for port in "${master_ports[@]}"; do
    json=$(curl -sf --max-time 2 "http://$master_ip:$port/master/state" 2> /dev/null) || continue
    if [ "$(jq -r '(.leader // "") != "" and .pid == .leader' <<< "$json" 2> /dev/null)" = true ]; then
      leader_state="$json"
      leader_port="$port"
      return 0
    fi
  done
  return 1
}

slaves_registered() {
  find_leader || return 1
  [ "$(jq -r '[.slaves[] | select(.active) | .hostname] | sort | join(",")' <<< "$leader_state")" = \
    "$(ip_of 1),$(ip_of 3)" ]
}

services_subscribed() {
  curl -sf --max-time 2 "http://$master_ip:8080/v2/info" 2> /dev/null | grep -q '"frameworkId":"[^"]'
}

lb_serving() { curl -sf --max-time 2 "http://$zk_ip:9090/haproxy?stats;csv" > /dev/null 2>&1; }

up() {
  local bin="$1" i ns b
  need_root_and_netns
  for b in stoa-master stoa-slave stoa-executor stoa-services stoa-lb; do
    [ -x "$bin/$b" ] || die "$bin/$b is missing (build it, or give --bin DIR)"
  done
  command -v java > /dev/null || die "needs java (Debian's default-jre-headless) for ZooKeeper"
  [ -r "$zk_jar" ] || die "needs Debian's zookeeper package ($zk_jar is missing)"
  [ -x "$haproxy_bin" ] || die "needs haproxy ($haproxy_bin is missing)"
  command -v curl > /dev/null || die "needs curl"
  command -v jq > /dev/null || die "needs jq"
  for i in "${hosts[@]}"; do
    ns_exists "$(ns_of "$i")" && die "namespace $(ns_of "$i") exists: the cluster is up ($script down first)"
  done
  link_exists "$bridge" && die "link $bridge exists: the cluster is up ($script down first)"

  # A fresh cluster: no state of an earlier run (ZooKeeper's data, the
  # registry, slave checkpoints) is reused.
  mkdir -p "$dir"
  rm -rf "$dir/zookeeper" "$dir/zookeeper1" "$dir/zookeeper2" "$dir/zookeeper3" \
    "$dir/master1" "$dir/master2" "$dir/master3" "$dir/slave1" "$dir/slave3" "$dir/lb" "$dir/logs" "$dir/pids"
  mkdir -p "$dir/logs" "$dir/lb/run"
  : > "$dir/pids"
  trap 'fail "interrupted"' INT TERM

  ip link add "$bridge" type bridge || fail "cannot create the bridge $bridge"
  ip link set "$bridge" alias "$dir"
  ip addr add "$bridge_ip/24" dev "$bridge"
  ip link set "$bridge" up
  for i in "${hosts[@]}"; do
    ns=$(ns_of "$i")
    ip netns add "$ns" || fail "cannot create namespace $ns"
    ip link add "$(veth_of "$i")" type veth peer name eth0 netns "$ns" ||
      fail "cannot create the veth pair $(veth_of "$i") / $ns:eth0"
    ip link set "$(veth_of "$i")" master "$bridge"
    ip link set "$(veth_of "$i")" up
    ip -n "$ns" addr add "$(ip_of "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$bridge_ip"
  done
  # An ensemble's second and third servers: more addresses of host4.
  for i in "${zk_ips[@]:1}"; do
    ip -n "$(ns_of 4)" addr add "$i/24" dev eth0
  done

  # host4: ZooKeeper, one server or an ensemble of three (server k serves
  # on zk_ips[k-1]; the peer and election ports bind that address only).
  local k=1 zk_name zk_names=() ip servers=""
  if [ ${#zk_ips[@]} -gt 1 ]; then
    for ip in "${zk_ips[@]}"; do
      servers+="server.$k=$ip:2888:3888"$'\n'
      k=$((k + 1))
    done
  fi
  k=1
  for ip in "${zk_ips[@]}"; do
    zk_name=zookeeper
    [ ${#zk_ips[@]} -gt 1 ] && zk_name="zookeeper$k"
    zk_names+=("$zk_name")
    mkdir -p "$dir/$zk_name/data"
    [ ${#zk_ips[@]} -gt 1 ] && echo "$k" > "$dir/$zk_name/data/myid"
    cat > "$dir/$zk_name/zoo.cfg" << CFG
tickTime=500
initLimit=20
syncLimit=10
maxSessionTimeout=60000
dataDir=$dir/$zk_name/data
clientPort=2181
clientPortAddress=$ip
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok,stat,cons
CFG
    printf '%s' "$servers" >> "$dir/$zk_name/zoo.cfg"
    start "$zk_name" 4 -- java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -cp "$dir/$zk_name:$zk_jar" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/$zk_name/zoo.cfg"
    k=$((k + 1))
  done
  wait_for "ZooKeeper serving on $(zk_hosts)" zk_serving "${zk_names[@]}"

  # host2: three masters, quorum 2; host1 and host3: slaves; host2: the services.
  local port zk
  zk="zk://$(zk_hosts)"
  k=1
  for port in "${master_ports[@]}"; do
    start "master$k" 2 MESOS_PORT="$port" MESOS_ZK="$zk/mesos" MESOS_QUORUM=2 \
      MESOS_WORK_DIR="$dir/master$k" -- "$bin/stoa-master" --ip="$master_ip" --no-hostname_lookup \
      "${master_flags[@]}"
    k=$((k + 1))
  done
  for i in 1 3; do
    start "slave$i" "$i" MESOS_PORT=5051 MESOS_MASTER="$zk/mesos" MESOS_SWITCH_USER=0 \
      MESOS_CONTAINERIZERS=mesos MESOS_WORK_DIR="$dir/slave$i" -- \
      "$bin/stoa-slave" --no-systemd_enable_support --ip="$(ip_of "$i")" --no-hostname_lookup \
      "${slave_flags[@]}"
  done
  # stoa-services has no --ip: --hostname (an IPv4 address) is where it serves.
  start services 2 -- "$bin/stoa-services" --master "$zk/mesos" --zk "$zk/marathon" \
    --hostname "$master_ip" --http_port 8080 "${services_flags[@]}"
  wait_for "a master leading" find_leader master1 master2 master3
  wait_for "both slaves registered with the leading master" slaves_registered slave1 slave3 master1 master2 master3
  wait_for "stoa-services subscribed (/v2/info names its framework id)" services_subscribed services

  # host4: the load balancer.
  start lb 4 PORTS=9090 -- "$bin/stoa-lb" sse --group external --marathon "http://$master_ip:8080" \
    --haproxy-bin "$haproxy_bin" --haproxy-config "$dir/lb/haproxy.cfg" --run-dir "$dir/lb/run" \
    --dont-bind-http-https "${lb_flags[@]}"
  wait_for "stoa-lb's HAProxy serving its stats on $zk_ip:9090" lb_serving lb
  trap - INT TERM

  find_leader
  cat << MSG
Stoa netns cluster up (logs in $dir/logs, pids in $dir/pids):
  stoa-host4 $zk_ip  ZooKeeper       $zk/mesos
  stoa-host2 $master_ip  masters         http://$master_ip:5050/  http://$master_ip:5060/  http://$master_ip:5070/
                          leading         http://$master_ip:$leader_port/ ($(jq -r .leader <<< "$leader_state"))
  stoa-host2 $master_ip  stoa-services   http://$master_ip:8080/  (Marathon's API: /v2/apps)
  stoa-host1 $(ip_of 1)  stoa-slave      http://$(ip_of 1):5051/
  stoa-host3 $(ip_of 3)  stoa-slave      http://$(ip_of 3):5051/
  stoa-host4 $zk_ip  stoa-lb         http://$zk_ip:9090/haproxy?stats  (apps with HAPROXY_GROUP=external)
  A command in a host:  ip netns exec stoa-host2 <command>
  Stop it:              $script down
MSG
}

# ---------------------------------------------------------------------------
# status

status() {
  local dir="$1" name pid ns i state up=0
  need_root_and_netns
  if [ -z "$dir" ]; then
    dir=$(live_dir)
    [ -n "$dir" ] || dir="$repo/run/netns-cluster"
  fi
  for i in "${hosts[@]}"; do
    ns_exists "$(ns_of "$i")" && up=1
  done
  link_exists "$bridge" && up=1
  if [ "$up" -eq 0 ]; then
    echo "netns-cluster: down (no stoa-host* namespace, no $bridge)"
    return 0
  fi
  echo "netns-cluster: up, run dir $dir"
  for i in "${hosts[@]}"; do
    ns=$(ns_of "$i")
    if ns_exists "$ns"; then
      echo "  $ns $(ip_of "$i"): $(ip netns pids "$ns" | wc -l) processes"
    else
      echo "  $ns: missing"
    fi
  done
  if [ -f "$dir/pids" ]; then
    while read -r name pid ns; do
      state=exited
      alive "$pid" && [ "$(ip netns identify "$pid" 2> /dev/null)" = "$ns" ] && state=running
      printf '  %-10s pid %-8s %-11s %s\n' "$name" "$pid" "$ns" "$state"
    done < "$dir/pids"
  fi
  # The servers' modes: the ensemble's three when it runs one, else the one.
  local ip mode ips=("$zk_ip")
  if [ -f "$dir/pids" ] && grep -q '^zookeeper1 ' "$dir/pids"; then ips=("${zk_ensemble_ips[@]}"); fi
  for ip in "${ips[@]}"; do
    mode=$(zk_mode "$ip") || mode=""
    echo "  ZooKeeper on $ip:2181: ${mode:-not answering}"
  done
  if find_leader; then
    echo "  leading master: $(jq -r .leader <<< "$leader_state")," \
      "$(jq -r .activated_slaves <<< "$leader_state") slaves active"
  else
    echo "  no master leads"
  fi
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
bin="$repo/build/bin"
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin="${2:?--bin needs a directory}"; shift 2 ;;
    --bin=*) bin="${1#--bin=}"; shift ;;
    --dir) dir="${2:?--dir needs a directory}"; shift 2 ;;
    --dir=*) dir="${1#--dir=}"; shift ;;
    --zk-ensemble) zk_ensemble=1; shift ;;
    *) echo "netns-cluster: unknown argument '$1'" >&2; usage ;;
  esac
done
case "$cmd" in
  up)
    [ -n "$dir" ] || dir="$repo/run/netns-cluster"
    dir="$(mkdir -p "$dir" && cd "$dir" && pwd)" || die "--dir: cannot create $dir"
    bin="$(cd "$bin" 2> /dev/null && pwd)" || die "--bin: no directory $bin"
    case "$zk_ensemble" in
      1) zk_ips=("${zk_ensemble_ips[@]}") ;;
      0 | "") ;;
      *) die "STOA_NETNS_ZK_ENSEMBLE: '$zk_ensemble' is neither 0 nor 1" ;;
    esac
    up "$bin"
    ;;
  down)
    need_root_and_netns
    [ -z "$dir" ] || dir="$(cd "$dir" 2> /dev/null && pwd)" || die "--dir: no directory $dir"
    down "$dir"
    ;;
  status)
    [ -z "$dir" ] || dir="$(cd "$dir" 2> /dev/null && pwd)" || die "--dir: no directory $dir"
    status "$dir"
    ;;
  *) usage ;;
esac

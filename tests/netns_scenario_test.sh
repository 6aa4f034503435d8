#!/usr/bin/env bash
# The user's scenario (issue #15) on the four-host netns topology of
# deploy/netns-cluster.sh, with a 3-node ZooKeeper ensemble on host4, every
# step checked from the root namespace through the bridge and each wait a
# poll with a deadline:
#   0. the ensemble: one ZooKeeper leader, two followers; the masters' --zk lists all three
#   a. the `while [ true ];do sleep 5;echo 'hello mesos' ;done` app, created through
#      stoa-services' REST API (host2:8080), runs on host1 / host3
#   b. its stdout shows `hello mesos` through the leading master's /files (browse + read)
#   c. the LB's :9090/haproxy?stats answers from host4 (from the root namespace and from host1)
#   d. an app with a service port (HAPROXY_GROUP external) answers through HAProxy on host4
#   e. a slave's link down -> its tasks are replaced on the other slave within the ping
#      timeout; link up -> reconciled: the slave is back, its replaced tasks killed, every
#      app at its instance count, no task id running twice, services and master agree
#   f. kill -9 of the leading master -> a standby leads, stoa-services is subscribed to it
#      and the same task ids keep running
#   g. kill -9 of the ZooKeeper leader -> the other two elect one, every session moves
#      to them (none expires), a scale-up (a ZooKeeper write) runs, the same master leads
# Exits 77 (skipped, with the reason) without root, `ip netns`, the binaries,
# java + zookeeper, haproxy, curl, jq or busybox httpd / python3. 25-45 s.
#
#   netns_scenario_test.sh BUILD_DIR
set -uo pipefail

. "$(dirname "$0")/netns_common.sh" netns_scenario_test.sh "${1:-}"
netns_require_base
# The web app's server: busybox httpd, else python3's http.server.
if command -v busybox > /dev/null && busybox --list 2> /dev/null | grep -qx httpd; then
  web_cmd="mkdir -p www && echo \"stoa web on \$HOST:\$PORT0\" > www/index.html && exec $(command -v busybox) httpd -f -p \$PORT0 -h www"
elif [ -x /usr/bin/python3 ]; then
  web_cmd="mkdir -p www && echo \"stoa web on \$HOST:\$PORT0\" > www/index.html && cd www && exec /usr/bin/python3 -m http.server \$PORT0"
else
  skip "needs busybox (with httpd) or /usr/bin/python3 for the web app"
fi
netns_take_cluster_lock

host_ip() { echo "198.18.0.1$1"; }
master_ip=198.18.0.12
lb_ip=198.18.0.14
services="http://$master_ip:8080"
master_ports=(5050 5060 5070)
zk_servers=(198.18.0.14 198.18.0.24 198.18.0.34)
# Short partition detection: 3 missed pings of 1 s mark a slave unreachable;
# a killed leader's ZooKeeper session ends after 5 s.
ping_timeout_s=3
export STOA_NETNS_MASTER_FLAGS="--slave_ping_timeout=1secs --max_slave_ping_timeouts=$ping_timeout_s --zk_session_timeout=5secs"

run="$(mktemp -d /tmp/stoa-netns-scenario-test-XXXXXX)"
failed=0
cleanup() {
  "$script" down --dir "$run" > /dev/null 2>&1 || true
  if [ "$failed" -eq 0 ]; then rm -rf "$run"; else echo "(kept $run: logs/, pids)"; fi
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }
t_start=$(now_ms)
step_start=0
step() {
  step_start=$(now_ms)
  echo "== step $1"
}
step_done() { echo "   step $1 took $(secs_since "$step_start") s"; }

# Ends the test: what failed, the state it saw, the ends of the logs.
fail() {
  failed=1
  echo "FAILED: $*"
  [ -n "${last:-}" ] && echo "last seen: ${last:0:2000}"
  for log in "$run"/logs/*.log; do
    echo "----- last lines of $log"
    tail -5 "$log" | cut -c1-400
  done
  exit 1
}
ok() { echo "ok: $*"; }

# poll SECONDS WHAT CMD...: runs CMD until it succeeds (then says how long it
# took) or SECONDS passed (then fails the test). CMD may set $last to show.
poll() {
  local limit="$1" what="$2" begin
  shift 2
  begin=$(now_ms)
  last=""
  while ! "$@"; do
    [ $(($(now_ms) - begin)) -ge $((limit * 1000)) ] && fail "$what: not within ${limit}s"
    sleep 0.2
  done
  ok "$what ($(secs_since "$begin") s)"
}

# The leading master's port in $leader and its /master/state in $state.
find_leader() {
  local port json
  for port in "${master_ports[@]}"; do
    [ "$port" = "${dead_port:-}" ] && continue
    json=$(curl -sf --max-time 2 "http://$master_ip:$port/master/state" 2> /dev/null) || continue
    if [ "$(jq -r '(.leader // "") != "" and .pid == .leader' <<< "$json")" = true ]; then
      leader="$port"
      state="$json"
      last="$json"
      return 0
    fi
  done
  return 1
}

# POST /v2/apps: 201 expected.
create_app() {
  local code
  code=$(curl -s --max-time 10 -o "$run/create.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    "$services/v2/apps" -d "$1")
  [ "$code" = 201 ] || fail "POST /v2/apps answered $code: $(cat "$run/create.out")"
}

# running APP N: stoa-services lists exactly N tasks of APP, all TASK_RUNNING
# on one of the slaves given after N (default: either).
running() {
  local app="$1" n="$2" hosts
  shift 2
  [ $# -gt 0 ] || set -- "$(host_ip 1)" "$(host_ip 3)"
  hosts=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
  last=$(curl -sf --max-time 2 "$services/v2/apps/$app/tasks") || return 1
  [ "$(jq --argjson hosts "$hosts" '[.tasks[] | select(.state == "TASK_RUNNING" and
      (.host as $h | $hosts | index($h)))] | length' <<< "$last")" = "$n" ] &&
    [ "$(jq '.tasks | length' <<< "$last")" = "$n" ]
}

# ---------------------------------------------------------------------------
step "up: deploy/netns-cluster.sh up --zk-ensemble (pings 1 s x $ping_timeout_s)"
# 9>&-: the cluster's processes must not hold the test lock.
"$script" up --bin "$bin" --dir "$run" --zk-ensemble 9>&- || fail "deploy/netns-cluster.sh up --zk-ensemble"
step_done up

step "0: the ZooKeeper ensemble"
modes=""
for ip in "${zk_servers[@]}"; do
  mode=$(timeout 2 bash -c "exec 3<>/dev/tcp/$ip/2181 && printf srvr >&3 && cat <&3" 2> /dev/null |
    sed -n 's/^Mode: //p')
  modes+="$ip=$mode "
done
echo "   $modes"
if [ "$(grep -o '=leader' <<< "$modes" | wc -l)" != 1 ] || [ "$(grep -o '=follower' <<< "$modes" | wc -l)" != 2 ]; then
  fail "the ensemble: expected one leader and two followers, got: $modes"
fi
ok "one ZooKeeper leader and two followers on host4's three addresses"
zk_url="zk://198.18.0.14:2181,198.18.0.24:2181,198.18.0.34:2181/mesos"
poll 10 "a master leads" find_leader
zk=$(curl -sf --max-time 2 "http://$master_ip:$leader/master/flags" | jq -r '.flags.zk')
[ "$zk" = "$zk_url" ] || fail "the leading master runs with --zk=$zk, not $zk_url"
for k in 1 2 3; do
  grep -qF "contending for leadership at $zk_url" "$run/logs/master$k.log" ||
    fail "master$k did not contend at $zk_url (its log: $run/logs/master$k.log)"
done
ok "the three masters contend at $zk_url"
step_done 0

step "a: the hello app through stoa-services' REST API"
create_app '{"id": "/hello", "cmd": "while [ true ];do sleep 5;echo '"'"'hello mesos'"'"' ;done",
  "cpus": 0.1, "mem": 32, "instances": 2,
  "constraints": [["hostname", "LIKE", "198\\.18\\.0\\.(11|13)"]]}'
ok "POST /v2/apps /hello: 201"
poll 30 "both /hello instances TASK_RUNNING on host1 or host3" running hello 2
step_done a

step "b: its stdout through the leading master's /files"
find_leader || fail "no master leads"
task=$(jq -c '[.frameworks[].tasks[] | select(.name == "hello")][0]' <<< "$state")
sandbox="/frameworks/$(jq -r .framework_id <<< "$task")/executors/$(jq -r .id <<< "$task")/runs/latest"
slave_id=$(jq -r .slave_id <<< "$task")
browse_lists_stdout() {
  last=$(curl -sf --max-time 5 -G "http://$master_ip:$leader/files/browse" --data-urlencode "slave_id=$slave_id" \
    --data-urlencode "path=$sandbox") || return 1
  [ "$(jq --arg p "$sandbox/stdout" '[.[] | select(.path == $p)] | length' <<< "$last")" = 1 ]
}
stdout_says_hello() {
  last=$(curl -sf --max-time 5 -G "http://$master_ip:$leader/files/read" --data-urlencode "slave_id=$slave_id" \
    --data-urlencode "path=$sandbox/stdout" --data-urlencode offset=0) || return 1
  jq -r .data <<< "$last" | grep -qx 'hello mesos'
}
poll 10 "/files/browse on master :$leader lists $sandbox/stdout" browse_lists_stdout
poll 20 "/files/read of that stdout shows 'hello mesos'" stdout_says_hello
step_done b

step "c: the LB's stats page on host4"
lb_stats() { curl -sf --max-time 5 "http://$lb_ip:9090/haproxy?stats" | grep -q 'Statistics Report'; }
poll 10 "http://$lb_ip:9090/haproxy?stats answers (from the root namespace)" lb_stats
lb_stats_from_host1() {
  ip netns exec stoa-host1 curl -sf --max-time 5 "http://$lb_ip:9090/haproxy?stats" | grep -q 'Statistics Report'
}
poll 10 "the same from inside stoa-host1" lb_stats_from_host1
step_done c

step "d: an app with a service port, through HAProxy on host4"
create_app "$(jq -n --arg cmd "$web_cmd" '{id: "/web", cmd: $cmd, cpus: 0.1, mem: 32, instances: 2,
  labels: {HAPROXY_GROUP: "external"}, portDefinitions: [{port: 10001, protocol: "tcp", name: "http"}]}')"
ok "POST /v2/apps /web (service port 10001, HAPROXY_GROUP external): 201"
poll 30 "both /web instances TASK_RUNNING" running web 2
# Both instances answer through the service port (HAProxy balances round robin).
declare -A answers=()
both_backends_answer() {
  local a
  a=$(curl -sf --max-time 2 "http://$lb_ip:10001/") || return 1
  last="$a"
  answers["$a"]=1
  [ ${#answers[@]} -ge 2 ]
}
poll 30 "both /web instances answer through http://$lb_ip:10001/" both_backends_answer
printf '   %s\n' "${!answers[@]}"
step_done d

step "e: a slave's link down, then up"
tasks_before=$(curl -sf "$services/v2/tasks") || fail "GET /v2/tasks"
# host1 as in the user's notes, unless every task landed on host3.
victim=1
survivor=3
if [ "$(jq --arg h "$(host_ip 1)" '[.tasks[] | select(.host == $h)] | length' <<< "$tasks_before")" = 0 ]; then
  victim=3
  survivor=1
fi
victim_ip=$(host_ip $victim)
survivor_ip=$(host_ip $survivor)
victim_ids=$(jq -r --arg h "$victim_ip" '[.tasks[] | select(.host == $h) | .id] | sort | .[]' <<< "$tasks_before")
echo "   taking host$victim ($victim_ip) down; its tasks: ${victim_ids//$'\n'/ }"
find_leader || fail "no master leads"
victim_slave=$(jq -r --arg h "$victim_ip" '.slaves[] | select(.hostname == $h) | .id' <<< "$state")
ip link set "stoa-veth$victim" down || fail "ip link set stoa-veth$victim down"
down_at=$(now_ms)
replaced() {
  running hello 2 "$survivor_ip" && running web 2 "$survivor_ip"
}
poll $((ping_timeout_s + 15)) "every instance runs on host$survivor" replaced
echo "   replaced $(secs_since "$down_at") s after the link went down (ping timeout ${ping_timeout_s} s)"
find_leader || fail "no master leads"
[ "$(jq --arg s "$victim_slave" '[.slaves[] | select(.id == $s and .active)] | length' <<< "$state")" = 0 ] ||
  fail "the leader still has host$victim's slave active"
ok "the leader no longer has host$victim's slave active"
# stoa-lb rewrote HAProxy's backend: the two new instances, none on the lost slave.
backend_on_survivor() {
  last=$(awk '/^backend web_10001/ {on = 1; next} /^[^ ]/ {on = 0} on && $1 == "server" {print $3}' \
    "$run/lb/haproxy.cfg")
  [ "$(grep -c "^$survivor_ip:" <<< "$last")" = 2 ] && ! grep -q "^$victim_ip:" <<< "$last"
}
poll 20 "HAProxy's web_10001 backend lists the 2 instances on host$survivor only" backend_on_survivor
only_survivor_answers() {
  last=$(curl -sf --max-time 2 "http://$lb_ip:10001/") && grep -q "$survivor_ip" <<< "$last"
}
poll 20 "the service port answers from host$survivor" only_survivor_answers

ip link set "stoa-veth$victim" up || fail "ip link set stoa-veth$victim up"
up_at=$(now_ms)
# Reconciled: the slave is active again; none of its old tasks runs (the
# master killed them: stoa-services replaced them); the master runs exactly
# the tasks stoa-services lists, 2 per app, no id twice; nothing unreachable.
reconciled() {
  find_leader || return 1
  running hello 2 || return 1
  running web 2 || return 1
  local services_ids master_ids slave_running
  services_ids=$(curl -sf --max-time 2 "$services/v2/tasks" | jq -r '[.tasks[].id] | sort | join(",")') || return 1
  master_ids=$(jq -r '[.frameworks[].tasks[] | select(.state == "TASK_RUNNING") | .id] | sort | join(",")' <<< "$state")
  [ "$(jq --arg s "$victim_slave" '[.slaves[] | select(.id == $s and .active)] | length' <<< "$state")" = 1 ] &&
    [ "$(jq '[.frameworks[].unreachable_tasks[]?] | length' <<< "$state")" = 0 ] &&
    [ "$(jq '[.frameworks[].tasks[]] | length' <<< "$state")" = 4 ] &&
    [ "$master_ids" = "$services_ids" ] || return 1
  local id
  for id in $victim_ids; do
    [[ ",$master_ids," == *",$id,"* ]] && return 1
  done
  # The slave itself runs none of them any more.
  slave_running=$(curl -sf --max-time 2 "http://$victim_ip:5051/slave(1)/state" |
    jq -r '[.frameworks[].executors[].tasks[] | select(.state == "TASK_RUNNING") | .id] | join(",")') || return 1
  for id in $victim_ids; do
    [[ ",$slave_running," == *",$id,"* ]] && return 1
  done
  return 0
}
poll 60 "host$victim is back and reconciled (old tasks killed, 2 + 2 running, master = services)" reconciled
echo "   reconciled $(secs_since "$up_at") s after the link came back"
for id in $victim_ids; do
  st=$(jq -r --arg id "$id" '[.frameworks[].completed_tasks[] | select(.id == $id) | .state] | last // "none"' \
    <<< "$state")
  echo "   $id: $st"
done
flaps=$(cat "$run"/logs/master*.log | grep -c "Slave $victim_slave missed")
[ "$flaps" -gt 1 ] && echo "   note: the masters marked host$victim unreachable $flaps times (docs/multi-host.md," \
  "\"A partition's stale connection\")"
step_done e

step "f: kill -9 the leading master"
find_leader || fail "no master leads"
old_leader="$leader"
ids_before=$(jq -r '[.frameworks[].tasks[] | select(.state == "TASK_RUNNING") | .id] | sort | join(",")' <<< "$state")
k=$(( (old_leader - 5050) / 10 + 1 ))
pid=$(awk -v n="master$k" '$1 == n {print $2}' "$run/pids")
[ -n "$pid" ] || fail "no pid recorded for master$k (:$old_leader)"
# A running hello task's stdout, to see it grow through the next leader.
task=$(jq -c '[.frameworks[].tasks[] | select(.name == "hello" and .state == "TASK_RUNNING")][0]' <<< "$state")
sandbox="/frameworks/$(jq -r .framework_id <<< "$task")/executors/$(jq -r .id <<< "$task")/runs/latest"
slave_id=$(jq -r .slave_id <<< "$task")
stdout_size() {
  curl -sf --max-time 5 -G "http://$master_ip:$leader/files/read" --data-urlencode "slave_id=$slave_id" \
    --data-urlencode "path=$sandbox/stdout" --data-urlencode offset=-1 | jq -r .offset
}
size_before=$(stdout_size) || fail "/files/read?offset=-1 of $sandbox/stdout on :$leader"
kill -KILL "$pid" || fail "kill -9 $pid"
echo "   killed master$k (:$old_leader, pid $pid)"
k_killed="$k"
dead_port="$old_leader"
standby_leads() {
  find_leader || return 1
  local ids
  ids=$(jq -r '[.frameworks[].tasks[] | select(.state == "TASK_RUNNING") | .id] | sort | join(",")' <<< "$state")
  [ "$leader" != "$old_leader" ] &&
    [ "$(jq '[.frameworks[] | select(.name == "marathon" and .active)] | length' <<< "$state")" = 1 ] &&
    [ "$(jq '[.slaves[] | select(.active)] | length' <<< "$state")" = 2 ] &&
    [ "$ids" = "$ids_before" ]
}
poll 40 "a standby leads, stoa-services is subscribed to it, the same task ids run" standby_leads
echo "   master :$leader leads"
same_in_services() {
  last=$(curl -sf --max-time 2 "$services/v2/tasks") || return 1
  [ "$(jq -r '[.tasks[] | select(.state == "TASK_RUNNING") | .id] | sort | join(",")' <<< "$last")" = "$ids_before" ]
}
poll 20 "stoa-services lists the same task ids, all running" same_in_services
stdout_grows() {
  local size
  size=$(stdout_size) || return 1
  last="size $size, was $size_before"
  [ "$size" -gt "$size_before" ]
}
poll 20 "$(jq -r .id <<< "$task")'s stdout grows, read through the new leader's /files" stdout_grows
for port in "${master_ports[@]}"; do
  [ "$port" = "$old_leader" ] || [ "$port" = "$leader" ] && continue
  loc=$(curl -s --max-time 2 -o /dev/null -w '%{http_code} %{redirect_url}' "http://$master_ip:$port/master/state")
  [ "$loc" = "307 http://$master_ip:$leader/master/state" ] || fail "standby :$port answered '$loc'"
  ok "the other standby (:$port) redirects to :$leader"
done
step_done f

step "g: kill -9 the ZooKeeper leader"
zk_modes() {
  local ip mode
  last=""
  for ip in "${zk_servers[@]}"; do
    mode=$(timeout 2 bash -c "exec 3<>/dev/tcp/$ip/2181 && printf srvr >&3 && cat <&3" 2> /dev/null |
      sed -n 's/^Mode: //p') || mode=""
    last+="$ip=${mode:-down} "
  done
}
zk_modes
zk_leader_ip=$(tr ' ' '\n' <<< "$last" | sed -n 's/=leader$//p')
[ -n "$zk_leader_ip" ] || fail "no ZooKeeper server leads: $last"
for k in 1 2 3; do [ "${zk_servers[k - 1]}" = "$zk_leader_ip" ] && zk_name="zookeeper$k"; done
zk_pid=$(awk -v n="$zk_name" '$1 == n {print $2}' "$run/pids")
# The ZooKeeper sessions of the masters, slaves and stoa-services (`cons`
# lists each connection's session id), on the servers given.
zk_sessions() {
  local ip
  for ip in "$@"; do
    timeout 2 bash -c "exec 3<>/dev/tcp/$ip/2181 && printf cons >&3 && cat <&3" 2> /dev/null |
      grep -o 'sid=0x[0-9a-f]*' || true
  done | sort -u | tr '\n' ' '
}
sessions_before=$(zk_sessions "${zk_servers[@]}")
[ -n "$sessions_before" ] || fail "no ZooKeeper session found with cons"
kill -KILL "$zk_pid" || fail "kill -9 $zk_pid"
echo "   killed $zk_name ($zk_leader_ip, pid $zk_pid)"
master_before="$leader"
zk_new_leader() {
  zk_modes
  [ "$(grep -o '=leader' <<< "$last" | wc -l)" = 1 ] && [ "$(grep -o '=follower' <<< "$last" | wc -l)" = 1 ]
}
poll 30 "the two other servers elect a ZooKeeper leader" zk_new_leader
echo "   $last"
survivors=()
for ip in "${zk_servers[@]}"; do [ "$ip" = "$zk_leader_ip" ] || survivors+=("$ip"); done
# Every session moved to a surviving server: none expired (a master whose
# session expires stops leading), none is new.
sessions_moved() {
  last="sessions now: $(zk_sessions "${survivors[@]}"); before: $sessions_before"
  [ "$(zk_sessions "${survivors[@]}")" = "$sessions_before" ]
}
poll 30 "all $(wc -w <<< "$sessions_before") ZooKeeper sessions moved to the other two servers" sessions_moved
# Writes through the ensemble still work: stoa-services stores the scaled
# app in ZooKeeper before it launches the third instance.
code=$(curl -s --max-time 10 -o "$run/scale.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
  "$services/v2/apps/hello" -d '{"instances": 3}')
[ "$code" = 200 ] || fail "PUT /v2/apps/hello {instances: 3} answered $code: $(cat "$run/scale.out")"
poll 30 "/hello scaled to 3 running instances" running hello 3
find_leader || fail "no master leads after the ZooKeeper leader died"
[ "$leader" = "$master_before" ] || fail "master :$master_before lost its leadership to :$leader"
ok "master :$leader still leads"
for name in master1 master2 master3 slave1 slave3 services lb; do
  [ "$name" = "master$k_killed" ] && continue
  pid=$(awk -v n="$name" '$1 == n {print $2}' "$run/pids")
  [ -d "/proc/$pid" ] || fail "$name (pid $pid) exited after the ZooKeeper leader died (see $run/logs/$name.log)"
done
ok "every master, slave, stoa-services and stoa-lb still runs (but the killed master)"
step_done g

step "down"
"$script" down --dir "$run" || fail "deploy/netns-cluster.sh down"
step_done down
echo "all steps passed in $(secs_since "$t_start") s"

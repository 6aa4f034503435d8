# Sourced by tests/netns_cluster_test.sh and tests/netns_scenario_test.sh:
# the skip preamble both share. Sets $src, $script (deploy/netns-cluster.sh),
# $build and $bin from the script's BUILD_DIR argument, and defines
#   skip REASON               print "SKIPPED: REASON" and exit 77
#   netns_require_base        skip without root, `ip netns`, the binaries,
#                             java + zookeeper, haproxy, curl or jq
#   netns_take_cluster_lock   wait (up to 240 s) for any other netns cluster
#                             test, then skip if a cluster is already up
# Each script checks its own extra requirements between the two calls.
#
#   . netns_common.sh NAME BUILD_DIR
netns_name="${1:?usage: . netns_common.sh NAME BUILD_DIR}"
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
script="$src/deploy/netns-cluster.sh"
build="${2:?usage: $netns_name BUILD_DIR}"
bin="$build/bin"

skip() {
  echo "SKIPPED: $*"
  exit 77
}

netns_require_base() {
  [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, veths, a bridge)"
  command -v ip > /dev/null || skip "needs the ip command (iproute2)"
  ip netns list > /dev/null 2>&1 || skip "\`ip netns\` does not work here"
  local b
  for b in stoa-master stoa-slave stoa-executor stoa-services stoa-lb; do
    [ -x "$bin/$b" ] || skip "$bin/$b is missing (build it first)"
  done
  command -v java > /dev/null || skip "needs java for ZooKeeper"
  [ -r /usr/share/java/zookeeper.jar ] || skip "needs Debian's zookeeper package"
  [ -x /usr/sbin/haproxy ] || skip "needs haproxy (/usr/sbin/haproxy)"
  command -v curl > /dev/null || skip "needs curl"
  command -v jq > /dev/null || skip "needs jq"
}

# One netns cluster per machine (the names are fixed): wait for another
# test's (this checkout's or another's) to finish, then check nothing is up.
# The lock is held on fd 9 until the sourcing script exits.
netns_take_cluster_lock() {
  exec 9> /tmp/stoa-netns-cluster-test.lock
  flock -w 240 9 || skip "another netns cluster test held /tmp/stoa-netns-cluster-test.lock for 240 s"
  if ip netns list | grep -q '^stoa-host[1-4]\b' || ip link show dev stoa-br0 > /dev/null 2>&1; then
    skip "a netns cluster is already up here (stoa-host* namespaces or stoa-br0 exist); not touching it"
  fi
}

#!/usr/bin/env bash
# The Debian packages (docs/packages.md), built by cpack from an already
# built tree and checked without installing anything into the system: each
# .deb is extracted with `dpkg-deb -x` into one scratch root, then its files,
# control fields, conffiles, maintainer scripts, units and /etc/default file
# are checked, `systemd-analyze verify` runs on the units when it can, and
# the binaries run from the scratch root.
#   package_test.sh BUILD_DIR [CPACK]
# Exits 77 (skipped, with the reason) without dpkg-deb, cpack, dpkg-shlibdeps,
# file or a binary.
set -euo pipefail
build="$(cd "${1:?usage: package_test.sh BUILD_DIR [CPACK]}" && pwd)"
cpack="${2:-cpack}"

skip() { echo "SKIPPED: $*"; exit 77; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() {  # check "what" command...
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then echo "ok: $what"; else fail "$what"; fi
}

command -v dpkg-deb >/dev/null || skip "dpkg-deb is not installed (apt-get install dpkg)"
command -v "$cpack" >/dev/null || skip "cpack ($cpack) is not installed"
# CPack's library dependencies (CPACK_DEBIAN_PACKAGE_SHLIBDEPS) need both.
command -v dpkg-shlibdeps >/dev/null || skip "dpkg-shlibdeps is not installed (apt-get install dpkg-dev)"
command -v file >/dev/null || skip "file is not installed (apt-get install file)"
[ -f "$build/CPackConfig.cmake" ] || skip "$build/CPackConfig.cmake missing: configure the build first"
binaries=(stoa-master stoa-slave stoa-executor stoa-docker-executor stoa-services stoa-lb stoa stoa-execute)
for b in "${binaries[@]}"; do
  [ -x "$build/bin/$b" ] || skip "$build/bin/$b is not built (make ${binaries[*]})"
done

scratch="$(mktemp -d "${TMPDIR:-/tmp}/stoa-package-test.XXXXXX")"
slave_pid=""
# SIGTERM (a clean stop), polled with a deadline, then SIGKILL.
stop_slave() {
  if [ -z "$slave_pid" ]; then return; fi
  kill -TERM "$slave_pid" 2>/dev/null || true
  local until=$((SECONDS + 10))
  while kill -0 "$slave_pid" 2>/dev/null && [ $SECONDS -lt $until ]; do sleep 0.1; done
  kill -9 "$slave_pid" 2>/dev/null || true
  slave_pid=""
}
cleanup() {
  stop_slave
  rm -rf "$scratch"
}
trap cleanup EXIT

# 1. cpack on the built tree (gzip: fast), into the scratch folder.
if ! (cd "$build" && "$cpack" -G DEB -B "$scratch/out" -D CPACK_DEBIAN_COMPRESSION_TYPE=gzip) \
    >"$scratch/cpack.log" 2>&1; then
  cat "$scratch/cpack.log"
  echo "FAIL: cpack -G DEB"
  exit 1
fi

declare -A deb
for name in stoa-master stoa-slave stoa-services stoa-lb stoa; do
  found=("$scratch"/out/"$name"_*.deb)
  if [ ! -f "${found[0]}" ]; then
    ls "$scratch/out"
    echo "FAIL: no package $name"
    exit 1
  fi
  deb[$name]="${found[0]}"
  check "$name: Package field" test "$(dpkg-deb -f "${deb[$name]}" Package)" = "$name"
done
count=$(find "$scratch/out" -maxdepth 1 -name '*.deb' | wc -l)
check "five packages (found $count)" test "$count" -eq 5

# 2. Control fields: the library dependencies (dpkg-shlibdeps) and the
# role dependencies.
field() { dpkg-deb -f "${deb[$1]}" "$2" 2>/dev/null || true; }
for name in stoa-master stoa-slave stoa-services stoa-lb stoa; do
  check "$name depends on libc6 (shlibdeps)" grep -q 'libc6' <<<"$(field "$name" Depends)"
done
# The daemons built with jemalloc (STOA_MALLOC) depend on its runtime.
for name in stoa-master stoa-slave; do
  if ldd "$build/bin/$name" 2>/dev/null | grep -q libjemalloc; then
    check "$name depends on libjemalloc2 (shlibdeps)" grep -q 'libjemalloc2' <<<"$(field "$name" Depends)"
  fi
done
check "stoa-lb depends on haproxy (>= 2.0)" grep -q 'haproxy (>= 2.0)' <<<"$(field stoa-lb Depends)"
check "stoa-master suggests zookeeper" grep -qw zookeeper <<<"$(field stoa-master Suggests)"
check "stoa-services suggests zookeeper" grep -qw zookeeper <<<"$(field stoa-services Suggests)"
check "stoa-slave suggests docker.io" grep -qw docker.io <<<"$(field stoa-slave Suggests)"
check "stoa-master does not depend on zookeeper" test -z "$(field stoa-master Depends | grep -w zookeeper)"
check "stoa-slave does not depend on docker.io" test -z "$(field stoa-slave Depends | grep -w docker.io)"

# 3. No file in two packages (dpkg would refuse the second).
for name in "${!deb[@]}"; do
  dpkg-deb -c "${deb[$name]}" | awk '$1 !~ /^d/ {print $6}'
done | sort | uniq -d >"$scratch/dups"
check "no file shipped by two packages" test ! -s "$scratch/dups"

# 4. Extract everything into one scratch root.
root="$scratch/root"
mkdir -p "$root"
for name in "${!deb[@]}"; do
  dpkg-deb -x "${deb[$name]}" "$root"
done
for f in usr/sbin/stoa-master usr/sbin/stoa-services usr/sbin/stoa-lb usr/bin/stoa usr/bin/stoa-execute \
         usr/libexec/stoa/stoa-slave usr/libexec/stoa/stoa-executor usr/libexec/stoa/stoa-docker-executor; do
  check "/$f is an executable file" test -f "$root/$f" -a -x "$root/$f" -a ! -L "$root/$f"
done
check "/usr/sbin/stoa-slave links to ../libexec/stoa/stoa-slave" \
  test "$(readlink "$root/usr/sbin/stoa-slave")" = ../libexec/stoa/stoa-slave
check "stoa-executor is in the stoa-slave package" grep -q './usr/libexec/stoa/stoa-executor$' \
  <<<"$(dpkg-deb -c "${deb[stoa-slave]}")"

# 5. Per daemon: unit, /etc/default file, conffiles, maintainer scripts.
for role in master slave services lb; do
  name="stoa-$role"
  unit="$root/lib/systemd/system/$name.service"
  check "$name: unit installed" test -f "$unit"
  check "$name: /etc/default/$name installed" test -f "$root/etc/default/$name"
  check "$name: EnvironmentFile=-/etc/default/$name" grep -qx "EnvironmentFile=-/etc/default/$name" "$unit"
  check "$name: StateDirectory=stoa/$role" grep -qx "StateDirectory=stoa/$role" "$unit"
  check "$name: LogsDirectory=stoa/$role" grep -qx "LogsDirectory=stoa/$role" "$unit"
  exec_bin="$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")"
  check "$name: ExecStart $exec_bin is in the package root" test -x "$root$exec_bin"
  ctrl="$scratch/control-$role"
  dpkg-deb -e "${deb[$name]}" "$ctrl"
  check "$name: conffiles lists /etc/default/$name" grep -qx "/etc/default/$name" "$ctrl/conffiles"
  for script in postinst prerm postrm; do
    check "$name: $script is executable POSIX sh" test -x "$ctrl/$script"
    check "$name: $script parses" sh -n "$ctrl/$script"
    check "$name: $script names its own unit" grep -q "$name" "$ctrl/$script"
  done
  # Every line of the default file is a comment, blank or NAME=VALUE.
  check "$name: /etc/default/$name is NAME=VALUE lines" \
    test -z "$(grep -Ev '^(#.*|[[:space:]]*|[A-Z_][A-Z0-9_]*=.*)$' "$root/etc/default/$name")"
done
check "stoa-slave: KillMode=process (tasks survive a restart)" \
  grep -qx KillMode=process "$root/lib/systemd/system/stoa-slave.service"
check "stoa-lb: runs HAProxy's files in its state and runtime directories" \
  grep -q -- '--haproxy-config=/var/lib/stoa/lb/haproxy.cfg --run-dir=/run/stoa-lb' \
  "$root/lib/systemd/system/stoa-lb.service"
# stoa-lb parses its whole command line before --help: the unit's ExecStart,
# with the unit's Environment= and then /etc/default/stoa-lb, must parse.
lb_unit="$root/lib/systemd/system/stoa-lb.service"
lb_cmd="$root$(sed -n 's/^ExecStart=//p' "$lb_unit")"
check "stoa-lb accepts its unit's command line and /etc/default/stoa-lb" \
  bash -c 'set -a; eval "$(sed -n "s/^Environment=//p" "$1")"; . "$2"; set +a; eval "set -- $3"; exec "$@" --help' \
  _ "$lb_unit" "$root/etc/default/stoa-lb" "$lb_cmd"

# 6. The flags the /etc/default files name exist: each STOA_<FLAG> (set or
# commented) of a daemon is a flag of its --help, from the scratch root.
for role in master slave services; do
  name="stoa-$role"
  help="$("$root/usr/sbin/$name" --help 2>&1 || true)"
  for var in $(grep -oE '^#?(STOA|MESOS|MARATHON)_[A-Z0-9_]+=' "$root/etc/default/$name" | sed -E 's/^#?[A-Z]+_//; s/=$//' | sort -u); do
    flag="$(tr 'A-Z' 'a-z' <<<"$var")"
    check "$name: /etc/default names --$flag, a flag of --help" \
      grep -qE -- "--(\[no-\])?$flag([=[:space:]]|\$)" <<<"$help"
  done
done

# 7. The binaries run from the scratch root.
check "stoa-master --help" "$root/usr/sbin/stoa-master" --help
check "stoa-slave --help (--launcher_dir in the root)" \
  "$root/usr/sbin/stoa-slave" --help --launcher_dir="$root/usr/libexec/stoa"
check "stoa-services --help" "$root/usr/sbin/stoa-services" --help
check "stoa-lb --help" "$root/usr/sbin/stoa-lb" --help
check "stoa --help" "$root/usr/bin/stoa" --help
check "stoa-execute --help" "$root/usr/bin/stoa-execute" --help
check "stoa-executor and stoa-docker-executor link" \
  test -z "$(ldd "$root/usr/libexec/stoa/stoa-executor" "$root/usr/libexec/stoa/stoa-docker-executor" | grep 'not found')"

# 8. The packaged layout makes --launcher_dir's default work: started through
# the /usr/sbin link, the slave finds its executors (it gets past that check
# and listens); a lone copy of the binary does not.
mkdir -p "$scratch/alone"
cp "$root/usr/libexec/stoa/stoa-slave" "$scratch/alone/"
if timeout 20 "$scratch/alone/stoa-slave" --master=127.0.0.1:1 --work_dir="$scratch/work-alone" --port=0 \
     >"$scratch/alone.log" 2>&1; then
  fail "a stoa-slave without executors beside it started"
else
  check "a lone stoa-slave names the missing executor" grep -q 'cannot find an executable stoa-executor' "$scratch/alone.log"
fi
"$root/usr/sbin/stoa-slave" --master=127.0.0.1:1 --ip=127.0.0.1 --port=0 --work_dir="$scratch/work" \
  --hostname_lookup=false >"$scratch/slave.log" 2>&1 &
slave_pid=$!
disown "$slave_pid"  # stopped by pid below: no job report
deadline=$((SECONDS + 20))
started=0
while [ $SECONDS -lt $deadline ]; do
  if ! kill -0 "$slave_pid" 2>/dev/null; then break; fi
  if grep -q "Stoa slave listening on" "$scratch/slave.log"; then started=1; break; fi
  sleep 0.1
done
stop_slave
if [ $started = 1 ]; then
  echo "ok: the packaged stoa-slave starts with the default --launcher_dir"
else
  cat "$scratch/slave.log"
  fail "the packaged stoa-slave did not start with the default --launcher_dir"
fi

# 9. systemd-analyze verify, when it can run here.
if command -v systemd-analyze >/dev/null; then
  # The units as installed, ExecStart pointed into the scratch root (verify
  # checks the command exists). Any warning (an unknown key, a bad value)
  # fails, not only an error.
  mkdir -p "$scratch/units"
  for role in master slave services lb; do
    sed "s|^ExecStart=/|ExecStart=$root/|" "$root/lib/systemd/system/stoa-$role.service" \
      >"$scratch/units/stoa-$role.service"
  done
  if verify="$(systemd-analyze verify "$scratch"/units/*.service 2>&1)" && [ -z "$verify" ]; then
    echo "ok: systemd-analyze verify on the four units"
  else
    echo "$verify"
    fail "systemd-analyze verify"
  fi
else
  echo "note: systemd-analyze is not installed: units not verified"
fi

# 10. dpkg itself, into a second scratch root with its own database
# (--root; scripts chrootless, dependencies not installed there): the
# packages install, a local edit of a conffile survives a reinstall, remove
# keeps it, purge deletes it. The maintainer scripts see DPKG_ROOT and must
# not call the host's systemctl (a recording stand-in is first in PATH).
if command -v dpkg >/dev/null; then
  droot="$scratch/dpkg-root"
  mkdir -p "$droot/var/lib/dpkg/updates" "$droot/var/lib/dpkg/info" "$scratch/fakebin"
  touch "$droot/var/lib/dpkg/status"
  printf '#!/bin/sh\necho "$*" >>"%s"\n' "$scratch/systemctl.calls" >"$scratch/fakebin/systemctl"
  chmod +x "$scratch/fakebin/systemctl"
  dpkg_root() {
    PATH="$scratch/fakebin:$PATH" dpkg --root="$droot" --force-script-chrootless --force-depends \
      --force-not-root "$@" >>"$scratch/dpkg.log" 2>&1
  }
  status() { dpkg-query --admindir="$droot/var/lib/dpkg" -W -f '${Status}' "$1" 2>/dev/null || true; }
  check "dpkg --root -i of the five packages" dpkg_root -i "${deb[@]}"
  for name in "${!deb[@]}"; do
    check "dpkg: $name is installed" test "$(status "$name")" = "install ok installed"
  done
  check "dpkg registered /etc/default/stoa-master as a conffile" grep -q '/etc/default/stoa-master' \
    <<<"$(dpkg-query --admindir="$droot/var/lib/dpkg" -W -f '${Conffiles}' stoa-master)"
  echo 'STOA_IP=10.0.0.2' >>"$droot/etc/default/stoa-master"
  check "dpkg --root reinstall of stoa-master" dpkg_root -i "${deb[stoa-master]}"
  check "a local edit of /etc/default/stoa-master survives a reinstall" \
    grep -qx 'STOA_IP=10.0.0.2' "$droot/etc/default/stoa-master"
  check "dpkg --root -r stoa-master" dpkg_root -r stoa-master
  check "remove: /usr/sbin/stoa-master is gone" test ! -e "$droot/usr/sbin/stoa-master"
  check "remove: the edited conffile stays" grep -qx 'STOA_IP=10.0.0.2' "$droot/etc/default/stoa-master"
  check "dpkg --root -P stoa-master" dpkg_root -P stoa-master
  check "purge: /etc/default/stoa-master is gone" test ! -e "$droot/etc/default/stoa-master"
  check "the maintainer scripts never called systemctl under DPKG_ROOT" test ! -e "$scratch/systemctl.calls"
  if [ "$failures" -ne 0 ]; then cat "$scratch/dpkg.log"; fi
else
  echo "note: dpkg is not installed: dpkg --root not tried"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all package checks passed"

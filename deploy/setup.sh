#!/usr/bin/env bash
# Installs what Stoa needs to build and test on Debian 12, only what is
# missing (idempotent). Uses sudo when not root; without sudo it prints the
# apt-get command to run as root and fails.
#   deploy/setup.sh          # build, run and test
#   deploy/setup.sh --fuzz   # the same, plus clang for deploy/fuzz.sh
set -euo pipefail

fuzz=0
for arg in "$@"; do
  case "$arg" in
    --fuzz) fuzz=1 ;;
    *) echo "setup.sh: unknown argument $arg (known: --fuzz)" >&2; exit 2 ;;
  esac
done

packages=(
  g++ cmake make pkg-config
  libcaf-dev libprotobuf-dev protobuf-compiler
  libzookeeper-mt-dev picojson-dev libhttp-parser-dev
  libgtest-dev libgmock-dev googletest libgoogle-glog-dev
  # apps/services/probe.cpp: the HTTPS health probe (TLS via OpenSSL).
  libssl-dev
  procps iproute2 curl python3
  # tests/zookeeper_fixture.cpp runs its own ZooKeeper servers from this
  # package (java with /usr/share/java/zookeeper.jar), not its service.
  zookeeper
  # tests/webui: the web UI's browser tests drive Debian's headless chromium
  # (through playwright-core from npm; see the end of this script).
  chromium
  # tests/docker_fixture.cpp runs its own dockerd (docker.io: dockerd,
  # containerd, runc, docker-proxy and the docker CLI, not its service) and
  # builds its test image from the static busybox of busybox-static.
  docker.io busybox-static
  # registrar/leveldb_storage.cpp: the durable registry of a single master.
  libleveldb-dev
  # stoa-master, stoa-slave and stoa-slave-simulator allocate with jemalloc
  # (STOA_MALLOC in CMakeLists.txt).
  libjemalloc-dev
  # apps/lb: stoa-lb starts and reloads Debian's HAProxy (2.6); its reload
  # benchmark and test drive load through it with wrk.
  haproxy wrk
  # tests/packaging: cpack's DEB generator and the package test use
  # dpkg-shlibdeps (dpkg-dev) and file.
  dpkg-dev file
  # deploy/netns-cluster.sh (and its test) read the daemons' JSON with jq.
  jq
)
if [ "$fuzz" -eq 1 ]; then
  # deploy/fuzz.sh: clang with libFuzzer and the sanitizer runtimes
  # (libclang_rt.fuzzer, .asan, .ubsan_standalone).
  packages+=(clang libclang-rt-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

install_packages() {
  if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all packages present"
    return 0
  fi
  local sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "setup: missing packages: ${missing[*]}" >&2
      echo "setup: not root and sudo is not installed; as root, run:" >&2
      echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
      exit 1
    fi
    sudo_cmd=(sudo)
  fi
  echo "setup: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
install_packages

# The browser tests' npm packages (playwright-core, pinned in
# tests/webui/package-lock.json; no browser download: they use chromium
# above). Needs node >= 20.19, which Debian 12 does not ship (it has 18): without
# it the browser tests skip, and setup says so instead of failing.
webui_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/webui"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "setup: node/npm not found: the web UI browser tests will skip (they need node >= 20)"
elif ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; then
  echo "setup: node $(node --version) is older than 20.19: the web UI browser tests will skip"
elif [ -f "$webui_tests/node_modules/.package-lock.json" ] &&
     cmp -s <(node -p "JSON.stringify(require('$webui_tests/package-lock.json').packages['node_modules/playwright-core'].version)") \
            <(node -p "JSON.stringify(require('$webui_tests/node_modules/playwright-core/package.json').version)"); then
  echo "setup: tests/webui/node_modules is up to date"
else
  echo "setup: npm ci in tests/webui"
  (cd "$webui_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

# The Marathon-client integration test's npm packages (marathon-node and its
# dependencies, pinned in tests/services-client/package-lock.json). Node 18
# (Debian 12's) is enough; without node/npm the test skips.
client_tests="$(cd "$(dirname "$0")/.." && pwd)/tests/services-client"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "setup: node/npm not found: the Marathon client test (tests/services-client) will skip"
elif [ -f "$client_tests/node_modules/.package-lock.json" ] &&
     cmp -s <(node -p "JSON.stringify(require('$client_tests/package-lock.json').packages['node_modules/marathon-node'].version)") \
            <(node -p "JSON.stringify(require('$client_tests/node_modules/marathon-node/package.json').version)"); then
  echo "setup: tests/services-client/node_modules is up to date"
else
  echo "setup: npm ci in tests/services-client"
  (cd "$client_tests" && npm ci --no-audit --no-fund --loglevel=error)
fi

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
  procps iproute2 curl python3
  # tests/zookeeper_fixture.cpp runs its own ZooKeeper servers from this
  # package (java with /usr/share/java/zookeeper.jar), not its service.
  zookeeper
  # tests/docker_fixture.cpp runs its own dockerd (docker.io: dockerd,
  # containerd, runc, docker-proxy and the docker CLI, not its service) and
  # builds its test image from the static busybox of busybox-static.
  docker.io busybox-static
  # registrar/leveldb_storage.cpp: the durable registry of a single master.
  libleveldb-dev
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

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi

sudo_cmd=()
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

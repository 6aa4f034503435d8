#!/usr/bin/env bash
# Installs what Stoa needs to build and test on Debian 12, only what is
# missing (idempotent). Uses sudo when not root.
set -euo pipefail

packages=(
  g++ cmake make pkg-config
  libcaf-dev libprotobuf-dev protobuf-compiler
  libzookeeper-mt-dev picojson-dev libhttp-parser-dev
  libgtest-dev libgmock-dev googletest
  procps iproute2 curl
)

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
  sudo_cmd=(sudo)
fi
echo "setup: installing ${missing[*]}"
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"

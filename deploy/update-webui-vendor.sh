#!/usr/bin/env bash
# Refetches the web UI's vendored libraries from the npm registry into
# webui/app/vendor/ (the UI has no build step and loads nothing from a CDN).
# Run it to update a pinned version, review the diff, commit it.
#   deploy/update-webui-vendor.sh            # uPlot at the pinned version
#   UPLOT_VERSION=1.6.33 deploy/update-webui-vendor.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version="${UPLOT_VERSION:-1.6.32}"
dest="webui/app/vendor/uplot"
command -v npm > /dev/null || { echo "update-webui-vendor: npm is needed (deploy/setup.sh installs it)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "uplot@$version" > /dev/null)
tar -xzf "$tmp/uplot-$version.tgz" -C "$tmp"
mkdir -p "$dest"
for f in dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE; do
  [ -f "$tmp/package/$f" ] || { echo "update-webui-vendor: uplot@$version has no $f" >&2; exit 1; }
  cp "$tmp/package/$f" "$dest/$(basename "$f")"
done
echo "$version" > "$dest/VERSION.txt"
echo "update-webui-vendor: uPlot $version in $dest ($(ls "$dest" | tr '\n' ' '))"

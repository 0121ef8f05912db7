#!/usr/bin/env bash
# Copies the console's browser libraries from the npm registry into web/console/assets/vendor,
# at the versions web/console/npm/package-lock.json pins (npm ci checks each tarball's
# integrity), and writes their SHA-256 into web/console/assets/vendor/SHA256SUMS, which a test
# checks the embedded files against. Run it after changing a version in package.json (then
# `npm install --package-lock-only` there first); commit what it writes.
set -euo pipefail
cd "$(dirname "$0")/../web/console"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp npm/package.json npm/package-lock.json "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
m="$work/node_modules"
cp "$m/htmx.org/dist/htmx.min.js" assets/vendor/htmx.min.js
cp "$m/echarts/dist/echarts.simple.min.js" assets/vendor/echarts.simple.min.js
for p in htmx.org echarts; do
  cp "$m/$p/LICENSE" "assets/vendor/LICENSE.$p" 2>/dev/null || true
done
(cd assets/vendor && sha256sum htmx.min.js echarts.simple.min.js > SHA256SUMS)
echo "vendored: $(cd assets/vendor && ls | tr '\n' ' ')"

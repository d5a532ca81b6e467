#!/usr/bin/env bash
# test-deps.sh: install what the tests use beyond Go and PostGIS, when missing, on a
# fresh Debian machine: GDAL's command-line tools (ogrinfo decodes tiles and reads
# exports, ogr2ogr builds Shapefile and GeoPackage inputs), Debian's Chromium (the map's
# headless test; never a downloaded browser), Node.js and npm, then the node packages
# of each web/e2e* folder from its lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v ogrinfo >/dev/null || need+=(gdal-bin)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-deps: installing ${need[*]}" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"; } >&2
fi

for dir in web/e2e*/; do
  [ -f "$dir/package-lock.json" ] || continue
  # npm ci refuses a lock file that lacks the optional native packages of other
  # platforms (DuckDB's bindings; an npm bug): npm install then installs from it.
  (cd "$dir" && { npm ci --no-audit --no-fund --loglevel=error 2>/dev/null ||
    npm install --no-audit --no-fund --loglevel=error; }) >&2
done

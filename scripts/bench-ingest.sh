#!/usr/bin/env bash
# bench-ingest.sh: ingestion of generated department- and France-scale data, each file
# timed with its peak memory, beside ogr2ogr for the contours. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ogr2ogr >/dev/null || { echo "bench-ingest: installing gdal-bin for the ogr2ogr comparison" >&2;
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo; $sudo apt-get install -y -q gdal-bin >&2; }
url=$(scripts/pg-up.sh | tail -n 1 | cut -d= -f2-)
# A private binary: rebuilding bin/coopol during the run must not change what is measured.
bin=$(mktemp -d)/coopol
go build -o "$bin" ./cmd/coopol
go run ./scripts/benchingest -db "$url" -bin "$bin" "$@"

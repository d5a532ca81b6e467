#!/usr/bin/env bash
# bench-tiles.sh: the tile benchmark of make bench-tiles, on France-scale synthetic data.
#
# Generates the France set once, grid included (coopol generate --scale france --seed 1
# --grid), into $BENCH_DIR, loads into its own database (coopol_bench_tiles_france, on the
# local cluster of scripts/pg-up.sh) every file of the manifest not loaded yet (a file is
# known by its SHA-256, so a database loaded before the grid existed only gets the grid),
# rebuilds the tiles (-force: the build is timed), then runs coopol bench-tiles: worst
# uncached tile per zoom and layer, naive ST_AsMVT baseline, and mixed HTTP workloads cold
# and warm. BENCH_SCALE=department gives a quick run; BENCH_DURATION sets each warm phase.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=${BENCH_SCALE:-france}
dir=${BENCH_DIR:-.data/bench/$scale}
duration=${BENCH_DURATION:-60s}
bin=bin/coopol

# jq reads the manifest; a fresh Debian machine may lack it.
if ! command -v jq >/dev/null; then
  echo "bench-tiles: installing jq" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q jq; } >&2
fi

admin=$(scripts/pg-up.sh | tail -n 1 | cut -d= -f2-)
dbname=coopol_bench_tiles_$scale
url=$(printf '%s' "$admin" | sed -E "s#/[^/?]+(\?|$)#/$dbname\1#")

[ -x "$bin" ] || go build -o "$bin" ./cmd/coopol

if [ ! -f "$dir/manifest.json" ] || ! jq -e '.files[] | select(.kind == "grid")' "$dir/manifest.json" >/dev/null; then
  echo "bench-tiles: generating the $scale set, grid included, into $dir" >&2
  "$bin" generate --scale "$scale" --seed 1 --grid --out "$dir" >&2
fi

exists=$(psql "$admin" -Atc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")
[ "$exists" = 1 ] || psql "$admin" -qc "CREATE DATABASE $dbname" >&2
"$bin" migrate -db "$url" >&2
# COG first (names, départements), then geometry, then results. Derived data (tiles)
# are built once, below.
for kind in communes contours iris census grid results; do
  jq -r --arg k "$kind" '.files[] | select(.kind == $k) | "\(.path)|\(.election // "")|\(.round // 0)|\(.format // "")|\(.sha256)"' "$dir/manifest.json" |
  while IFS='|' read -r path election round format sha; do
    loaded=$(psql "$url" -Atc "SELECT 1 FROM datasets WHERE sha256 = '$sha' LIMIT 1")
    [ "$loaded" = 1 ] && continue
    case "$path" in /*) ;; *) path="$dir/$path" ;; esac
    args=()
    [ -n "$election" ] && args+=(--election "$election")
    [ "$round" != 0 ] && args+=(--round "$round")
    # IGN IRIS files do not say their vintage; grid files say it in their format name.
    [ "$kind" = iris ] && args+=(--vintage "${IRIS_VINTAGE:-2024}")
    if [ "$kind" = grid ] && [[ $format =~ ([0-9]{4}) ]]; then args+=(--vintage "${BASH_REMATCH[1]}"); fi
    echo "bench-tiles: ingest $kind $path ${args[*]}" >&2
    "$bin" ingest "$kind" "$path" "${args[@]}" --derive=false -db "$url" >/dev/null
  done
done

echo "bench-tiles: building tiles" >&2
echo "load average before the build: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "tiles build (-force, every layer and the grid cells): %e s, %M KB max RSS" "$bin" tiles build -force -db "$url" >/dev/null
psql "$url" -Atc "SELECT 'bureaux: ' || count(*) || ' contours, ' || sum(ST_NPoints(geom)) || ' vertices' FROM bureau_contours"
psql "$url" -Atc "SELECT 'grid: ' || count(*) || ' cells' FROM tile_cells"
echo "load average before the benchmark: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" bench-tiles -db "$url" -duration "$duration"
echo "load average after the benchmark: $(cut -d' ' -f1-3 /proc/loadavg)"

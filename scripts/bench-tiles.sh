#!/usr/bin/env bash
# bench-tiles.sh: the tile benchmark of make bench-tiles, on France-scale synthetic data.
#
# Generates the France set once (coopol generate --scale france --seed 1) into
# $BENCH_DIR, loads it once into its own database (coopol_bench_tiles, on the local
# cluster of scripts/pg-up.sh), builds the tiles, then runs coopol bench-tiles: worst
# uncached tile per zoom, naive ST_AsMVT baseline, and a mixed HTTP workload cold and
# warm. BENCH_SCALE=department gives a quick run; BENCH_DURATION sets the warm phase.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=${BENCH_SCALE:-france}
dir=${BENCH_DIR:-.data/bench-$scale}
duration=${BENCH_DURATION:-60s}
bin=bin/coopol

admin=$(scripts/pg-up.sh | tail -n 1 | cut -d= -f2-)
dbname=coopol_bench_tiles_$scale
url=$(printf '%s' "$admin" | sed -E "s#/[^/?]+(\?|$)#/$dbname\1#")

[ -x "$bin" ] || go build -o "$bin" ./cmd/coopol

if [ ! -f "$dir/manifest.json" ]; then
  echo "bench-tiles: generating the $scale set into $dir" >&2
  "$bin" generate --scale "$scale" --seed 1 --out "$dir" >&2
fi

# Load once: the database is kept between runs, and a marker says the load finished.
exists=$(psql "$admin" -Atc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")
loaded=
if [ "$exists" = 1 ]; then
  loaded=$(psql "$url" -Atc "SELECT 1 FROM pg_tables WHERE tablename = 'bench_tiles_loaded'" 2>/dev/null || true)
fi
if [ "$loaded" != 1 ]; then
  psql "$admin" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" >&2
  "$bin" migrate -db "$url" >&2
  # COG first (names, départements), then geometry, then results.
  for kind in communes contours iris census grid results; do
    jq -r --arg k "$kind" '.files[] | select(.kind == $k) | "\(.path)|\(.election // "")|\(.round // 0)|\(.format // "")"' "$dir/manifest.json" |
    while IFS='|' read -r path election round format; do
      case "$path" in /*) ;; *) path="$dir/$path" ;; esac
      args=()
      [ -n "$election" ] && args+=(--election "$election")
      [ "$round" != 0 ] && args+=(--round "$round")
      # IGN IRIS files do not say their vintage; grid files say it in their format name.
      [ "$kind" = iris ] && args+=(--vintage "${IRIS_VINTAGE:-2024}")
      if [ "$kind" = grid ] && [[ $format =~ ([0-9]{4}) ]]; then args+=(--vintage "${BASH_REMATCH[1]}"); fi
      echo "bench-tiles: ingest $kind $path ${args[*]}" >&2
      "$bin" ingest "$kind" "$path" "${args[@]}" -db "$url" >/dev/null
    done
  done
  psql "$url" -qc "CREATE TABLE bench_tiles_loaded ()" >&2
fi

echo "bench-tiles: building tiles" >&2
/usr/bin/time -f "tiles build: %e s, %M KB max RSS" "$bin" tiles build -db "$url"
psql "$url" -Atc "SELECT 'bureaux: ' || count(*) || ' contours, ' || sum(ST_NPoints(geom)) || ' vertices' FROM bureau_contours"
"$bin" bench-tiles -db "$url" -duration "$duration"

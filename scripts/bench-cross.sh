#!/usr/bin/env bash
# bench-cross.sh: the benchmark of make bench-cross, on France-scale synthetic data with
# the 200 m grid: apportionment of IRIS and grid counts onto bureaux, a national
# crosstab and a national Parquet export, each beside the naive PostGIS SQL in the same
# run. Generates the set once (coopol generate --scale france --grid) into $BENCH_DIR,
# loads it once into its own database (coopol_bench_cross_$scale), then measures.
# BENCH_SCALE=department gives a quick run; BENCH_SKIP_NAIVE=1 skips the slow baselines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scale=${BENCH_SCALE:-france}
dir=${BENCH_DIR:-.data/bench-cross-$scale}
# A private binary: rebuilding bin/coopol during the run must not change what is measured.
bin=$(mktemp -d)/coopol
go build -o "$bin" ./cmd/coopol
admin=$(scripts/pg-up.sh | tail -n 1 | cut -d= -f2-)
dbname=coopol_bench_cross_$scale
url=$(printf '%s' "$admin" | sed -E "s#/[^/?]+(\?|$)#/$dbname\1#")


if [ ! -f "$dir/manifest.json" ]; then
  echo "bench-cross: generating the $scale set into $dir" >&2
  "$bin" generate --scale "$scale" --seed 1 --grid --out "$dir" >&2
fi

exists=$(psql "$admin" -Atc "SELECT 1 FROM pg_database WHERE datname = '$dbname'")
loaded=
if [ "$exists" = 1 ]; then
  loaded=$(psql "$url" -Atc "SELECT 1 FROM pg_tables WHERE tablename = 'bench_cross_loaded'" 2>/dev/null || true)
fi
if [ "$loaded" != 1 ]; then
  psql "$admin" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" >&2
  "$bin" migrate -db "$url" >&2
  for kind in communes contours iris census grid results; do
    jq -r --arg k "$kind" '.files[] | select(.kind == $k) | "\(.path)|\(.election // "")|\(.round // 0)|\(.format // "")"' "$dir/manifest.json" |
    while IFS='|' read -r path election round format; do
      case "$path" in /*) ;; *) path="$dir/$path" ;; esac
      [ "$format" = insee-cog-csv ] && continue
      args=()
      [ -n "$election" ] && args+=(--election "$election")
      [ "$round" != 0 ] && args+=(--round "$round")
      [ "$kind" = results ] && [ -z "$election" ] && continue
      [ "$kind" = iris ] && args+=(--vintage 2024)
      if [ "$kind" = grid ] && [[ $format =~ ([0-9]{4}) ]]; then args+=(--vintage "${BASH_REMATCH[1]}"); fi
      echo "bench-cross: ingest $kind $path ${args[*]}" >&2
      # Derived data (apportionment, tiles) are not built per file: apportion is measured below.
      "$bin" ingest "$kind" "$path" "${args[@]}" --derive=false -db "$url" -quiet >/dev/null
    done
  done
  psql "$url" -qc "CREATE TABLE bench_cross_loaded ()" >&2
fi

[ "${BENCH_LOAD_ONLY:-}" = 1 ] && exit 0
secs() { local s=$(date +%s.%N); "$@" >/dev/null; echo "$(date +%s.%N) - $s" | bc; }
psql "$url" -Atc "SELECT 'data: ' || (SELECT count(*) FROM bureau_contours) || ' bureaux, ' || (SELECT count(*) FROM iris_contours) || ' IRIS, ' || (SELECT count(*) FROM grid_cells) || ' grid cells'"

[ "${BENCH_SKIP_APPORTION:-}" = 1 ] || {
echo "== apportionment (coopol apportion -force); load: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "apportion -force: %e s, %M KB max RSS" "$bin" apportion -force -db "$url" | tee /tmp/bench-cross-apportion.json
echo "== profile rebuild after a census-only change; load: $(cut -d' ' -f1-3 /proc/loadavg)"
# Without its run the profile is stale and the weights are not, as after a new census file.
psql "$url" -qc "DELETE FROM apportion_runs WHERE source = 'profile'" >&2
/usr/bin/time -f "apportion (profiles only): %e s, %M KB max RSS" "$bin" apportion -db "$url" | tee /tmp/bench-cross-profile.json
if [ "${BENCH_SKIP_NAIVE:-}" != 1 ]; then
  echo "== naive PostGIS: IRIS × bureau weights, ST_Intersection on every intersecting pair"
  t=$(secs psql "$url" -qc "CREATE TEMP TABLE w AS SELECT i.code iris, b.code bureau,
      ST_Area(ST_Intersection(i.geom, b.geom)) / ST_Area(i.geom) AS weight
      FROM iris_contours i JOIN bureau_contours b ON ST_Intersects(i.geom, b.geom)")
  echo "naive IRIS weights: $t s"
  echo "== naive PostGIS: grid cell × bureau weights"
  t=$(secs psql "$url" -qc "CREATE TEMP TABLE w AS SELECT c.id, b.code bureau,
      ST_Area(ST_Intersection(c.geom, b.geom)) / ST_Area(c.geom) AS weight
      FROM grid_cells c JOIN bureau_contours b ON ST_Intersects(c.geom, b.geom)")
  echo "naive grid weights: $t s"
fi
}
election=$(psql "$url" -Atc "SELECT election FROM candidates WHERE round = 1 AND nuance IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 DESC LIMIT 1")
nuance=$(psql "$url" -Atc "SELECT nuance FROM candidates WHERE election = '$election' AND round = 1 AND nuance IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
echo "== national crosstab: $election round 1, nuance $nuance by quintile of the share of people aged 60 and over"
for i in 1 2 3; do
  echo "crosstab: $(secs "$bin" crosstab -db "$url" --election "$election" --round 1 --measure "nuance:$nuance" --indicator share_60p) s; load: $(cut -d" " -f1-3 /proc/loadavg)"
done
echo "naive SQL crosstab (percent_rank over the same join): $(secs psql "$url" -qAtc "
  WITH b AS (SELECT r.bureau, r.exprimes, (SELECT coalesce(sum(v), 0) FROM unnest(r.candidates, r.votes) u(c, v)
      JOIN candidates k ON k.election = r.election AND k.round = r.round AND k.candidate = u.c WHERE k.nuance = '$nuance') votes,
    (p.counts[array_position(pc.keys, 'pop_60_74')] + p.counts[array_position(pc.keys, 'pop_75p')]) / nullif(p.counts[array_position(pc.keys, 'pop')], 0) x
    FROM bureau_results r JOIN bureau_profiles p ON p.bureau = r.bureau JOIN profile_columns pc USING (contour_vintage)
    WHERE r.election = '$election' AND r.round = 1)
  SELECT ntile(5) OVER (ORDER BY x) q, sum(votes) OVER () FROM b") s"
echo "== national exports: $election round 1"
for f in parquet arrow csv geoparquet; do
  out=/tmp/bench-cross-export.$f
  echo "export $f: $(secs "$bin" export bureaux -db "$url" --election "$election" --round 1 --format "$f" --out "$out") s, $(stat -c %s "$out") bytes"
done

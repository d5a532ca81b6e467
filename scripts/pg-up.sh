#!/usr/bin/env bash
# pg-up.sh: make sure a local PostGIS cluster for coopol runs, then print its URL.
#
# Installs postgresql-15 and postgresql-15-postgis-3 from Debian when missing, creates a
# private cluster under .data/pg (run by the postgres user: initdb refuses root), listens
# on 127.0.0.1 only, on a fixed non-default port, and creates the coopol database. Safe
# to run twice: a running cluster is reused. Everything but the last line goes to stderr;
# the last line is DATABASE_URL=postgres://…
#
# DATABASE_URL set in the environment wins: the script then only prints it.
set -euo pipefail

if [ -n "${DATABASE_URL:-}" ]; then
  echo "DATABASE_URL=$DATABASE_URL"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
pgbin=/usr/lib/postgresql/15/bin
db=coopol

need=()
dpkg -s postgresql-15 >/dev/null 2>&1 || need+=(postgresql-15)
dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
if [ ${#need[@]} -gt 0 ]; then
  echo "pg-up: installing ${need[*]}" >&2
  sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  { $sudo apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"; } >&2
fi

# initdb refuses root: as root, run the cluster as postgres.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# The cluster lives in the checkout when the postgres user can reach it, else in a
# per-checkout directory under /tmp (a checkout under a private home, say). .data/pgdir
# remembers which.
mkdir -p "$root/.data"
if [ -f "$root/.data/pgdir" ]; then
  dir=$(cat "$root/.data/pgdir")
else
  dir="$root/.data/pg"
  mkdir -p "$dir"
  [ "$(id -u)" != 0 ] || chown postgres: "$dir"
  if ! as_pg test -w "$dir"; then
    rmdir "$dir" 2>/dev/null || true
    dir="/tmp/coopol-pg-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
    mkdir -p "$dir"
    [ "$(id -u)" != 0 ] || chown postgres: "$dir"
  fi
  echo "$dir" > "$root/.data/pgdir"
fi
mkdir -p "$dir"
[ "$(id -u)" != 0 ] || chown postgres: "$dir"

if [ ! -f "$dir/data/PG_VERSION" ]; then
  echo "pg-up: creating cluster in $dir" >&2
  as_pg "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >&2
fi

# The port is chosen once per cluster and remembered: the fixed default, unless another
# server (another checkout's cluster, say) already holds it.
if [ -f "$root/.data/pgport" ]; then
  port=$(cat "$root/.data/pgport")
else
  port=${COOPOL_PG_PORT:-55432}
fi
if ! as_pg "$pgbin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  if [ -z "${COOPOL_PG_PORT:-}" ]; then
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
      echo "pg-up: port $port is taken, trying $((port + 1))" >&2
      port=$((port + 1))
    done
  fi
  echo "$port" > "$root/.data/pgport"
  echo "pg-up: starting PostgreSQL on 127.0.0.1:$port" >&2
  # fsync off: a disposable development cluster, rebuilt from source files at will.
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=1GB -c work_mem=64MB -c maintenance_work_mem=512MB -c max_wal_size=8GB -c checkpoint_timeout=30min" >&2
fi

psql=(psql -X -q -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1)
if ! "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1; then
  "${psql[@]}" -d postgres -c "CREATE DATABASE $db" >&2
fi

echo "DATABASE_URL=postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"

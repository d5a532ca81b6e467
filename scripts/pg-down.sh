#!/usr/bin/env bash
# pg-down.sh: stop the local cluster started by pg-up.sh and delete its data.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$root/.data/pgdir" ] || { echo "pg-down: no local cluster" >&2; exit 0; }
dir=$(cat "$root/.data/pgdir")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$dir/data" -m fast stop >&2 || true
rm -rf "$dir" "$root/.data/pgdir" "$root/.data/pgport"

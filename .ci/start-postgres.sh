#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on a free local port and print its URL.
#
#   export ANSFLOW_TEST_PG_URL="$(.ci/start-postgres.sh)"      # or: ... >> "$GITHUB_ENV"
#   .ci/start-postgres.sh [DIR]   # DIR (default: a new temp dir) holds data/, socket, log
#
# Stop it with: pg_ctl -D DIR/data stop -m immediate (as the same user it runs as).
# Runs the server as the `postgres` user when started as root (initdb refuses root).
# Durability is switched off (fsync=off): the cluster only lives for a test run.
set -euo pipefail

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$bindir" ]] && command -v initdb >/dev/null; then
  bindir="$(dirname "$(command -v initdb)")"
fi
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "start-postgres: no initdb found (install the 'postgresql' package)" >&2
  exit 1
fi

dir="${1:-$(mktemp -d /tmp/ansflow-pg.XXXXXX)}"
mkdir -p "$dir"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  chown postgres: "$dir"
  chmod 700 "$dir"
  as_owner=(runuser -u postgres --)
fi

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust \
  --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
  >&2 || { cat "$dir/server.log" >&2; exit 1; }

echo "start-postgres: cluster in $dir (stop: $bindir/pg_ctl -D $dir/data stop -m immediate)" >&2
echo "postgresql+psycopg://postgres@127.0.0.1:$port/postgres"

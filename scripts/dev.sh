#!/usr/bin/env bash
# Starts the whole system in the foreground: presswork-api and presswork-worker,
# stopping both on Ctrl-C (or `kill <pid>` of this script when backgrounded).
#
# Without DATABASE_URL, runs a private PostgreSQL cluster under .data/postgres
# (created on first run from the system's PostgreSQL binaries, installed from
# Debian's packages when missing) and reuses it, with its data, on later runs.
# The URL is written to .data/dev-database-url, where the `presswork` CLI
# finds it when DATABASE_URL is unset.
#
# One dev.sh per checkout: a second one refuses to start (it would find the
# API's port taken), and a dev.sh stops only a cluster it started itself.
#
# PRESSWORK_DEV_DATA moves .data (cluster, secrets, lock) elsewhere; the
# script's own test (scripts/test-dev.sh) uses it.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
DATA="${PRESSWORK_DEV_DATA:-$REPO_ROOT/.data}"
mkdir -p "$DATA"

# One dev.sh at a time per checkout: the lock lives as long as this shell.
exec 9>"$DATA/dev.lock"
if ! flock -n 9; then
    die "another scripts/dev.sh is already running in this checkout (pid $(cat "$DATA/dev.pid" 2>/dev/null || echo '?')); \
stop it first (Ctrl-C in its terminal, or: kill $(cat "$DATA/dev.pid" 2>/dev/null || echo '<pid>'))"
fi
echo $$ >"$DATA/dev.pid"

ADDRESS="${PRESSWORK__HTTP__ADDRESS:-127.0.0.1:${PORT:-8000}}"
if [ -z "${PRESSWORK__HTTP__ADDRESS:-}" ] && [ -n "${PORT:-}" ]; then ADDRESS="0.0.0.0:$PORT"; fi
API_PORT="${ADDRESS##*:}"
if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
    die "port $API_PORT is already in use (another Presswork?); stop that process, or choose another port with PORT=8001 scripts/dev.sh"
fi

ensure_rust

CLUSTER_STARTED=0
if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgres_binaries
    PG_PORT="${PRESSWORK_DEV_PG_PORT:-54329}"
    start_cluster "$DATA/postgres" "$PG_PORT"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork"
    # Create the database on first run (connecting to the maintenance db).
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tc \
        "SELECT 1 FROM pg_database WHERE datname = 'presswork'" | grep -q 1 \
        || "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE presswork"
fi
printf '%s\n' "$DATABASE_URL" >"$DATA/dev-database-url"
chmod 600 "$DATA/dev-database-url"

# Development defaults; anything already in the environment wins.
if [ -z "${JWT_SECRET:-}" ]; then
    [ -f "$DATA/jwt_secret" ] || head -c 48 /dev/urandom | base64 | tr -d '\n=' >"$DATA/jwt_secret"
    JWT_SECRET="$(cat "$DATA/jwt_secret")"
    export JWT_SECRET
fi
if [ -z "${PRESSWORK_ENCRYPTION_KEY:-}" ]; then
    [ -f "$DATA/encryption_key" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >"$DATA/encryption_key"
    PRESSWORK_ENCRYPTION_KEY="$(cat "$DATA/encryption_key")"
    export PRESSWORK_ENCRYPTION_KEY
fi
chmod 600 "$DATA/jwt_secret" "$DATA/encryption_key" 2>/dev/null || true

log "building"
build_binaries

log "migrating"
target/debug/presswork migrate

pids=()
stop() {
    trap - INT TERM EXIT
    log "stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
    if [ "$CLUSTER_STARTED" = 1 ]; then
        stop_cluster "$DATA/postgres"
    elif [ -n "${PG_PORT:-}" ]; then
        log "leaving PostgreSQL running: this dev.sh did not start it"
    fi
    rm -f "$DATA/dev.pid"
}
trap stop INT TERM EXIT

PRESSWORK__HTTP__ADDRESS="$ADDRESS" target/debug/presswork-api &
pids+=($!)
target/debug/presswork-worker &
pids+=($!)

BASE="http://127.0.0.1:$API_PORT"
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then break; fi
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
done
cat >&2 <<TXT

  Presswork is running (pid $$).
    API           $BASE/api   (health: $BASE/api/health)
    Console       $BASE/console
    API docs      $BASE/docs
    DATABASE_URL  $DATABASE_URL
                  (the presswork CLI uses it by itself: target/debug/presswork seed --sample)
  Stop with Ctrl-C, or from another shell: kill $$

TXT
# Stop everything as soon as either process exits.
wait -n "${pids[@]}" || true

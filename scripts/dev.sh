#!/usr/bin/env bash
# Starts the whole system in the foreground: presswork-api and presswork-worker,
# stopping both on Ctrl-C.
#
# Without DATABASE_URL, runs a private PostgreSQL cluster under .data/postgres
# (created on first run from the system's PostgreSQL binaries, installed from
# Debian's packages when missing) and reuses it, with its data, on later runs.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

ensure_rust

if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgres_binaries
    PG_PORT="${PRESSWORK_DEV_PG_PORT:-54329}"
    start_cluster "$REPO_ROOT/.data/postgres" "$PG_PORT"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork"
    # Create the database on first run (connecting to the maintenance db).
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tc \
        "SELECT 1 FROM pg_database WHERE datname = 'presswork'" | grep -q 1 \
        || "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE presswork"
fi

# Development defaults; anything already in the environment wins.
mkdir -p .data
if [ -z "${JWT_SECRET:-}" ]; then
    [ -f .data/jwt_secret ] || head -c 48 /dev/urandom | base64 | tr -d '\n=' >.data/jwt_secret
    JWT_SECRET="$(cat .data/jwt_secret)"
    export JWT_SECRET
fi
if [ -z "${PRESSWORK_ENCRYPTION_KEY:-}" ]; then
    [ -f .data/encryption_key ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >.data/encryption_key
    PRESSWORK_ENCRYPTION_KEY="$(cat .data/encryption_key)"
    export PRESSWORK_ENCRYPTION_KEY
fi
chmod 600 .data/jwt_secret .data/encryption_key 2>/dev/null || true

log "building"
cargo build --locked -p presswork_api -p presswork_worker -p presswork_cli

log "migrating"
target/debug/presswork migrate

pids=()
stop() {
    log "stopping"
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
    if [ -n "${PG_PORT:-}" ]; then stop_cluster "$REPO_ROOT/.data/postgres"; fi
}
trap stop INT TERM EXIT

target/debug/presswork-api &
pids+=($!)
target/debug/presswork-worker &
pids+=($!)
log "API on http://${PRESSWORK__HTTP__ADDRESS:-127.0.0.1:8000} (docs at /docs); Ctrl-C stops everything"
# Stop everything as soon as either process exits.
wait -n "${pids[@]}" || true

#!/usr/bin/env bash
# Tests scripts/dev.sh as a new user meets it: it starts everything and says
# where (API, console, docs, DATABASE_URL); a second dev.sh refuses; a taken
# port is refused; `kill <pid>` stops it and the cluster it started; a
# cluster it did not start is left running. Runs in a data directory of its
# own (PRESSWORK_DEV_DATA) on free ports, so it never touches .data or a
# dev.sh the developer is running. Needs the debug binaries (scripts/test.sh
# builds them) and PostgreSQL's server binaries.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_postgres_binaries
# dev.sh builds too; building first keeps its start-up (timed below) short.
build_binaries -q

WORK="$(mktemp -d /tmp/presswork-dev-test.XXXXXX)"
chmod 755 "$WORK"
export PRESSWORK_DEV_DATA="$WORK/data"
export PORT PRESSWORK_DEV_PG_PORT
PORT="$(free_port)"
PRESSWORK_DEV_PG_PORT="$(free_port)"
unset DATABASE_URL PRESSWORK__HTTP__ADDRESS
export PRESSWORK__LOG__FILTER=warn
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_cluster "$PRESSWORK_DEV_DATA/postgres"
    rm -rf "$WORK"
}
trap cleanup EXIT

passed=0
failed=0
check() { # check NAME COMMAND...: one assertion, reported on its own line
    local name="$1"
    shift
    if "$@"; then
        echo "ok: $name"
        passed=$((passed + 1))
    else
        echo "FAILED: $name" >&2
        failed=$((failed + 1))
    fi
}

# start LOG: dev.sh in the background; waits for its "running" block.
start() {
    scripts/dev.sh >"$1" 2>&1 &
    DEV_PID=$!
    pids+=("$DEV_PID")
    for _ in $(seq 600); do
        grep -q "Presswork is running" "$1" && return 0
        kill -0 "$DEV_PID" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}
# stop PID: as a user would (kill), then waits for it to end.
stop() {
    kill "$1"
    for _ in $(seq 150); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.2
    done
    return 1
}
not() { ! "$@"; }
# refused LOG: dev.sh, expected to exit at once with an error.
refused() { ! scripts/dev.sh >"$1" 2>&1; }
cluster_running() { pg_run "$PG_BIN/pg_ctl" -D "$PRESSWORK_DEV_DATA/postgres" status >/dev/null 2>&1; }

check "dev.sh starts" start "$WORK/first.log"
first="$DEV_PID"
for line in "API           http://127.0.0.1:$PORT/api" "Console       http://127.0.0.1:$PORT/console" \
    "API docs      http://127.0.0.1:$PORT/docs" \
    "DATABASE_URL  postgres://postgres@127.0.0.1:$PRESSWORK_DEV_PG_PORT/presswork" "kill $first"; do
    check "it prints '$line'" grep -qF "$line" "$WORK/first.log"
done
check "the API answers" curl -fs "http://127.0.0.1:$PORT/api/health" -o /dev/null
check "it wrote its DATABASE_URL for the CLI" grep -qF "127.0.0.1:$PRESSWORK_DEV_PG_PORT/presswork" \
    "$PRESSWORK_DEV_DATA/dev-database-url"

check "a second dev.sh refuses" refused "$WORK/second.log"
check "and names the first" grep -qF "already running in this checkout (pid $first)" "$WORK/second.log"
check "the first still answers" curl -fs "http://127.0.0.1:$PORT/api/health" -o /dev/null

check "kill stops it" stop "$first"
check "and the cluster it started" not cluster_running

# A cluster started by someone else is left running.
start_cluster "$PRESSWORK_DEV_DATA/postgres" "$PRESSWORK_DEV_PG_PORT"
check "dev.sh starts on a running cluster" start "$WORK/third.log"
check "kill stops it" stop "$DEV_PID"
check "the cluster it did not start is left running" cluster_running
check "and it says so" grep -qF "did not start it" "$WORK/third.log"
stop_cluster "$PRESSWORK_DEV_DATA/postgres"

# A port another program holds.
python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1 &
holder=$!
pids+=("$holder")
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/" -o /dev/null && break; sleep 0.1; done
check "a taken port is refused" refused "$WORK/port.log"
check "naming the port" grep -qF "port $PORT is already in use" "$WORK/port.log"
kill "$holder" 2>/dev/null || true

if [ "$failed" -eq 0 ]; then
    log "dev.sh: all $passed checks hold"
else
    log "dev.sh: $failed of $((passed + failed)) checks failed"
    for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 20 "$f" >&2; done
    exit 1
fi

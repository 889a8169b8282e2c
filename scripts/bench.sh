#!/usr/bin/env bash
# Benchmarks, on a private PostgreSQL cluster (or DATABASE_URL), release build.
# Prints a markdown report and writes it to bench-out/report.md; the figures
# in docs/PERFORMANCE.md come from this script.
#
#   BENCH_SECONDS (default 20)  BENCH_CONNECTIONS (default 64)
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_rust
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl

SECONDS_PER_RUN="${BENCH_SECONDS:-20}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
OUT="$REPO_ROOT/bench-out"
mkdir -p "$OUT"

if [ -z "${DATABASE_URL:-}" ]; then
    ensure_postgres_binaries
    PG_DIR="$(mktemp -d /tmp/presswork-bench-pg.XXXXXX)"
    chmod 755 "$PG_DIR"
    PG_PORT="$(free_port)"
    start_cluster "$PG_DIR/data" "$PG_PORT"
    "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "CREATE DATABASE presswork_bench"
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_bench"
fi

API_PID=""
cleanup() {
    [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null || true
    if [ -n "${PG_DIR:-}" ]; then stop_cluster "$PG_DIR/data"; rm -rf "$PG_DIR"; fi
}
trap cleanup EXIT

log "release build"
cargo build --release --locked -p presswork_api -p presswork_cli >&2
target/release/presswork migrate >/dev/null
target/release/presswork seed --sample >/dev/null

PORT="$(free_port)"
export PRESSWORK__HTTP__ADDRESS="127.0.0.1:$PORT" RUST_LOG=warn
BASE="http://127.0.0.1:$PORT"

# Start-up: from exec to the first answered request.
start_ns=$(date +%s%N)
target/release/presswork-api >"$OUT/api.log" 2>&1 &
API_PID=$!
until curl -sf "$BASE/livez" >/dev/null 2>&1; do sleep 0.002; done
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$API_PID/status"; }

# wrk --latency prints percentiles; pull requests/s, p50 and p99.
run_wrk() {
    local path="$1"
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$BASE$path" >"$OUT/wrk.txt" 2>&1
    local rps p50 p99 errors
    rps=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt")
    p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$OUT/wrk.txt" | tr '\n' ' ')
    printf '| `GET %s` | %s | %s | %s | %s |\n' "$path" "$rps" "$p50" "$p99" "${errors:-none}"
}

{
    echo "## Run of $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -sr); PostgreSQL $("${PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null | awk '{print $3}')."
    echo "Command: \`scripts/bench.sh\` (wrk -t2 -c$CONNECTIONS -d${SECONDS_PER_RUN}s, release build, same machine as the database)."
    echo
    echo "- API start-up to first answered request: **${startup_ms} ms**"
    echo "- API resident memory after start: $(( $(rss_kb) / 1024 )) MB"
    echo
    echo "| endpoint | requests/s | p50 | p99 | errors |"
    echo "|---|---|---|---|---|"
    run_wrk /livez
    run_wrk /api/health
    echo
    echo "- API resident memory after the load: $(( $(rss_kb) / 1024 )) MB"
} | tee "$OUT/report.md"

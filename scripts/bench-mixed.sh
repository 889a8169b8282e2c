#!/usr/bin/env bash
# The mixed workload: 90 % public reads, 10 % authenticated writes (draft
# posts, tasks) at MIXED_CONNS connections for MIXED_SECONDS, with a worker
# draining the queue. Reports throughput, p50/p99, errors, tasks drained and
# the resident memory of both processes before and after (after a warm-up of
# the same load, so growth means something is kept, not just first use).
# Needs DATABASE_URL (migrated, with the benchmark posts loaded), release
# binaries and wrk; run by scripts/bench.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh
: "${DATABASE_URL:?}"
SECS="${MIXED_SECONDS:-60}"
CONNS="${MIXED_CONNS:-128}"
WARMUP="${MIXED_WARMUP_SECONDS:-10}"
OUT="${OUT:-bench-out}"
mkdir -p "$OUT"

PORT="$(free_port)"
export PRESSWORK__HTTP__ADDRESS="127.0.0.1:$PORT" PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0 \
    PRESSWORK__HTTP__RATE_LIMIT_PRINCIPAL_PER_MIN=0 PRESSWORK__WORKER__METRICS_ADDRESS="" \
    PRESSWORK__LOG__FILTER=warn JWT_SECRET="bench-only-secret-0123456789abcdef-0123" OLLAMA_HOST="http://127.0.0.1:1"
BASE="http://127.0.0.1:$PORT"
API_PID=""; WORKER_PID=""
cleanup() { kill $API_PID $WORKER_PID 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
target/release/presswork-api >"$OUT/mixed-api.log" 2>&1 &
API_PID=$!
target/release/presswork-worker >"$OUT/mixed-worker.log" 2>&1 &
WORKER_PID=$!
until curl -sf "$BASE/livez" >/dev/null 2>&1; do sleep 0.01; done

USER="bench$$"
echo "bench passphrase 42" | target/release/presswork admin create --email "$USER@example.com" --username "$USER" --password-stdin >/dev/null
TOKEN="$(curl -sf -X POST "$BASE/api/auth/login" -H 'content-type: application/json' \
    -d "{\"login\": \"$USER\", \"password\": \"bench passphrase 42\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
export TOKEN
rss() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
count() { "${PSQL:-psql}" "$DATABASE_URL" -qAtc "$1"; }

log "mixed workload: ${WARMUP}s warm-up"
wrk -t2 -c"$CONNS" -d"${WARMUP}s" -s scripts/bench/mixed.lua "$BASE" >/dev/null 2>&1
api_before="$(rss "$API_PID")"; worker_before="$(rss "$WORKER_PID")"
tasks_before="$(count "SELECT count(*) FROM tasks WHERE task_type = 'housekeeping'")"
log "mixed workload: ${SECS}s at $CONNS connections"
wrk -t2 -c"$CONNS" -d"${SECS}s" --latency -s scripts/bench/mixed.lua "$BASE" >"$OUT/mixed-wrk.txt" 2>&1
api_after="$(rss "$API_PID")"; worker_after="$(rss "$WORKER_PID")"
sleep 5
created="$(( $(count "SELECT count(*) FROM tasks WHERE task_type = 'housekeeping'") - tasks_before ))"
pending="$(count "SELECT count(*) FROM tasks WHERE task_type = 'housekeeping' AND status IN ('pending', 'running')")"

rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$OUT/mixed-wrk.txt")
p50=$(awk '$1=="50%" {print $2}' "$OUT/mixed-wrk.txt")
p99=$(awk '$1=="99%" {print $2}' "$OUT/mixed-wrk.txt")
errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' "$OUT/mixed-wrk.txt")
growth() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", (b - a) * 100 / a }'; }
cat <<REPORT
### Mixed workload

Command: \`scripts/bench-mixed.sh\` (run by \`scripts/bench.sh\`) — wrk -t2 -c$CONNS -d${SECS}s with \`scripts/bench/mixed.lua\`: 90 % anonymous reads (first page 35 %, a random post by slug 35 %, search 15 %, categories 5 %), 10 % authenticated writes (a draft post 5 %, a task 5 %), one worker draining the queue, after a ${WARMUP}s warm-up at the same load.

| requests/s | p50 | p99 | errors | tasks created / left pending 5 s after |
|---|---|---|---|---|
| $rps | $p50 | $p99 | ${errs:-0} | $created / $pending |

| process | RSS after warm-up | RSS after ${SECS}s | growth |
|---|---|---|---|
| presswork-api | ${api_before} MB | ${api_after} MB | $(growth "$api_before" "$api_after") |
| presswork-worker | ${worker_before} MB | ${worker_after} MB | $(growth "$worker_before" "$worker_after") |
REPORT

#!/usr/bin/env bash
# Queue benchmark (called by scripts/bench.sh, or alone). Needs DATABASE_URL
# (a migrated database) and OUT. Prints markdown.
#  - enqueue: 20,000 tasks inserted in batches of 500 (one statement each)
#  - drain: the same 20,000 no-op tasks by 1, 2 and 4 worker processes
#    (QUEUE_SLOTS tasks at a time each, default 8 = pgbench's clients)
#  - latency: enqueue-to-start of 200 single tasks with idle workers (LISTEN)
#  - pgbench: the claim-then-complete SQL alone, the database's limit
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
: "${DATABASE_URL:?}" "${OUT:?}"
PSQL="${PSQL:-psql}"
PGBENCH="${PGBENCH:-pgbench}"
SECS="${BENCH_SECONDS:-20}"
N=20000
cargo build --release --locked -p presswork_worker --example queue_bench_worker >&2
BIN=target/release/examples/queue_bench_worker

q() { "$PSQL" -At -q "$DATABASE_URL" -c "$1"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

enqueue_all() {
    local start end
    start=$(now_ms)
    for _ in $(seq 1 $((N / 500))); do
        q "INSERT INTO tasks (task_type, payload) SELECT 'noop', '{}' FROM generate_series(1, 500)" >/dev/null
    done
    end=$(now_ms)
    echo $(( N * 1000 / (end - start + 1) ))
}

drain_with() {
    local procs="$1" pids=() start end
    q "DELETE FROM tasks; DELETE FROM workers" >/dev/null
    local rate
    rate="$(enqueue_all)"
    # Statistics, as autoanalyze would have them on a live table (a brand-new
    # table without them makes the planner sort for every claim).
    q "ANALYZE tasks" >/dev/null
    start=$(now_ms)
    for _ in $(seq 1 "$procs"); do
        RUST_LOG=error CONCURRENCY="${QUEUE_SLOTS:-8}" "$BIN" >/dev/null 2>&1 &
        pids+=($!)
    done
    until [ "$(q "SELECT count(*) FROM tasks WHERE status = 'completed'")" -ge "$N" ]; do sleep 0.05; done
    end=$(now_ms)
    kill -INT "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    local dup
    dup="$(q "SELECT count(*) FROM tasks WHERE attempts <> 1")"
    echo "$rate|$(( N * 1000 / (end - start) ))|$dup"
}

declare -a rows
for p in 1 2 4; do
    log "queue: drain $N with $p worker process(es)"
    IFS='|' read -r enq done dup <<<"$(drain_with "$p")"
    rows+=("| $p | $enq | $done | $dup |")
done

log "queue: enqueue-to-start latency with an idle worker"
q "DELETE FROM tasks; DELETE FROM workers" >/dev/null
RUST_LOG=error CONCURRENCY="${QUEUE_SLOTS:-8}" "$BIN" >/dev/null 2>&1 &
wpid=$!
sleep 1
for _ in $(seq 1 200); do
    q "INSERT INTO tasks (task_type, payload) VALUES ('noop', '{}')" >/dev/null
    sleep 0.01
done
until [ "$(q "SELECT count(*) FROM tasks WHERE status = 'completed'")" -ge 200 ]; do sleep 0.05; done
kill -INT "$wpid"; wait "$wpid" 2>/dev/null || true
lat="$(q "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) || '|' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms FROM tasks) s")"

log "queue: pgbench claim-and-complete"
q "DELETE FROM tasks; INSERT INTO tasks (task_type, payload) SELECT 'noop', '{}' FROM generate_series(1, 400000)" >/dev/null
"$PGBENCH" -n -c 8 -j 2 -T "$SECS" -f scripts/bench/claim_complete.sql "$DATABASE_URL" >"$OUT/pgbench-queue.txt" 2>&1 || true
pg_tps="$(awk '/^tps/ {printf "%.0f", $3}' "$OUT/pgbench-queue.txt")"

echo "#### Queue"
echo
echo "20,000 no-op tasks; each worker process runs the real runner with ${QUEUE_SLOTS:-8} slots (\`apps/worker/examples/queue_bench_worker.rs\`), as many as pgbench has clients."
echo
echo "| worker processes | enqueue (tasks/s, batches of 500) | completed (tasks/s) | tasks not run exactly once |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "- pgbench, claim-then-complete SQL alone (8 clients, ${SECS} s): **${pg_tps:-?} tasks/s**"
echo "- enqueue-to-start with an idle worker (LISTEN/NOTIFY), 200 single inserts: p50 **${lat%%|*} ms**, p99 ${lat##*|} ms"

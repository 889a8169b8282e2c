#!/usr/bin/env bash
# Benchmarks of the public read API against the database's own limit,
# measured in the same run on the same machine (release build).
#
# Loads 10,000 published posts of varied markdown (~4 KB each: prose, lists,
# code, quotes, links; 3 tags, a category, an author; scripts/bench/*.sql),
# then scripts/bench/reads.sh measures each public read cold (cache off),
# beside pgbench on the same SQL, and warm (cache on), with random keys over
# the whole data set. Then grows the data set to BENCH_SCALE_POSTS (default
# 1,000,000; 0 skips it) and measures the same again. The other parts
# (mixed load, queue, router, pipeline) follow unless BENCH_PARTS=reads.
# Prints a markdown report and writes it to bench-out/report.md; the figures
# in docs/PERFORMANCE.md come from this script.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_rust
command -v wrk >/dev/null || apt_install wrk
command -v curl >/dev/null || apt_install curl
command -v python3 >/dev/null || apt_install python3
ensure_postgres_binaries
command -v pgbench >/dev/null || [ -x "$PG_BIN/pgbench" ] || apt_install postgresql-contrib
PGBENCH="$(command -v pgbench || echo "$PG_BIN/pgbench")"
PSQL="$(command -v psql || echo "$PG_BIN/psql")"

SECS="${BENCH_SECONDS:-15}"
CONNS="${BENCH_CONNECTIONS:-32}"
export BENCH_SECONDS="$SECS" BENCH_CONNECTIONS="$CONNS"
OUT="$REPO_ROOT/bench-out"
mkdir -p "$OUT"

PG_DIR="$(mktemp -d /tmp/presswork-bench-pg.XXXXXX)"
chmod 755 "$PG_DIR"
PG_PORT="$(free_port)"
API_PID=""
cleanup() {
    if [ -n "$API_PID" ]; then kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; fi
    stop_cluster "$PG_DIR/data"
    rm -rf "$PG_DIR"
}
trap cleanup EXIT
start_cluster "$PG_DIR/data" "$PG_PORT"
ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
"$PSQL" -q "$ADMIN_URL" -c "CREATE DATABASE presswork_bench"
export DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_bench"

log "release build"
cargo build --release --locked -p presswork_api -p presswork_cli >&2
cargo build --release --locked -p presswork_domain --example render_cost >&2
cargo build --release --locked -p presswork_db --example read_statements >&2
if [ "${BENCH_PARTS:-all}" != reads ]; then
    cargo build --release --locked -p presswork_llm --example router_overhead >&2
    cargo build --release --locked -p presswork_worker --bin presswork-worker >&2
    cargo build --release --locked -p presswork_pipeline --features testing --example pipeline_bench >&2
    cargo build --release --locked -p presswork_db --example revision_storage >&2
fi
target/release/presswork migrate >/dev/null
export OUT PSQL PGBENCH
: >"$OUT/reads.tsv"
: >"$OUT/process.tsv"
log "loading 10,000 posts"
load_start=$(date +%s)
scripts/bench/load.sh 1 10000
load_small_s=$(( $(date +%s) - load_start ))
render_cost="$(target/release/examples/render_cost 5000)"
db_small="$("$PSQL" -At "$DATABASE_URL" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
avg_len="$("$PSQL" -At "$DATABASE_URL" -c "SELECT avg(length(content))::int FROM posts")"
scripts/bench/reads.sh

mixed_report="" queue_report="" router_report="" pipeline_report="" revisions_report=""
# BENCH_PARTS=reads: only the read endpoints (and the scaling run).
if [ "${BENCH_PARTS:-all}" != reads ]; then
mixed_report="$(OUT="$OUT" PSQL="$PSQL" scripts/bench-mixed.sh)"
"$PSQL" -q "$ADMIN_URL" -c "CREATE DATABASE presswork_queue_bench"
queue_report="$(DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_queue_bench" sh -c 'target/release/presswork migrate >/dev/null' && \
    DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_queue_bench" OUT="$OUT" PSQL="$PSQL" PGBENCH="$PGBENCH" BENCH_SECONDS="$SECS" scripts/bench-queue.sh)"
router_report="$(target/release/examples/router_overhead "${ROUTER_CALLS:-20000}")"
"$PSQL" -q "$ADMIN_URL" -c "CREATE DATABASE presswork_pipeline_bench"
PIPE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_pipeline_bench"
DATABASE_URL="$PIPE_URL" target/release/presswork migrate >/dev/null
pipeline_report="$(DATABASE_URL="$PIPE_URL" WORKER_BIN=target/release/presswork-worker target/release/examples/pipeline_bench "${PIPELINE_ARTICLES:-400}")"
# Revision storage: REVISION_POSTS posts x REVISION_EDITS one-paragraph edits.
"$PSQL" -q "$ADMIN_URL" -c "CREATE DATABASE presswork_revision_bench"
revisions_report="$(DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/presswork_revision_bench" \
    POSTS="${REVISION_POSTS:-10000}" EDITS="${REVISION_EDITS:-20}" target/release/examples/revision_storage)"
fi

# Scaling: the same reads with BENCH_SCALE_POSTS posts (default 1,000,000;
# 0 skips it).
SCALE="${BENCH_SCALE_POSTS:-1000000}"
scale_note=""
if [ "$SCALE" -gt 10000 ]; then
    log "growing the data set to $SCALE posts"
    load_start=$(date +%s)
    scripts/bench/load.sh 10001 "$SCALE"
    load_s=$(( $(date +%s) - load_start ))
    db_size="$("$PSQL" -At "$DATABASE_URL" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    scale_note="Grown to $SCALE posts in ${load_s} s (loaded in transactions of ${BENCH_BATCH:-10000} posts with every trigger, HTML stored, VACUUM ANALYZE); database $db_size."
    scripts/bench/reads.sh
fi
reads_report="$(python3 scripts/bench/report.py "$OUT/reads.tsv" "$OUT/process.tsv")"

{
    echo "### Run of $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (private cluster, default settings)."
    echo "Data set: published posts of varied markdown (average $avg_len characters: prose, lists, code, quotes, links; 3 of 200 tags, one of 20 categories and of 50 authors; one rare search term of 2,000 each), 10,000 loaded in ${load_small_s} s (database $db_small). $scale_note"
    echo "Command: \`scripts/bench.sh\` — per read, ${BENCH_ROUNDS:-3} rounds of: wrk -t2 -c${BENCH_CONNECTIONS:-32} -d${BENCH_READ_SECONDS:-10}s (after ${WARMUP_SECONDS:-4} s of warm-up, discarded) against the API with its cache off (cold), pgbench -M prepared -c${BENCH_CONNECTIONS:-32} -j2 -T${BENCH_READ_SECONDS:-10} on the SQL the API sends for the same answer, then the API with its default cache (2 s, 16 MiB) on the same random keys (warm); API, wrk and PostgreSQL on this machine. Setting stated: the per-address rate limit is off (PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0), as all of wrk's requests come from one address."
    echo "Rendering one post's markdown costs: ${render_cost}"
    echo
    echo "$reads_report"
    echo
    echo "$queue_report"
    echo
    echo "$mixed_report"
    echo
    echo "$router_report"
    echo
    echo "$pipeline_report"
    echo
    if [ -n "$revisions_report" ]; then
        echo "#### Revision storage (\`crates/db/examples/revision_storage.rs\`)"
        echo
        echo '```'
        echo "$revisions_report"
        echo '```'
    fi
} | tee "$OUT/report.md"

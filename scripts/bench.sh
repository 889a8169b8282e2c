#!/usr/bin/env bash
# Benchmarks of the public read API against the database's own limit,
# measured in the same run on the same machine (release build).
#
# Loads 10,000 published posts (~4 KB markdown, 3 tags, a category, an author),
# then for each endpoint runs wrk (BENCH_SECONDS, default 20 s, at
# BENCH_CONNECTIONS, default 64) and pgbench on the SQL the API runs for it.
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

SECS="${BENCH_SECONDS:-20}"
CONNS="${BENCH_CONNECTIONS:-64}"
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
cargo build --release --locked -p presswork_llm --example router_overhead >&2
cargo build --release --locked -p presswork_domain --example render_cost >&2
cargo build --release --locked -p presswork_worker --bin presswork-worker >&2
cargo build --release --locked -p presswork_pipeline --features testing --example pipeline_bench >&2
target/release/presswork migrate >/dev/null
log "loading 10,000 posts"
"$PSQL" -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -f scripts/bench/seed.sql >/dev/null
# Loaded by SQL, so without the HTML the API stores when a post is written
# through it: store it, as an upgrade would (`presswork db render-html`).
log "rendering and storing the posts' HTML"
render_start=$(date +%s%N)
target/release/presswork db render-html >/dev/null
render_ms=$(( ($(date +%s%N) - render_start) / 1000000 ))
render_cost="$(target/release/examples/render_cost 5000)"
"$PSQL" -q "$DATABASE_URL" -c CHECKPOINT

# The keyset position of row 5,000 (what a client's cursor would carry there).
read -r CUR_TS CUR_ID < <("$PSQL" -At -F ' ' "$DATABASE_URL" -c \
    "SELECT to_char(published_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), id FROM posts ORDER BY published_at DESC, id DESC OFFSET 4999 LIMIT 1")
CURSOR="$(printf '{"k":"%s","id":"%s"}' "$CUR_TS" "$CUR_ID" | base64 -w0 | tr '+/' '-_' | tr -d '=')"
sed -e "s/ OFFSET 5000//g" \
    -e "s/WHERE p.status IN ('published', 'scheduled') AND p.published_at <= now() ORDER BY/WHERE p.status IN ('published', 'scheduled') AND p.published_at <= now() AND (p.published_at, p.id) < ('$CUR_TS', '$CUR_ID') ORDER BY/" \
    -e "s/WHERE status = 'published' ORDER BY/WHERE status = 'published' AND (published_at, id) < ('$CUR_TS', '$CUR_ID') ORDER BY/" \
    scripts/bench/list_deep.sql >"$OUT/keyset.sql"

PORT="$(free_port)"
export PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0 PRESSWORK__HTTP__ADDRESS="127.0.0.1:$PORT" RUST_LOG=warn JWT_SECRET="bench-only-secret-0123456789abcdef-0123"
BASE="http://127.0.0.1:$PORT"
start_ns=$(date +%s%N)
target/release/presswork-api >"$OUT/api.log" 2>&1 &
API_PID=$!
until curl -sf "$BASE/livez" >/dev/null 2>&1; do sleep 0.002; done
startup_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$API_PID/status"; }
rss_start="$(rss_mb)"
curl -sf "$BASE/api/posts?limit=20" | grep -q bench-post || die "the API does not serve the dataset"

# wrk: requests/s, p50, p99, non-2xx and socket errors.
wrk_run() {
    local args=("$@")
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "${args[@]}" >"$OUT/wrk.txt" 2>&1
    local rps p50 p99 errs
    rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$OUT/wrk.txt")
    p50=$(awk '$1=="50%" {print $2}' "$OUT/wrk.txt")
    p99=$(awk '$1=="99%" {print $2}' "$OUT/wrk.txt")
    errs=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' "$OUT/wrk.txt")
    echo "$rps|$p50|$p99|${errs:-0}"
}
pgbench_run() {
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$1" "$DATABASE_URL" >"$OUT/pgbench.txt" 2>&1 || { cat "$OUT/pgbench.txt" >&2; die "pgbench failed"; }
    awk '/^tps/ {tps = $3} /latency average/ {lat = $4} END {printf "%.0f|%s ms", tps, lat}' "$OUT/pgbench.txt"
}

declare -a rows
printf 'label\tapi_rps\tp99\tpgbench_tps\tscale_p99\n' >"$OUT/endpoints.tsv"
# A short run first, results discarded: caches, connections and the
# database's buffers are warm when the measured run starts.
warm_up() {
    wrk -t2 -c"$CONNS" -d"${WARMUP_SECONDS:-5}s" "$@" >/dev/null 2>&1 || true
}
bench() {
    local label="$1" sql="$2"; shift 2
    log "wrk: $label"
    local w p
    warm_up "$@"
    w="$(wrk_run "$@")"
    log "pgbench: $label"
    p="$(pgbench_run "$sql")"
    IFS='|' read -r rps p50 p99 errs <<<"$w"
    IFS='|' read -r tps lat <<<"$p"
    local ratio
    ratio=$(awk -v a="$rps" -v b="$tps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
    rows+=("| $label | $rps | $p50 | $p99 | $errs | $tps | $lat | $ratio |")
    printf '%s\t%s\t%s\t%s\t\n' "$(tr -d '`' <<<"$label")" "$rps" "$p99" "$tps" >>"$OUT/endpoints.tsv"
}

bench '`GET /api/posts?limit=20`' scripts/bench/list_first.sql "$BASE/api/posts?limit=20"
bench '`GET /api/posts?skip=5000&limit=20`' scripts/bench/list_deep.sql "$BASE/api/posts?skip=5000&limit=20"
bench '`GET /api/posts?cursor=…` (row 5,000)' "$OUT/keyset.sql" "$BASE/api/posts?limit=20&cursor=$CURSOR"
bench '`GET /api/posts/{slug}` (random)' scripts/bench/slug.sql -s scripts/bench/random_slug.lua "$BASE"
bench '`GET /api/posts?q=serendipity`' scripts/bench/search.sql "$BASE/api/posts?q=serendipity"
rss_end="$(rss_mb)"
kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; API_PID=""
mixed_report="" queue_report="" router_report="" pipeline_report=""
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
fi

# Scaling: the same list and search reads with BENCH_SCALE_POSTS posts
# (default 1,000,000; 0 skips it), against their 10,000-post p99.
SCALE="${BENCH_SCALE_POSTS:-1000000}"
scale_report=""
if [ "$SCALE" -gt 10000 ]; then
    log "growing the dataset to $SCALE posts"
    load_start=$(date +%s)
    "$PSQL" -q "$DATABASE_URL" -v ON_ERROR_STOP=1 -v total="$SCALE" -f scripts/bench/seed_scale.sql >/dev/null
    load_s=$(( $(date +%s) - load_start ))
    # Write the load out now, not during the measurements.
    "$PSQL" -q "$DATABASE_URL" -c CHECKPOINT
    db_size="$("$PSQL" -At "$DATABASE_URL" -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"
    target/release/presswork-api >"$OUT/api-scale.log" 2>&1 &
    API_PID=$!
    until curl -sf "$BASE/livez" >/dev/null 2>&1; do sleep 0.01; done
    declare -a scale_rows
    scale_bench() {
        local label="$1" sql="$2"; shift 2
        log "wrk at $SCALE posts: $label"
        local w p small_p99
        warm_up "$@"
        w="$(wrk_run "$@")"
        log "pgbench at $SCALE posts: $label"
        p="$(pgbench_run "$sql")"
        IFS='|' read -r rps p50 p99 errs <<<"$w"
        IFS='|' read -r tps lat <<<"$p"
        small_p99="$(awk -F '\t' -v l="$(tr -d '`' <<<"$label")" '$1 == l {print $3}' "$OUT/endpoints.tsv")"
        local ratio
        ratio=$(python3 - "$small_p99" "$p99" <<'PY'
import sys
def ms(t):
    for u, f in (("us", .001), ("ms", 1.), ("s", 1000.)):
        if t.endswith(u): return float(t[:-len(u)]) * f
    return float(t)
print(f"{ms(sys.argv[2]) / ms(sys.argv[1]):.2f}")
PY
)
        scale_rows+=("| $label | $rps | $p50 | $p99 | $small_p99 | $ratio | $errs | $tps | $lat |")
        awk -F '\t' -v OFS='\t' -v l="$(tr -d '`' <<<"$label")" -v v="$p99" '$1 == l {$5 = v} {print}' \
            "$OUT/endpoints.tsv" >"$OUT/endpoints.tmp" && mv "$OUT/endpoints.tmp" "$OUT/endpoints.tsv"
    }
    scale_bench '`GET /api/posts?limit=20`' scripts/bench/list_first.sql "$BASE/api/posts?limit=20"
    scale_bench '`GET /api/posts?skip=5000&limit=20`' scripts/bench/list_deep.sql "$BASE/api/posts?skip=5000&limit=20"
    scale_bench '`GET /api/posts?cursor=…` (row 5,000)' "$OUT/keyset.sql" "$BASE/api/posts?limit=20&cursor=$CURSOR"
    scale_bench '`GET /api/posts?q=serendipity`' scripts/bench/search.sql "$BASE/api/posts?q=serendipity"
    kill "$API_PID" 2>/dev/null || true; wait "$API_PID" 2>/dev/null || true; API_PID=""
    scale_report="$(
        echo "#### Scaling to $SCALE posts"
        echo
        echo "The same dataset grown to $SCALE published posts (loaded in ${load_s} s; database $db_size), API restarted with an empty cache, same wrk and pgbench settings. Target: p99 within 2× of the 10,000-post figure."
        echo
        echo "| endpoint | API req/s | p50 | p99 | p99 at 10,000 | ratio | errors | pgbench tps (same SQL) | pgbench mean latency |"
        echo "|---|---|---|---|---|---|---|---|---|"
        printf '%s\n' "${scale_rows[@]}"
    )"
fi
python3 scripts/bench/chart.py "$OUT/endpoints.tsv" docs/performance-reads.svg \
    "Presswork public reads, $(nproc) cores, $(date -u +%Y-%m-%d): API vs PostgreSQL's own limit"

{
    echo "### Run of $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (private cluster, default settings)."
    echo "Dataset: 10,000 published posts (~4 KB markdown, 3 tags, a category, an author each)."
    echo "Command: \`scripts/bench.sh\` — wrk -t2 -c$CONNS -d${SECS}s (after ${WARMUP_SECONDS:-5} s of warm-up, discarded) and pgbench -M prepared -c$CONNS -j2 -T$SECS on the same SQL, one after the other, API and database on this machine."
    echo
    echo "- Start-up to first answered request: **${startup_ms} ms**"
    echo "- API resident memory: ${rss_start} MB after start, **${rss_end} MB** after the load"
    echo "- \`presswork db render-html\` stored the HTML of the 10,000 posts in ${render_ms} ms; one post costs: ${render_cost}"
    echo
    echo "| endpoint | API req/s | p50 | p99 | errors | pgbench tps (same SQL) | pgbench mean latency | API / pgbench |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "![Throughput and p99 per endpoint beside pgbench on the same SQL](performance-reads.svg)"
    echo
    echo "$scale_report"
    echo
    echo "$queue_report"
    echo
    echo "$mixed_report"
    echo
    echo "$router_report"
    echo
    echo "$pipeline_report"
} | tee "$OUT/report.md"

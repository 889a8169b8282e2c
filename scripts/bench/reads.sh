#!/usr/bin/env bash
# The public reads, cold and warm, beside PostgreSQL's own limit, at the
# data set's current size (run by scripts/bench.sh after loading it).
#
# For each read — the first page with its total, a random page of the whole
# list, a random tag's random page, a random post by slug, a search for a
# random rare term — BENCH_ROUNDS rounds (default 3) of three runs of
# BENCH_READ_SECONDS (default 10) at BENCH_CONNECTIONS, back to back:
#   cold: the API with its cache off (http.public_cache_ttl_ms=0): every
#         request reads PostgreSQL;
#   pgbench: the SQL the API sends for the same answer, printed by the API's
#         own statement builder (target/release/examples/read_statements,
#         which scripts/bench.sh builds) (for the first page,
#         the page statement alone, as the target is stated), -M prepared;
#   warm: the API with its default cache (2 s, 16 MiB), the same random keys
#         (each wrk thread seeds its generator the same way in both runs).
# Each wrk run follows a warm-up of WARMUP_SECONDS, discarded. The per-address
# rate limit is off (PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0): wrk
# sends everything from one address. Appends a row per run (one per round)
# to $OUT/reads.tsv:
#   posts read mode req_per_s p50 p99 errors   (mode cold|warm|pgbench|
#   pgbench-uncorrected; for pgbench req_per_s is tps and p50/p99 its
#   transactions' latencies)
# and the API's start-up and memory to $OUT/process.tsv.
# Latencies: wrk 4 corrects its percentiles for coordinated omission (a
# request held back by a slow one counts as well, once per interval of the
# run's pace); pgbench's are computed from its per-transaction log with the
# same correction, and also without it (scripts/bench/latency.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/common.sh
: "${DATABASE_URL:?}" "${OUT:?}" "${PSQL:?}" "${PGBENCH:?}"
# Rounds alternate so that a drift of the machine during a read touches the
# three modes alike; scripts/bench/report.py gives each mode's median round.
SECS="${BENCH_READ_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
CONNS="${BENCH_CONNECTIONS:-32}"
WARMUP="${WARMUP_SECONDS:-4}"
N="$("$PSQL" -At "$DATABASE_URL" -c "SELECT count(*) FROM posts WHERE status = 'published'")"
PER_TAG=$(( N * 3 / 200 ))
L="$OUT/lua-$N"
mkdir -p "$L"

# wrk scripts: the same keys, cold and warm.
seeded='local tid = 0
setup = function(thread) thread:set("tid", tid); tid = tid + 1 end
init = function(args) math.randomseed(4242 + (tid or 0)) end'
{ echo "$seeded"; echo "request = function() return wrk.format(\"GET\", \"/api/posts?limit=20&skip=\" .. math.random(0, $N - 20)) end"; } >"$L/page.lua"
{ echo "$seeded"; echo "request = function() return wrk.format(\"GET\", \"/api/posts/bench-post-\" .. math.random(1, $N)) end"; } >"$L/slug.lua"
{ echo "$seeded"; echo "request = function() return wrk.format(\"GET\", \"/api/posts?tag=tag-\" .. math.random(0, 199) .. \"&limit=20&skip=\" .. math.random(0, $PER_TAG - 20)) end"; } >"$L/tag.lua"
{
    echo "$seeded"
    printf 'local words = {'
    "$PSQL" -At "$DATABASE_URL" -c "SELECT string_agg('\"' || word || '\"', ',' ORDER BY id) FROM bench_rare" | tr -d '\n'
    echo '}'
    echo 'request = function() return wrk.format("GET", "/api/posts?limit=20&q=" .. words[math.random(1, #words)]) end'
} >"$L/search.lua"

# pgbench: the statements the API sends, printed by the code that builds
# them (crates/db/examples/read_statements.rs calls cms::list_statement and
# cms::post_statement), the values the API binds drawn by pgbench. For the
# first page, the page's statement without the total, the list-only query
# the target is stated against.
# The keys pgbench draws, from the same ranges as wrk's above.
declare -A DRAWS=(
    [first]=""
    [page]="\\set o random(0, $N - 20)"
    [tag]="\\set t random(0, 199)
\\set o random(0, $PER_TAG - 20)"
    [slug]="\\set n random(1, $N)"
    [search]="\\set r random(1, 2000)"
)
for r in first page tag slug search; do
    { echo '\set lim 20'; [ -z "${DRAWS[$r]}" ] || echo "${DRAWS[$r]}"
      "${READ_STATEMENTS:-target/release/examples/read_statements}" "$r"; } >"$L/$r.sql"
done

READS=(first page tag slug search)
declare -A URL=([first]="/api/posts?limit=20" [page]="" [tag]="" [slug]="" [search]="")

wrk_run() { # mode read base
    local mode="$1" read="$2" base="$3" args=()
    if [ -n "${URL[$read]}" ]; then args=("$base${URL[$read]}"); else args=(-s "$L/$read.lua" "$base"); fi
    wrk -t2 -c"$CONNS" -d"${WARMUP}s" "${args[@]}" >/dev/null 2>&1 || true
    wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "${args[@]}" >"$OUT/wrk.txt" 2>&1
    awk -v n="$N" -v r="$read" -v m="$mode" '
        /Requests\/sec/ {rps = $2}
        $1 == "50%" {p50 = $2}
        $1 == "99%" {p99 = $2}
        /Non-2xx|Socket errors/ {sub(/^ +/, ""); errs = errs $0 "; "}
        END {printf "%s\t%s\t%s\t%.0f\t%s\t%s\t%s\n", n, r, m, rps, p50, p99, (errs == "" ? "0" : errs)}' \
        "$OUT/wrk.txt" >>"$OUT/reads.tsv"
}

pgbench_run() { # read
    local r="$1" p50 p99 raw50 raw99
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$WARMUP" -f "$L/$r.sql" "$DATABASE_URL" >/dev/null 2>&1 || true
    # Each transaction's latency logged (-l), for pgbench's own p50 and p99:
    # corrected for coordinated omission as wrk corrects the API's
    # (scripts/bench/latency.py), so that the two compare, and uncorrected.
    rm -f "$OUT"/pgbench-log.*
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -l --log-prefix="$OUT/pgbench-log" \
        -f "$L/$r.sql" "$DATABASE_URL" >"$OUT/pgbench.txt" 2>&1 \
        || { cat "$OUT/pgbench.txt" >&2; die "pgbench failed on $r"; }
    read -r p50 p99 raw50 raw99 < <(python3 scripts/bench/latency.py "$SECS" "$CONNS" "$OUT"/pgbench-log.*)
    [ -n "${raw99:-}" ] || die "no latencies from pgbench's log on $r"
    awk -v n="$N" -v r="$r" -v p50="$p50" -v p99="$p99" -v raw50="$raw50" -v raw99="$raw99" \
        '/^tps/ {tps = $3} /number of failed transactions/ && $5 != "0" {f = $0}
        END {e = (f == "" ? "0" : f)
             printf "%s\t%s\tpgbench\t%.0f\t%s\t%s\t%s\n", n, r, tps, p50, p99, e
             printf "%s\t%s\tpgbench-uncorrected\t%.0f\t%s\t%s\t%s\n", n, r, tps, raw50, raw99, e}' \
        "$OUT/pgbench.txt" >>"$OUT/reads.tsv"
    rm -f "$OUT"/pgbench-log.*
}

# Two API processes side by side, one with its cache off and one with the
# default cache; each read runs cold, then pgbench, then warm, back to back,
# so the three compare the database in the same state (run apart, the warm
# runs came after every pgbench run and were slower for it).
PIDS=()
stop_apis() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap stop_apis EXIT
start_api() { # ttl_ms: sets API_PID, BASE, STARTUP_MS
    local port start_ns
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    start_ns=$(date +%s%N)
    PRESSWORK__HTTP__PUBLIC_CACHE_TTL_MS="$1" PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0 \
        PRESSWORK__HTTP__ADDRESS="127.0.0.1:$port" RUST_LOG=warn JWT_SECRET="bench-only-secret-0123456789abcdef-0123" \
        target/release/presswork-api >>"$OUT/api.log" 2>&1 &
    API_PID=$!
    PIDS+=("$API_PID")
    until curl -sf "$BASE/livez" >/dev/null 2>&1; do sleep 0.002; done
    STARTUP_MS=$(( ($(date +%s%N) - start_ns) / 1000000 ))
    curl -sf "$BASE/api/posts/bench-post-1" | grep -q '"slug":"bench-post-1"' || die "the API does not serve the data set"
}
rss_mb() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$WARM_PID/status"; }

log "reads at $N posts: an API with its cache off, one with the default cache"
start_api 0
COLD_BASE="$BASE"
printf '%s\tcold\tstartup_ms\t%s\n' "$N" "$STARTUP_MS" >>"$OUT/process.tsv"
start_api "${DEFAULT_TTL_MS:-2000}"
WARM_BASE="$BASE" WARM_PID="$API_PID"
printf '%s\twarm\tstartup_ms\t%s\n' "$N" "$STARTUP_MS" >>"$OUT/process.tsv"
printf '%s\twarm\trss_start_mb\t%s\n' "$N" "$(rss_mb)" >>"$OUT/process.tsv"

for r in "${READS[@]}"; do
    for round in $(seq 1 "$ROUNDS"); do
        log "cold: $r (round $round of $ROUNDS)"
        wrk_run cold "$r" "$COLD_BASE"
        log "pgbench: $r (round $round of $ROUNDS)"
        pgbench_run "$r"
        log "warm: $r (round $round of $ROUNDS)"
        wrk_run warm "$r" "$WARM_BASE"
    done
done
printf '%s\twarm\trss_end_mb\t%s\n' "$N" "$(rss_mb)" >>"$OUT/process.tsv"

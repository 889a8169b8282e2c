#!/usr/bin/env bash
# The public reads, cold and warm, beside PostgreSQL's own limit, at the
# data set's current size (run by scripts/bench.sh after loading it).
#
# For each read — the first page with its total, a random page of the whole
# list, a random tag's random page, a random post by slug, a search for a
# random rare term — three runs of BENCH_SECONDS at BENCH_CONNECTIONS, back
# to back:
#   cold: the API with its cache off (http.public_cache_ttl_ms=0): every
#         request reads PostgreSQL;
#   pgbench: the SQL the API sends for the same answer (for the first page,
#         the page statement alone, as the target is stated), -M prepared;
#   warm: the API with its default cache (2 s, 16 MiB), the same random keys
#         (each wrk thread seeds its generator the same way in both runs).
# Each wrk run follows a warm-up of WARMUP_SECONDS, discarded. The per-address
# rate limit is off (PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0): wrk
# sends everything from one address. Appends rows to $OUT/reads.tsv:
#   posts read mode req_per_s p50 p99 errors   (mode cold|warm|pgbench; for
#   pgbench req_per_s is tps and p50/p99 are the mean latency)
# and the API's start-up and memory to $OUT/process.tsv.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/common.sh
: "${DATABASE_URL:?}" "${OUT:?}" "${PSQL:?}" "${PGBENCH:?}"
SECS="${BENCH_SECONDS:-15}"
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

# pgbench: the statements the API sends (crates/db/src/cms/reads.rs: the
# page's ids from an index, LIMIT a constant step and the page's size a bind
# on the row number, then its rows with their tags, gathered once for the
# page, and, as a column, the list's total). For the first page, the page's
# statement without the total, the list-only query the target is stated
# against.
COLS="p.id, p.title, p.slug, p.excerpt, p.featured_image_url, p.cover_image_url, p.category_id, p.author_id, p.published_at, p.created_at, p.updated_at, p.seo_title, p.seo_description, p.seo_keywords, p.status, p.view_count, p.featured, p.created_by, c.name AS c_name, c.slug AS c_slug, a.name AS a_name, a.slug AS a_slug, a.avatar_url AS a_avatar_url, a.user_id AS a_user_id"
TAGS=", COALESCE(tg.ids, '{}') AS tag_ids, COALESCE(tg.names, '{}') AS tag_names, COALESCE(tg.slugs, '{}') AS tag_slugs, COALESCE(tg.colors, '{}') AS tag_colors"
LATERAL="CROSS JOIN LATERAL (SELECT array_agg(t.id ORDER BY t.name, t.id) AS ids, array_agg(t.name ORDER BY t.name, t.id) AS names, array_agg(t.slug ORDER BY t.name, t.id) AS slugs, array_agg(t.color ORDER BY t.name, t.id) AS colors FROM post_tags pt JOIN tags t ON t.id = pt.tag_id WHERE pt.post_id = p.id) tg"
OF_PAGE="LEFT JOIN (SELECT pt.post_id, array_agg(t.id ORDER BY t.name, t.id) AS ids, array_agg(t.name ORDER BY t.name, t.id) AS names, array_agg(t.slug ORDER BY t.name, t.id) AS slugs, array_agg(t.color ORDER BY t.name, t.id) AS colors FROM page JOIN post_tags pt ON pt.post_id = page.id JOIN tags t ON t.id = pt.tag_id GROUP BY pt.post_id) tg ON tg.post_id = p.id"
PUBLIC="p.status IN ('published', 'scheduled') AND p.published_at <= now()"
FUTURE="p.status IN ('published', 'scheduled') AND p.published_at > now()"
PAGE="WITH page AS (SELECT id, ord FROM (SELECT p.id, row_number() OVER () AS ord FROM ("
finish() { # [total SQL]
    local total=""
    [ -z "${1:-}" ] || total=", ($1) AS total"
    echo " LIMIT 20${OFFSET:-}) p) n WHERE ord <= 20) SELECT $COLS, p.content$TAGS$total FROM page JOIN posts p ON p.id = page.id LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id $OF_PAGE ORDER BY page.ord;"
}
all_total="SELECT coalesce((SELECT n FROM post_counts WHERE dimension = 'all' AND key = '00000000-0000-0000-0000-000000000000'::uuid), 0) - (SELECT count(*) FROM posts p WHERE $FUTURE) AS n"
tag_total="WITH k AS (SELECT id FROM tags WHERE slug = 'tag-' || :t) SELECT coalesce((SELECT n FROM post_counts WHERE dimension = 'tag' AND key = (SELECT id FROM k)), 0) - (SELECT count(*) FROM posts p WHERE $FUTURE AND EXISTS (SELECT 1 FROM post_tags pt WHERE pt.post_id = p.id AND pt.tag_id = (SELECT id FROM k))) AS n"
RARE="(SELECT word FROM bench_rare WHERE id = :r - 1)"
search_total="SELECT count(*) AS n FROM posts p WHERE true AND $PUBLIC AND p.search @@ websearch_to_tsquery('english', $RARE)"
echo "${PAGE}SELECT p.id FROM posts p WHERE true AND $PUBLIC ORDER BY p.published_at DESC, p.id DESC$(finish)" >"$L/first.sql"
{
    echo "\\set o random(0, $N - 20)"
    echo "${PAGE}SELECT p.id FROM posts p WHERE true AND $PUBLIC ORDER BY p.published_at DESC, p.id DESC$(OFFSET=" OFFSET :o" finish "$all_total")"
} >"$L/page.sql"
{
    echo "\\set t random(0, 199)"
    echo "\\set o random(0, $PER_TAG - 20)"
    echo "${PAGE}SELECT pt.post_id AS id FROM post_tags pt WHERE pt.tag_id = (SELECT id FROM tags WHERE slug = 'tag-' || :t) AND pt.public AND pt.published_at <= now() ORDER BY pt.published_at DESC, pt.post_id DESC$(OFFSET=" OFFSET :o" finish "$tag_total")"
} >"$L/tag.sql"
{
    echo "\\set n random(1, $N)"
    echo "SELECT $COLS, p.content, p.content_html$TAGS FROM posts p LEFT JOIN categories c ON c.id = p.category_id LEFT JOIN authors a ON a.id = p.author_id $LATERAL WHERE p.slug = 'bench-post-' || :n AND $PUBLIC;"
} >"$L/slug.sql"
{
    echo "\\set r random(1, 2000)"
    echo "${PAGE}SELECT p.id FROM posts p WHERE true AND $PUBLIC AND p.search @@ websearch_to_tsquery('english', $RARE) ORDER BY ts_rank_cd(p.search, websearch_to_tsquery('english', $RARE)) DESC, p.published_at DESC, p.id DESC$(finish "$search_total")"
} >"$L/search.sql"

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
    log "cold: $r"
    wrk_run cold "$r" "$COLD_BASE"
    log "pgbench: $r"
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$WARMUP" -f "$L/$r.sql" "$DATABASE_URL" >/dev/null 2>&1 || true
    "$PGBENCH" -n -M prepared -c "$CONNS" -j 2 -T "$SECS" -f "$L/$r.sql" "$DATABASE_URL" >"$OUT/pgbench.txt" 2>&1 \
        || { cat "$OUT/pgbench.txt" >&2; die "pgbench failed on $r"; }
    awk -v n="$N" -v r="$r" '/^tps/ {tps = $3} /latency average/ {lat = $4 "ms"} /number of failed transactions/ && $5 != "0" {f = $0}
        END {printf "%s\t%s\tpgbench\t%.0f\t%s\t%s\t%s\n", n, r, tps, lat, lat, (f == "" ? "0" : f)}' \
        "$OUT/pgbench.txt" >>"$OUT/reads.tsv"
    log "warm: $r"
    wrk_run warm "$r" "$WARM_BASE"
done
printf '%s\twarm\trss_end_mb\t%s\n' "$N" "$(rss_mb)" >>"$OUT/process.tsv"

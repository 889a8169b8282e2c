#!/usr/bin/env bash
# Loads benchmark posts FIRST..LAST into DATABASE_URL (migrated): the corpus
# and taxonomy first when FIRST is 1, then the posts in transactions of
# BENCH_BATCH (default 10,000) through every trigger, as an import would
# write them; then their HTML (`presswork db render-html`), VACUUM ANALYZE
# and a checkpoint. Run by scripts/bench.sh; on its own, to keep a large data
# set between runs of scripts/bench/reads.sh:
#   DATABASE_URL=… scripts/bench/load.sh 1 1000000
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib/common.sh
: "${DATABASE_URL:?}"
FIRST="${1:?first post number}" LAST="${2:?last post number}"
PSQL="${PSQL:-psql}"
PRESSWORK="${PRESSWORK_BIN:-target/release/presswork}"
BATCH="${BENCH_BATCH:-10000}"
run() { "$PSQL" -q "$DATABASE_URL" -v ON_ERROR_STOP=1 "$@" >/dev/null; }
if [ "$FIRST" -eq 1 ]; then
    run -f scripts/bench/corpus.sql
    run -f scripts/bench/taxonomy.sql
fi
for ((s = FIRST; s <= LAST; s += BATCH)); do
    e=$(( s + BATCH - 1 < LAST ? s + BATCH - 1 : LAST ))
    run -1 -v first="$s" -v last="$e" -f scripts/bench/posts.sql
    [ $(( (e - FIRST + 1) % 100000 )) -ne 0 ] || log "loaded posts up to $e"
done
"$PRESSWORK" db render-html >/dev/null
run -c "VACUUM ANALYZE" -c CHECKPOINT

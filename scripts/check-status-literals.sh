#!/usr/bin/env bash
# Fails when a content-task, approval or queue status is written as a string
# literal outside its one mapping (crates/domain/src/status.rs), the
# migrations and tests. Statuses are `presswork_domain::status` enums; a typo
# in a literal compiles, a typo in a variant does not.
#
# What counts: a Rust string literal that is exactly a status name
# ("pending", "awaiting_approval", ...) and is not a JSON object key, and a
# SQL literal ('running') outside presswork_db. Inside presswork_db's SQL
# text the literals stay: the partial indexes (`WHERE status = 'pending'`)
# are only used by statements that name the status as a constant, and the
# CHECK constraints they must match live in the migrations beside them (a
# test in crates/db compares the constraints with the enums).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

names='pending|running|completed|failed|cancelled|awaiting_approval|approved|rejected|published'
# Non-test Rust sources: everything under src/ and examples/ except the
# mapping, stopping at a file's `#[cfg(test)]` module.
files=$(git ls-files 'crates/*/src/*.rs' 'crates/*/src/**/*.rs' 'apps/*/src/*.rs' 'apps/*/src/**/*.rs' \
    'crates/*/examples/*.rs' | grep -v '^crates/domain/src/status.rs$')
status=0
for f in $files; do
    hits=$(awk '/^#\[cfg\(test\)\]/ { exit } { print FILENAME ":" FNR ": " $0 }' "$f" \
        | grep -P "\"($names)\"(?!\\s*:)" || true)
    if [[ "$f" != crates/db/src/* ]]; then
        hits+=$(awk '/^#\[cfg\(test\)\]/ { exit } { print FILENAME ":" FNR ": " $0 }' "$f" \
            | grep -P "'($names)'" || true)
    fi
    if [ -n "$hits" ]; then
        echo "$hits" >&2
        status=1
    fi
done
if [ "$status" -ne 0 ]; then
    echo "status literals: use presswork_domain::status::{TaskStatus, ContentStatus, ApprovalStatus} instead of the strings above" >&2
else
    echo "status literals: none outside the mapping" >&2
fi
exit "$status"

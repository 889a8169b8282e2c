#!/usr/bin/env bash
# Fails when crates/db/src/schema.rs is not what `diesel print-schema` makes of
# the migrations. Needs TEST_DATABASE_URL (a server where it may create a
# scratch database). With --write, regenerates schema.rs instead.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_diesel_cli

: "${TEST_DATABASE_URL:?TEST_DATABASE_URL must point at a PostgreSQL server}"
scratch="pw_schema_check_$$"
server="${TEST_DATABASE_URL%/*}"
admin="$server/postgres"
url="$server/$scratch"
command -v psql >/dev/null || apt_install postgresql-client

psql -q -v ON_ERROR_STOP=1 "$admin" -c "CREATE DATABASE \"$scratch\"" >/dev/null
trap 'psql -q "$admin" -c "DROP DATABASE IF EXISTS \"$scratch\" WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
# Migrated through our own binary, exactly as in production.
build_binaries -q
DATABASE_URL="$url" target/debug/presswork migrate >/dev/null

generated="$(mktemp)"
(cd crates/db && diesel print-schema --database-url "$url" >"$generated")
if [ "${1:-}" = "--write" ]; then
    cp "$generated" crates/db/src/schema.rs
    echo "schema.rs regenerated" >&2
elif ! diff -u crates/db/src/schema.rs "$generated"; then
    echo "schema.rs is stale: run scripts/check-schema.sh --write (with TEST_DATABASE_URL set) and commit it" >&2
    rm -f "$generated"
    exit 1
fi
rm -f "$generated"

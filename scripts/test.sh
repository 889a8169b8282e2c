#!/usr/bin/env bash
# Runs every check and test: fmt, clippy, the dependency-layering check, the
# benchmark scripts' own tests (their latency accounting), the
# schema.rs freshness check, scripts/dev.sh's own test, all tests against a
# real PostgreSQL (the console's browser tests included, in headless
# Chromium), and the API fuzz run.
#
# Uses TEST_DATABASE_URL (or DATABASE_URL) when set; otherwise starts a private
# throwaway PostgreSQL cluster (fsync off) and removes it afterwards.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

ensure_rust
command -v python3 >/dev/null || apt_install python3

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

log "dependency layering"
scripts/check-layers.sh

log "the benchmark's latency accounting (scripts/bench/latency.py)"
python3 -m unittest discover -s scripts/bench -p 'test_*.py'

if [ -z "${TEST_DATABASE_URL:-}" ] && [ -n "${DATABASE_URL:-}" ]; then
    TEST_DATABASE_URL="$DATABASE_URL"
fi
if [ -z "${TEST_DATABASE_URL:-}" ]; then
    ensure_postgres_binaries
    PG_DIR="$(mktemp -d /tmp/presswork-test-pg.XXXXXX)"
    chmod 755 "$PG_DIR"
    PG_PORT="$(free_port)"
    cleanup() { stop_cluster "$PG_DIR/data"; rm -rf "$PG_DIR"; }
    trap cleanup EXIT
    start_cluster "$PG_DIR/data" "$PG_PORT" throwaway
    TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
fi
export TEST_DATABASE_URL

# The console's browser tests: Debian's Chromium driven by playwright-core
# (pinned in apps/api/console/browser/package-lock.json; no browser download).
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
[ -x /usr/bin/chromium ] || apt_install chromium
log "npm ci (playwright-core for the console's browser tests)"
(cd apps/api/console/browser && npm ci --no-audit --no-fund --loglevel=error >&2)
export CHROMIUM_PATH=/usr/bin/chromium

log "schema.rs matches the migrations"
scripts/check-schema.sh

log "scripts/dev.sh, as a new user meets it"
scripts/test-dev.sh

log "tests"
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --locked --no-fail-fast --failure-output final
else
    cargo test --workspace --all-features --locked --no-fail-fast
fi
log "API fuzzing (Schemathesis, from the OpenAPI document)"
scripts/fuzz-api.sh
log "all checks passed"

#!/usr/bin/env bash
# Fuzzes the running API from its own OpenAPI document with Schemathesis,
# every check on (`--checks all`): no 5xx, only documented status codes,
# responses that match their schemas, schema-valid requests accepted and
# schema-invalid ones refused, 405s whose Allow lists the documented methods.
# A seeded database and an admin API key that the run cannot revoke: the
# operations left out are listed below with the reason; scripts/fuzz/
# schemathesis.toml lists the few rules JSON Schema cannot state.
#
# Left out, and why:
#  - auth/logout, auth/change-password, auth/sessions, auth/api-keys/{id}:
#    they revoke credentials, possibly the fuzzer's own; tested in
#    apps/api/tests/it/auth_flows.rs and api_keys.rs.
#  - auth/2fa/*: turning on 2FA for the fuzzing admin needs a code from its
#    authenticator; tested in auth_totp.rs.
#  - auth/github/*: redirects to and calls GitHub; tested against a local
#    GitHub in github.rs.
#  - chat (POST; its history is fuzzed), models/test, ollama/warmup, social/generate: they call an LLM
#    provider, none is reachable here, and the fallback chain's 502 is a 5xx;
#    tested against local fakes of each provider in llm.rs and social.rs.
#
# Needs: TEST_DATABASE_URL (a server URL; a database is created and dropped),
# the debug binaries (scripts/test.sh builds them). Bounded by FUZZ_SECONDS
# (default 120) and FUZZ_EXAMPLES per operation (default 5); one worker and
# deterministic generation, so a run is reproducible (FUZZ_SEED changes the
# seed). NUL is not generated in strings: PostgreSQL cannot store it, and the
# document says so (400 invalid_text).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/common.sh

: "${TEST_DATABASE_URL:?TEST_DATABASE_URL must point at a PostgreSQL server}"
SECONDS_BUDGET="${FUZZ_SECONDS:-120}"
EXAMPLES="${FUZZ_EXAMPLES:-5}"
VENV=".data/fuzz-venv"
SCHEMATHESIS_VERSION="4.32.5"

if [ ! -x "$VENV/bin/st" ] || ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    rm -rf "$VENV"
    mkdir -p .data
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

build_binaries -q
DB="presswork_fuzz_$$"
BASE_URL="${TEST_DATABASE_URL%/*}"
export DATABASE_URL="$BASE_URL/$DB"
export JWT_SECRET="fuzz-only-secret-0123456789abcdef-0123456789"
export PRESSWORK_ENCRYPTION_KEY="KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="
API_PID=""
cleanup() {
    [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
    psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
PSQL="$(command -v psql || true)"
[ -n "$PSQL" ] || PSQL="$(pg_bindir)/psql"
psql_admin() { "$PSQL" "$TEST_DATABASE_URL" -qAtc "$1"; }
trap cleanup EXIT
psql_admin "CREATE DATABASE $DB"
target/debug/presswork migrate >/dev/null
target/debug/presswork seed --sample >/dev/null
echo "fuzzing passphrase 42" | target/debug/presswork admin create --email fuzz@example.com --username fuzzadmin --password-stdin >/dev/null

PORT="$(free_port)"
# Webhook targets are only checked for form here: whether an address is
# private is a fact about the network, tested in the API's own tests.
PRESSWORK__WORKER__WEBHOOKS_ALLOW_PRIVATE_TARGETS=true \
PRESSWORK__HTTP__ADDRESS="127.0.0.1:$PORT" PRESSWORK__HTTP__RATE_LIMIT_ANONYMOUS_PER_MIN=0 \
PRESSWORK__HTTP__RATE_LIMIT_PRINCIPAL_PER_MIN=0 OLLAMA_HOST="http://127.0.0.1:1" PRESSWORK__LOG__FILTER=warn \
    target/debug/presswork-api >".data/fuzz-api.log" 2>&1 &
API_PID=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/livez" >/dev/null 2>&1 && break; sleep 0.2; done

json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
TOKEN="$(curl -fs -X POST "http://127.0.0.1:$PORT/api/auth/login" -H 'content-type: application/json' \
    -d '{"login": "fuzzadmin", "password": "fuzzing passphrase 42"}' | json_field access_token)"
PERMS="$("$PSQL" "$DATABASE_URL" -qAtc "SELECT json_agg(name) FROM permissions")"
KEY="$(curl -fs -X POST "http://127.0.0.1:$PORT/api/auth/api-keys" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d "{\"name\": \"fuzz\", \"permissions\": $PERMS}" | json_field key)"

# The key goes in both of the document's schemes: Schemathesis fills in
# whichever header the document names with a generated value unless given,
# and a generated X-API-Key is refused (401) before the valid bearer counts,
# so operations would never be fuzzed past authentication.
log "fuzzing the API for up to ${SECONDS_BUDGET}s, ${EXAMPLES} examples per operation"
set +e
"$VENV/bin/st" --config-file scripts/fuzz/schemathesis.toml run "http://127.0.0.1:$PORT/api/openapi.json" \
    -H "Authorization: Bearer $KEY" -H "X-API-Key: $KEY" \
    --max-examples "$EXAMPLES" --max-time "$SECONDS_BUDGET" --seed "${FUZZ_SEED:-20261126}" \
    --phases coverage,fuzzing --no-color --workers 1 --generation-deterministic \
    --exclude-path-regex '^/api/(auth/(logout|change-password|sessions|2fa|github|api-keys/)|chat$|models/test|ollama/warmup|social/generate)' \
    --checks all --generation-allow-x00 false
status=$?
set -e
if [ "$status" -ne 0 ]; then
    log "API log (last lines):"
    tail -n 20 .data/fuzz-api.log >&2
fi
exit "$status"

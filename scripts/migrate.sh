#!/usr/bin/env bash
# Applies pending migrations to DATABASE_URL with our own binary (no diesel CLI).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_rust
: "${DATABASE_URL:?set DATABASE_URL (scripts/dev.sh sets it for its private cluster)}"
build_binaries -q
target/debug/presswork migrate "$@"

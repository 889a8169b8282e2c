#!/usr/bin/env bash
# fmt, clippy (-D warnings) and the dependency-layering check.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"
ensure_rust
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
scripts/check-layers.sh
scripts/check-status-literals.sh

# Shared helpers for scripts/*.sh. Source it; do not run it.
# shellcheck shell=bash

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO_ROOT

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

APT_UPDATED=0
apt_install() {
    is_root || die "missing packages: $*; install them (as root: apt-get install $*) and rerun"
    command -v apt-get >/dev/null || die "missing packages: $*; this script installs them only on Debian/Ubuntu"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# The Rust toolchain pinned in rust-toolchain.toml, through rustup.
ensure_rust() {
    if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v rustup >/dev/null; then
        command -v curl >/dev/null || apt_install curl ca-certificates
        log "installing rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none >&2 \
            || die "could not install rustup; install it from https://rustup.rs and rerun"
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    local channel
    channel="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$REPO_ROOT/rust-toolchain.toml")"
    if ! rustup toolchain list | grep -q "^$channel"; then
        log "installing Rust $channel"
        rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy >&2
    fi
    (cd "$REPO_ROOT" && rustup component list --installed 2>/dev/null | grep -q '^clippy') \
        || (cd "$REPO_ROOT" && rustup component add rustfmt clippy >&2)
    # A C compiler for the crates that build C, and make for jemalloc's
    # build (the API's allocator): an image can have gcc without make.
    { command -v cc >/dev/null && command -v make >/dev/null; } || apt_install build-essential
}

# Builds the three binaries (presswork-api, presswork-worker, presswork)
# into target/debug, the way the tests build them: `cargo test --no-run`
# over the whole workspace with all features, which also compiles the test
# targets. Every script builds this one way (dev.sh, its test, the schema
# check, the fuzz run, migrate.sh), so scripts/test.sh compiles the
# workspace once for its binaries and its tests. Cargo unifies features per
# selection of packages and targets: `-p presswork_cli` alone, then
# `-p api -p worker -p cli`, then the tests (whose dev-dependencies turn on
# more features of shared crates) were three builds of presswork_db and
# everything above it. The binaries are the same programs either way; the
# first dev.sh on a fresh checkout takes longer, the second is a no-op.
build_binaries() {
    cargo test --no-run --locked --workspace --all-features "$@"
}

# Directory holding initdb/pg_ctl/postgres, installing Debian's postgresql when absent.
pg_bindir() {
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"; return 0
    fi
    return 1
}

ensure_postgres_binaries() {
    if ! pg_bindir >/dev/null; then
        apt_install postgresql postgresql-contrib
    fi
    PG_BIN="$(pg_bindir)" || die "PostgreSQL server binaries not found after installing"
    export PG_BIN
}

# PostgreSQL refuses to run as root; as root we run it as the 'postgres' user.
pg_run() {
    if is_root; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# start_cluster DATA_DIR PORT [throwaway]: creates the cluster on first use,
# starts it listening on 127.0.0.1:PORT with its socket inside DATA_DIR.
# Sets CLUSTER_STARTED=1 only when this call started it, so a caller stops
# only a cluster it started.
start_cluster() {
    local dir="$1" port="$2" mode="${3:-}"
    mkdir -p "$dir"
    if is_root; then
        chown postgres: "$dir" 2>/dev/null || { id postgres >/dev/null 2>&1 || pg_run true; chown postgres: "$dir"; }
        runuser -u postgres -- test -w "$dir" \
            || die "PostgreSQL (running as user postgres) cannot write $dir; move the checkout somewhere it can reach, or set DATABASE_URL"
    fi
    chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
        log "creating PostgreSQL cluster in $dir"
        pg_run "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --no-instructions >/dev/null
    fi
    local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir"
    if [ "$mode" = throwaway ]; then
        opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    else
        opts="$opts -c max_connections=200"
    fi
    CLUSTER_STARTED=0
    if pg_run "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
        log "PostgreSQL already running in $dir"
    else
        CLUSTER_STARTED=1
        log "starting PostgreSQL on 127.0.0.1:$port"
        pg_run "$PG_BIN/pg_ctl" -D "$dir" -o "$opts" -l "$dir/server.log" -w -t 60 start >/dev/null \
            || { tail -20 "$dir/server.log" >&2; die "PostgreSQL did not start (log above)"; }
    fi
}

stop_cluster() {
    local dir="$1"
    pg_run "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((55000 + RANDOM % 5000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# diesel CLI, only for print-schema (the system itself never needs it).
DIESEL_CLI_VERSION=2.3.7
ensure_diesel_cli() {
    if command -v diesel >/dev/null && diesel --version 2>/dev/null | grep -q "$DIESEL_CLI_VERSION"; then
        return 0
    fi
    [ -e /usr/include/postgresql/libpq-fe.h ] || apt_install libpq-dev
    command -v pkg-config >/dev/null || apt_install pkg-config
    log "installing diesel_cli $DIESEL_CLI_VERSION (postgres only; used for the schema.rs check)"
    cargo install diesel_cli --version "$DIESEL_CLI_VERSION" --locked --no-default-features --features postgres >&2
}

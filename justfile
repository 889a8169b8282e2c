# Each recipe calls a script; the scripts are the source of truth.

# Start PostgreSQL (private cluster), the API and the worker.
dev:
    scripts/dev.sh

# Every check and test, as CI runs them.
test:
    scripts/test.sh

# fmt, clippy and the layering check only.
lint:
    scripts/lint.sh

# Benchmarks; figures go to docs/PERFORMANCE.md.
bench:
    scripts/bench.sh

# Apply pending migrations to DATABASE_URL.
migrate:
    scripts/migrate.sh

# Fuzz the API from its OpenAPI document (Schemathesis; TEST_DATABASE_URL).
fuzz:
    scripts/fuzz-api.sh

#!/usr/bin/env bash
# Fails when a crate depends on something its layer must not:
#  - a presswork crate on a presswork crate its layer may not use (the matrix
#    below, the same as docs/ARCHITECTURE.md's table; normal dependencies;
#    tests may reach higher, e.g. the worker's end-to-end tests use the API);
#  - diesel, diesel-async or deadpool outside presswork_db and the apps
#    (dev-dependencies are allowed: test-only code);
#  - presswork_domain on tokio, reqwest, actix or diesel, directly or not
#    (its optional `runtime` feature is for the binaries and pulls none of them).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$REPO_ROOT"

status=0
db_only='^(diesel|diesel-async|diesel_migrations|diesel_full_text_search|deadpool)$'
allowed='^(presswork_db|presswork_api|presswork_worker|presswork_cli)$'

metadata="$(cargo metadata --format-version 1 --no-deps --locked)"
while IFS=$'\t' read -r pkg dep kind; do
    if [[ "$dep" =~ $db_only ]] && [[ ! "$pkg" =~ $allowed ]] && [ "$kind" != dev ]; then
        echo "layering: $pkg depends on $dep; only presswork_db and the apps may" >&2
        status=1
    fi
done < <(python3 -c '
import json, sys
m = json.load(sys.stdin)
for p in m["packages"]:
    for d in p["dependencies"]:
        print(p["name"], d["name"], d["kind"] or "normal", sep="\t")
' <<<"$metadata")

# Which presswork crate may depend on which (normal dependencies).
python3 - "$metadata" <<'PY' || status=1
import json, sys
allowed = {
    "presswork_domain": set(),
    "presswork_db": {"presswork_domain"},
    "presswork_llm": {"presswork_domain"},
    "presswork_auth": {"presswork_domain", "presswork_db"},
    "presswork_pipeline": {"presswork_domain", "presswork_db", "presswork_llm"},
}
apps = {"presswork_api", "presswork_worker", "presswork_cli"}
libs = set(allowed)
for app in apps:
    allowed[app] = libs
bad = False
for p in json.loads(sys.argv[1])["packages"]:
    name = p["name"]
    if name not in allowed:
        print(f"layering: {name} is not in the crate matrix of scripts/check-layers.sh", file=sys.stderr)
        bad = True
        continue
    for d in p["dependencies"]:
        dep = d["name"]
        if dep.startswith("presswork_") and (d["kind"] or "normal") == "normal" and dep not in allowed[name]:
            print(f"layering: {name} depends on {dep}; the matrix allows {sorted(allowed[name]) or 'no presswork crate'}", file=sys.stderr)
            bad = True
sys.exit(1 if bad else 0)
PY

# Everything presswork_domain pulls in with its default features, transitively.
forbidden='^(tokio|reqwest|actix-[a-z-]+|actix|diesel|diesel-async|diesel_derives)$'
while read -r name; do
    if [[ "$name" =~ $forbidden ]]; then
        echo "layering: presswork_domain depends on $name (directly or through another crate)" >&2
        status=1
    fi
done < <(cargo tree -p presswork_domain -e normal --prefix none --format '{p}' --locked | awk '{print $1}' | sort -u)

# The same holds with the runtime feature the binaries enable.
while read -r name; do
    if [[ "$name" =~ $forbidden ]]; then
        echo "layering: presswork_domain/runtime depends on $name" >&2
        status=1
    fi
done < <(cargo tree -p presswork_domain -F runtime -e normal --prefix none --format '{p}' --locked | awk '{print $1}' | sort -u)

[ "$status" -eq 0 ] && echo "layering: ok" >&2
exit "$status"

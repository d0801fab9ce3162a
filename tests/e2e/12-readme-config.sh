#!/usr/bin/env bash
# The README's configuration table is exactly what `ees config-table` prints from the option
# declarations, so documentation and --help cannot drift apart.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "$0")/lib.sh"

sed -n '/^<!-- config-table:/,/^<!-- \/config-table -->/p' "$E2E_REPO/README.md" | sed '1d;$d' >"$E2E_DIR/readme-table.md"
[[ -s $E2E_DIR/readme-table.md ]] || fail "README.md has no config-table section"
"$EES_BIN" config-table >"$E2E_DIR/generated.md"
diff -u "$E2E_DIR/generated.md" "$E2E_DIR/readme-table.md" >"$E2E_DIR/diff.txt" \
  || fail "README configuration table is stale (regenerate with: ees config-table): $(head -20 "$E2E_DIR/diff.txt")"
log "PASS: README table matches $(wc -l <"$E2E_DIR/generated.md") generated lines"

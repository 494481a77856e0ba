#!/usr/bin/env bash
# prism-keygen as an operator uses it: key files, modes, no silent overwrite.
set -euo pipefail
K="$PRISM_BUILD_DIR/tools/prism-keygen"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

umask 000
out=$("$K" --dir "$dir" worker-1) || fail "keygen exited non-zero"
[ "$(stat -c %a "$dir/worker-1.key")" = 600 ] || fail "secret key not 0600"
[ "$(stat -c %a "$dir/worker-1.pub")" = 644 ] || fail "public key not 0644"

pub=$(sed -n 's/^public_key = //p' "$dir/worker-1.pub")
[ ${#pub} -eq 40 ] || fail "public key is not 40 Z85 characters: '$pub'"
grep -qxF "public_key = $pub" "$dir/worker-1.key" || fail "key pair differs"
grep -q '^secret_key = ' "$dir/worker-1.key" || fail "no secret in .key"
grep -q secret "$dir/worker-1.pub" && fail "secret leaked into .pub"
grep -qF "$pub" <<<"$out" || fail "public key not printed"

# A second run must not replace an identity by accident.
before=$(cat "$dir/worker-1.key")
if "$K" --dir "$dir" worker-1 2>/dev/null; then fail "overwrote without --force"; fi
[ "$(cat "$dir/worker-1.key")" = "$before" ] || fail "key changed on refusal"
"$K" --dir "$dir" --force worker-1 >/dev/null || fail "--force refused"
[ "$(cat "$dir/worker-1.key")" != "$before" ] || fail "--force kept old key"

# Names that would escape the directory are refused.
if "$K" --dir "$dir" ../escape 2>/dev/null; then fail "accepted ../escape"; fi
[ ! -e "$dir/../escape.key" ] || fail "wrote outside the directory"
if "$K" --dir "$dir/missing" w 2>/dev/null; then fail "missing dir accepted"; fi
echo "keygen: 1 passed, 0 failed"

#!/usr/bin/env bash
# prism-origin's disk spill, driven with curl: with 1 MiB of memory and a
# 3 MiB spill, 40 segments of 100 kB put one after another are all served
# byte for byte (the older ones from disk, with the ETag they had in
# memory); a spilled segment deleted is gone, and so is its file; past the
# spill's limit the oldest go (404, counted); a restart empties the
# directory of the spill files it left.
# shellcheck source=tests/e2e/lib/origin_alone.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/origin_alone.sh"
start_origin() {
    origin_start --max-bytes 1048576 --spill-dir "$tmp/spill" \
        --spill-max-bytes 3145728
}
seg() { printf 'seg_%05d.m4s' "$1"; }
etag() { curl -fsI "$base/live/s/$(seg "$1")" | tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}'; }

start_origin
mkdir -p "$tmp/src"
for i in $(seq 0 39); do
    head -c 100000 /dev/urandom >"$tmp/src/$(seg "$i")"
    curl -fs -X PUT --data-binary "@$tmp/src/$(seg "$i")" \
        "$base/live/s/$(seg "$i")" || fail "PUT $(seg "$i")"
    [ "$i" = 0 ] && etag0=$(etag 0)
done
files=$(metric prism_origin_spill_files)
echo "spilled: $files files, $(metric prism_origin_spill_bytes) bytes;" \
    "$(find "$tmp/spill" -name '*.spill' | wc -l) files in the directory"
[ "${files:-0}" -ge 25 ] || fail "only ${files:-0} files were spilled"
[ "$(find "$tmp/spill" -name '*.spill' | wc -l)" = "$files" ] ||
    fail "the directory does not hold the spilled files"
for i in $(seq 0 39); do
    curl -fs "$base/live/s/$(seg "$i")" -o "$tmp/got" ||
        fail "GET $(seg "$i") failed"
    cmp -s "$tmp/got" "$tmp/src/$(seg "$i")" || fail "$(seg "$i") came back different"
done
[ "$(etag 0)" = "$etag0" ] || fail "seg 0's ETag changed on disk"
[ "$(metric prism_origin_spill_reads_total)" -ge 25 ] || fail "few answers read from disk"
[ "$(metric prism_origin_evictions_total)" = 0 ] || fail "evictions within both limits"

# DELETE a spilled segment: gone, and its file with it.
curl -fs -X DELETE "$base/live/s/$(seg 3)" || fail "DELETE"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/live/s/$(seg 3)")" = 404 ] ||
    fail "a deleted spilled segment is still served"
[ "$(find "$tmp/spill" -name '*.spill' | wc -l)" = $((files - 1)) ] ||
    fail "the deleted segment's file stayed on disk"

# Past the spill's limit the oldest go, counted.
for i in $(seq 40 59); do
    head -c 100000 /dev/urandom >"$tmp/src/$(seg "$i")"
    curl -fs -X PUT --data-binary "@$tmp/src/$(seg "$i")" \
        "$base/live/s/$(seg "$i")" || fail "PUT $(seg "$i")"
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/live/s/$(seg 0)")" = 404 ] ||
    fail "the oldest segment outlived the spill's limit"
curl -fs "$base/live/s/$(seg 59)" | cmp -s - "$tmp/src/$(seg 59)" || fail "seg 59"
ev=$(metric prism_origin_evictions_total)
[ "${ev:-0}" -gt 0 ] || fail "nothing was evicted past the limit"
[ "$(metric prism_origin_spill_bytes)" -le 3145728 ] || fail "the spill is over its limit"

# A restart empties the directory of what this run left.
origin_stop
[ "$(find "$tmp/spill" -name '*.spill' | wc -l)" -gt 0 ] || fail "nothing left to clear"
start_origin
[ "$(find "$tmp/spill" -name '*.spill' | wc -l)" = 0 ] ||
    fail "the restarted origin left the old spill files"
echo "ok: $files files spilled and served, $ev evicted past the limit"

# Sourced by tests/e2e/lib/farm.sh: every playlist a farm test's origin
# serves goes through prism-hls-check (RFC 8216's MUST rules), each media
# playlist snapshot also against the one before it, and at the end every
# variant's BANDWIDTH, AVERAGE-BANDWIDTH and CODECS against its segments
# (sizes and durations, ffprobe's profile and level).
#
#   hls_check_start   after farm_init: a background scan of the origin's
#                     directory every 0.2 s (nginx writes each PUT to a
#                     temporary file and renames it, so a snapshot is
#                     never half written); tracked, so farm_down stops it
#   hls_check_forget CHANNEL
#                     after the test removed CHANNEL's files from the
#                     origin: its snapshots so far are not compared with
#                     what comes next (a channel's next stream, after its
#                     last one ended with EXT-X-ENDLIST, starts new
#                     playlists at the same URLs)
#   hls_check_finish  after farm_down: a last scan, the variant checks,
#                     the problems printed; returns 1 when there are any
#                     and the mode is "enforce"
#
# The one switch: PRISM_HLS_CHECK=enforce (the default: a problem fails
# the test) or report (problems are printed, the test goes on).
# Problems are in $FARM_DIR/hls-check.log as
#   WALL_S PLAYLIST:LINE: RULE: sentence
# and the snapshots that broke a rule are kept under $FARM_DIR/hls/.
# shellcheck shell=bash

hls_check_mode=${PRISM_HLS_CHECK:-enforce}
hls_check_kept=20 # failing snapshots kept per test

# hls_check_scan: one pass over the origin: each playlist changed since the
# last pass is checked.
hls_check_scan() {
    local www=$FARM_DIR/origin/www/live st=$FARM_DIR/hls bin f rel ch r
    bin=$FARM_BUILD/tools/prism-hls-check
    [ -d "$www" ] || return 0
    mkdir -p "$st"
    # "mtime path" of every playlist; the changed ones since the last pass.
    find "$www" -name '*.m3u8' -printf '%T@ %p\n' 2>/dev/null | sort >"$st/now"
    touch "$st/seen"
    comm -23 "$st/now" "$st/seen" | sort -k2 |
        while read -r _ f; do
            rel=${f#"$www"/}
            case $rel in
            */master.m3u8) hls_check_one "$bin" "$f" "$rel" "" ;;
            */*/index.m3u8)
                ch=${rel%%/*}
                r=${rel#*/}
                r=${r%/index.m3u8}
                hls_check_one "$bin" "$f" "$rel" "$st/$ch/$r"
                ;;
            *) hls_check_one "$bin" "$f" "$rel" "" ;;
            esac
        done
    mv "$st/now" "$st/seen"
}

# hls_check_one BIN FILE NAME [STATE]: checks one snapshot; with STATE (a
# path prefix per media playlist), against the previous snapshot, and
# records the size and duration of each new segment and the codecs of the
# first one.
hls_check_one() {
    local bin=$1 f=$2 name=$3 s=$4 cur out prev=() kept
    mkdir -p "$FARM_DIR/hls/tmp"
    cur=$(mktemp "$FARM_DIR/hls/tmp/snap.XXXXXX")
    cp "$f" "$cur" 2>/dev/null || {
        rm -f "$cur"
        return 0
    }
    if [ -n "$s" ]; then
        mkdir -p "$(dirname "$s")"
        [ -f "$s.prev" ] && prev=(--prev "$s.prev")
    fi
    out=$("$bin" "${prev[@]}" "$cur" 2>&1)
    case $? in
    0) ;;
    1)
        kept=$(find "$FARM_DIR/hls" -name '*.bad.m3u8' | wc -l)
        if [ "$kept" -lt "$hls_check_kept" ]; then
            cp "$cur" "$FARM_DIR/hls/$(echo "$name" | tr / _).$kept.bad.m3u8"
            [ -n "$s" ] && [ -f "$s.prev" ] &&
                cp "$s.prev" "$FARM_DIR/hls/$(echo "$name" | tr / _).$kept.prev.m3u8"
        fi
        echo "$out" | sed "s|^$cur|$(date +%s.%N) $name|" >>"$FARM_DIR/hls-check.log"
        ;;
    *) echo "$(date +%s.%N) $name:0: checker: $out" >>"$FARM_DIR/hls-check.log" ;;
    esac
    if [ -n "$s" ]; then
        hls_check_segments "$f" "$cur" "$s"
        mv "$cur" "$s.prev"
    else
        mv "$cur" "$(dirname "$f" | sed "s|^$FARM_DIR/origin/www/live|$FARM_DIR/hls|").master.m3u8" 2>/dev/null ||
            rm -f "$cur"
    fi
}

# hls_check_segments FILE SNAPSHOT STATE: "msn duration bytes" of each
# segment not seen before into STATE.sizes (the origin's file sizes);
# ffprobe's codecs of the first segment into STATE.probe.
hls_check_segments() {
    local dirf last msn dur uri bytes
    dirf=$(dirname "$1")
    last=$(tail -n 1 "$3.sizes" 2>/dev/null | cut -d' ' -f1)
    awk -F: '/^#EXT-X-MEDIA-SEQUENCE:/ {s = $2 + 0}
             /^#EXTINF:/ {split($2, a, ","); d = a[1]; next}
             /^[^#]/ && d != "" {print s + n, d, $0; n++; d = ""}' "$2" |
        while read -r msn dur uri; do
            [ -n "$last" ] && [ "$msn" -le "$last" ] && continue
            bytes=$(stat -c %s "$dirf/$uri" 2>/dev/null) || continue
            echo "$msn $dur $bytes" >>"$3.sizes"
            [ -f "$3.probe" ] || hls_check_probe "$dirf/$uri" >"$3.probe"
        done
}

# hls_check_probe SEGMENT: "VIDEO_PROFILE:LEVEL|none;AUDIO_PROFILE|none"
# (profile names have spaces: "Constrained Baseline").
hls_check_probe() {
    local v=none a=none line
    while IFS='|' read -r -a line; do
        declare -A kv=()
        local x
        for x in "${line[@]}"; do kv[${x%%=*}]=${x#*=}; done
        case ${kv[codec_type]:-} in
        video) [ "${kv[codec_name]}" = h264 ] && v="${kv[profile]}:${kv[level]}" ||
            v="${kv[codec_name]}:${kv[level]}" ;;
        audio) a=${kv[profile]} ;;
        esac
    done < <(ffprobe -v error -show_entries stream=codec_type,codec_name,profile,level \
        -of compact=p=0 "$1" 2>/dev/null)
    echo "$v;$a"
}

hls_check_start() {
    (
        set +e +o pipefail
        # Also ends by itself with the test's shell ($$), should that
        # leave without farm_down.
        n=0
        mkdir -p "$FARM_DIR/hls"
        while kill -0 $$ 2>/dev/null; do
            hls_check_scan
            echo $((++n)) >"$FARM_DIR/hls/passes" # for hls_check_forget
            sleep 0.2
        done
    ) &
    farm_track $! hls-check
}

# hls_check_forget CHANNEL: see the top. Waits until a whole scan has
# passed over the origin without CHANNEL's files (two passes ended: the
# one under way may have listed them), at most 10 s, then drops its state.
hls_check_forget() {
    local f=${FARM_DIR:?}/hls/passes from _
    from=$(cat "$f" 2>/dev/null || echo 0)
    for _ in $(seq 100); do
        [ "$(cat "$f" 2>/dev/null || echo 0)" -ge $((from + 2)) ] && break
        sleep 0.1
    done
    rm -rf "${FARM_DIR:?}/hls/${1:?}"
}

# hls_check_variants: each variant of each master seen, against what its
# segments measured.
hls_check_variants() {
    local m ch uri r sizes peak avg video audio out td
    for m in "$FARM_DIR"/hls/*.master.m3u8; do
        [ -f "$m" ] || continue
        ch=$(basename "$m" .master.m3u8)
        grep -v '^#' "$m" | grep . | while read -r uri; do
            r=${uri%/index.m3u8}
            sizes=$FARM_DIR/hls/$ch/$r.sizes
            [ -s "$sizes" ] || continue
            # The peak segment bit rate as RFC 8216 defines it (section 4:
            # the largest bit rate of any run of consecutive segments
            # lasting 0.5 to 1.5 target durations, its bytes over its
            # seconds; a lone 0.27 s segment at a hand-over is not a run),
            # and the average bit rate over every segment seen.
            td=$(sed -n 's/^#EXT-X-TARGETDURATION://p' "$FARM_DIR/hls/$ch/$r.prev" 2>/dev/null)
            read -r peak avg < <(awk -v T="${td:-2}" '$2 > 0 {n++; q[n] = $1; d[n] = $2; b[n] = $3; s += $3 * 8; t += $2}
                END {
                    for (i = 1; i <= n; i++) {
                        bits = 0; sec = 0
                        for (j = i; j <= n; j++) {
                            if (j > i && q[j] != q[j - 1] + 1) break # a segment not seen
                            bits += b[j] * 8; sec += d[j]
                            if (sec > 1.5 * T) break
                            if (sec >= 0.5 * T && bits / sec > p) p = bits / sec
                        }
                    }
                    printf "%.0f %.0f\n", p, t ? s / t : 0
                }' "$sizes")
            IFS=';' read -r video audio <"$FARM_DIR/hls/$ch/$r.probe" || video=
            # AVERAGE-BANDWIDTH is measured only once the stream has ended
            # (its playlist has EXT-X-ENDLIST and the worker wrote the
            # final master); a live master's is the worker's estimate.
            local avgopt=(--average "$avg")
            grep -q '^#EXT-X-ENDLIST' "$FARM_DIR/hls/$ch/$r.prev" 2>/dev/null || avgopt=()
            out=$("$FARM_BUILD/tools/prism-hls-check" --variant "$uri" --peak "$peak" \
                "${avgopt[@]}" ${video:+--video "$video"} ${audio:+--audio "$audio"} "$m" 2>&1) ||
                echo "$out" | sed "s|^$m|$(date +%s.%N) $ch/master.m3u8|" >>"$FARM_DIR/hls-check.log"
        done
    done
}

hls_check_finish() {
    local -
    set +e +o pipefail
    [ -n "${FARM_DIR:-}" ] && [ -d "$FARM_DIR" ] || return 0
    hls_check_scan
    hls_check_variants
    local n
    n=0
    [ -f "$FARM_DIR/hls-check.log" ] && n=$(wc -l <"$FARM_DIR/hls-check.log")
    if [ "$n" -eq 0 ]; then
        echo "hls-check: every playlist snapshot follows RFC 8216"
        return 0
    fi
    echo "hls-check ($hls_check_mode): $n problems; by rule:" >&2
    awk '{print $3}' "$FARM_DIR/hls-check.log" | sort | uniq -c | sort -rn >&2
    awk '!seen[$3]++' "$FARM_DIR/hls-check.log" | cut -d' ' -f2- >&2
    local bad
    bad=$(find "$FARM_DIR/hls" -name '*.0.bad.m3u8' | head -n 1)
    [ -n "$bad" ] && {
        echo "--- the first snapshot that broke a rule ($(basename "$bad")):" >&2
        head -n 30 "$bad" >&2
    }
    [ "$hls_check_mode" != enforce ]
}

# hls_check_tree DIR: every playlist under DIR (a standalone transcode's
# output) against RFC 8216's rules for one snapshot; prints the problems
# and returns 1 when there is one. Needs PRISM_BUILD_DIR.
hls_check_tree() {
    local f out bad=0
    while IFS= read -r f; do
        out=$("$PRISM_BUILD_DIR/tools/prism-hls-check" "$f" 2>&1) || {
            echo "$out" >&2
            bad=1
        }
    done < <(find "$1" -name '*.m3u8' | sort)
    return "$bad"
}

#!/usr/bin/env bash
# Output by HTTP PUT to an origin (nginx with WebDAV on loopback): the
# playlists, segments and thumbnail land on the origin and ffmpeg plays the
# master from it.
set -euo pipefail
worker=${PRISM_BUILD_DIR:?}/worker/prism-worker
tmp=$(mktemp -d)
fail() {
    echo "FAIL: $*" >&2
    [ -f "$tmp/error.log" ] && cat "$tmp/error.log" >&2
    exit 1
}
command -v nginx >/dev/null || fail "nginx is not installed"
port=$((20000 + RANDOM % 20000))
mkdir -p "$tmp/www" "$tmp/logs"
cat >"$tmp/nginx.conf" <<CONF
daemon off;
master_process off;
pid $tmp/nginx.pid;
error_log $tmp/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    proxy_temp_path $tmp/proxy;
    fastcgi_temp_path $tmp/fastcgi;
    uwsgi_temp_path $tmp/uwsgi;
    scgi_temp_path $tmp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
        client_max_body_size 64m;
        location / {
            dav_methods PUT DELETE;
            create_full_put_path on;
        }
    }
}
CONF
nginx -p "$tmp" -c "$tmp/nginx.conf" &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null; wait $nginx_pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
done

ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=s=640x360:r=30:d=4" -f lavfi -i "sine=d=4" \
    -c:v libx264 -preset ultrafast -g 60 -c:a aac -shortest "$tmp/src.ts"
"$worker" transcode -i "$tmp/src.ts" -o "http://127.0.0.1:$port/live/ch1" \
    --backend software --preset ultrafast --vod --thumbnail 1 \
    2>"$tmp/log" || {
    cat "$tmp/log"
    fail "transcode to the origin exited non-zero"
}
www=$tmp/www/live/ch1
for f in master.m3u8 thumb.jpg source/index.m3u8 360p30/index.m3u8 \
    160p30/index.m3u8 360p30/seg_00000.ts 360p30/seg_00001.ts; do
    [ -s "$www/$f" ] || fail "the origin has no $f"
done
grep -q 'NAME="360p30"' "$www/master.m3u8" || fail "master lacks 360p30"
ffmpeg -hide_banner -loglevel error \
    -i "http://127.0.0.1:$port/live/ch1/master.m3u8" -map 0 -f null - ||
    fail "ffmpeg cannot play the master from the origin"

# An origin that refuses writes: one error line, non-zero exit.
rc=0
"$worker" transcode -i "$tmp/src.ts" -o "http://127.0.0.1:1/nowhere" \
    --backend software --preset ultrafast 2>"$tmp/log2" || rc=$?
[ "$rc" -ne 0 ] || fail "an unreachable origin gave exit status 0"
[ "$(grep -c 'level=error' "$tmp/log2")" = 1 ] || {
    cat "$tmp/log2"
    fail "an unreachable origin should give one error line"
}
grep 'level=error' "$tmp/log2"
echo PASS

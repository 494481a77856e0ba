#!/usr/bin/env python3
"""Rebuilds the small seed corpus of the fuzz targets.

Usage: make_seeds.py PRISM_INGEST_BINARY CLIP.flv

Captures what ffmpeg sends when it publishes CLIP to a real prism-ingest
(through a recording TCP proxy), and writes hand-made AMF0 and FLV seeds,
including Enhanced RTMP (hvc1, av01) bodies.
"""
import os
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAP = 24 * 1024


def write(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def amf_str(s):
    b = s.encode()
    return b"\x02" + struct.pack(">H", len(b)) + b


def amf_num(v):
    return b"\x00" + struct.pack(">d", v)


def amf_obj(pairs, marker=b"\x03"):
    out = marker
    if marker == b"\x08":
        out += struct.pack(">I", len(pairs))
    for k, v in pairs:
        out += struct.pack(">H", len(k)) + k.encode() + v
    return out + b"\x00\x00\x09"


def capture(binary, clip):
    ingest_port, proxy_port = 19391, 19392
    srv = subprocess.Popen([binary, "--rtmp-listen", f"127.0.0.1:{ingest_port}",
                            "--srt-listen", "", "--media-bind",
                            "tcp://127.0.0.1:19393", "--log-level", "error"])
    time.sleep(0.5)
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", proxy_port))
    lst.listen(1)
    got = bytearray()

    def proxy():
        c, _ = lst.accept()
        s = socket.create_connection(("127.0.0.1", ingest_port))

        def back():
            try:
                while True:
                    b = s.recv(65536)
                    if not b:
                        break
                    c.sendall(b)
            except OSError:
                pass
        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                if len(got) < CAP:
                    got.extend(b[: CAP - len(got)])
                s.sendall(b)
        except OSError:
            pass
        s.close()
        c.close()

    t = threading.Thread(target=proxy, daemon=True)
    t.start()
    subprocess.run(["ffmpeg", "-loglevel", "error", "-re", "-i", clip, "-t",
                    "1", "-c", "copy", "-f", "flv",
                    f"rtmp://127.0.0.1:{proxy_port}/live/seedkey"], check=True)
    t.join(2)
    srv.terminate()
    srv.wait()
    return bytes(got)


def main():
    binary, clip = sys.argv[1], sys.argv[2]
    session = capture(binary, clip)
    write("rtmp", "ffmpeg_publish", session)
    write("rtmp", "ffmpeg_publish_head", session[:6000])

    connect = (amf_str("connect") + amf_num(1) +
               amf_obj([("app", amf_str("live")),
                        ("flashVer", amf_str("FMLE/3.0")),
                        ("tcUrl", amf_str("rtmp://h/live")),
                        ("fourCcList", b"\x0a\x00\x00\x00\x02" +
                         amf_str("hvc1") + amf_str("av01"))]))
    write("amf0", "connect", connect)
    meta = (amf_str("@setDataFrame") + amf_str("onMetaData") +
            amf_obj([("width", amf_num(320)), ("height", amf_num(240)),
                     ("framerate", amf_num(30)), ("stereo", b"\x01\x01"),
                     ("encoder", amf_str("Lavf59")),
                     ("nested", amf_obj([("a", b"\x05"), ("d",
                      b"\x0b" + struct.pack(">d", 1.0) + b"\x00\x00")]))],
                    marker=b"\x08"))
    write("amf0", "metadata", meta)
    write("amf0", "publish", amf_str("publish") + amf_num(4) + b"\x05" +
          amf_str("key") + amf_str("live") + b"\x0c\x00\x00\x00\x01x")

    with open(clip, "rb") as f:
        write("flv", "clip_head", f.read(8192))
    avc_seq = bytes([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x0d, 0xff, 0xe1, 0, 4,
                     0x67, 0x64, 0, 0x0d, 1, 0, 4, 0x68, 0xee, 0x3c, 0x80])
    write("flv", "avc_seq", avc_seq)
    write("flv", "avc_frame", bytes([0x27, 1, 0, 0, 0x21, 0, 0, 0, 2, 0x41,
                                     0x9a]))
    write("flv", "hevc_seq_ex", bytes([0x90]) + b"hvc1" + bytes([1] + [0] * 22))
    write("flv", "hevc_frame_ex", bytes([0x91]) + b"hvc1" + bytes(
        [0, 0, 0x21, 0, 0, 0, 3, 0x26, 1, 0xaf]))
    write("flv", "av1_frame_x", bytes([0x93]) + b"av01" + bytes([0x12, 0,
                                                                  0x0a, 0x0b]))
    write("flv", "aac_asc", bytes([0xaf, 0, 0x12, 0x10]))
    write("flv", "aac_raw", bytes([0xaf, 1, 0x21, 0x10, 0x04]))
    write("flv", "mp3", bytes([0x2f, 0xff, 0xfb, 0x90, 0x64]))


if __name__ == "__main__":
    main()

